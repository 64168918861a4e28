"""Reports from chat and the command line: numbers computed from the timeline equal hand-computed ones."""
from __future__ import annotations

import struct

from bot.clock import FakeClock
from tests.conftest import World, eventually
from tests.e2e.test_cli import run_cli
from tests.e2e.test_incident_lifecycle import command_and_reply


async def seed(world: World, clock: FakeClock) -> None:
    """Two incidents: sev2 acked after 2m and resolved after 30m; sev3 acked after 10m and resolved after 50m."""
    for title, severity, ack_after, resolve_after in (("Checkout down", "sev2", 120, 1800),
                                                      ("Search slow", "sev3", 600, 3000)):
        command = world.say(world.alice, world.town, f"@incident-bot start {title} {severity}")
        await eventually(lambda: world.replies_to(command))
        channel = [c for c in world.sandbox.core.state.channels.values()
                   if c["display_name"].endswith(title)][0]
        clock.advance(ack_after)
        await command_and_reply(world, world.alice, channel, "@incident-bot ack")
        clock.advance(resolve_after - ack_after)
        await command_and_reply(world, world.alice, channel, "@incident-bot resolve done")
        clock.advance(3600)


async def test_the_report_in_chat_has_the_hand_computed_numbers_and_a_real_png(world, run_bot, tmp_path):
    clock = FakeClock(start_ms=world.sandbox.core.state.users[world.alice["id"]]["create_at"] - 86_400_000)  # a day ago
    await run_bot(clock=clock)
    await seed(world, clock)
    request = world.say(world.alice, world.town, "@incident-bot report 7d")
    (reply,) = await eventually(lambda: world.replies_to(request))
    table = reply["message"]
    # MTTA: sev2 2m, sev3 10m, all: mean 6m, median 6m. MTTR: 30m and 50m, all: mean 40m.
    assert "| SEV2 | 1 | 0 | 2m 00s / 2m 00s | 30m 00s / 30m 00s |" in table
    assert "| SEV3 | 1 | 0 | 10m 00s / 10m 00s | 50m 00s / 50m 00s |" in table
    assert "| **All** | 2 | 0 | 6m 00s / 6m 00s | 40m 00s / 40m 00s |" in table
    assert "Slowest to resolve:\n- INC-2 Search slow (SEV3): resolved after 50m 00s" in table
    names = {world.sandbox.core.state.files[f]["name"]: f for f in reply["file_ids"]}
    png = world.sandbox.core.state.file_data[names["incident-report.png"]]
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (800, 400)
    assert "incident-report.csv" in names

    code, out, _ = await run_cli("report", "--config", str(world.config_file(tmp_path)), "--period", "7d",
                                 "--png", str(tmp_path / "r.png"), env={"TEST_BOT_TOKEN": "unused"})
    assert code == 0 and "| **All** | 2 | 0 | 6m 00s / 6m 00s | 40m 00s / 40m 00s |" in out
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
