"""Outages, reconnects, rate limits and crashes: the bot recovers and handles every post exactly once."""
from __future__ import annotations

import asyncio
import signal

import aiosqlite
import pytest

from bot.incidents.service import channel_name
from tests.conftest import eventually, start_bot_process
from tests.e2e.test_incident_lifecycle import TITLE, command_and_reply, open_incident


@pytest.mark.parametrize("forget", [False, True], ids=["resumed", "server-forgot-the-connection"])
async def test_a_post_made_while_the_websocket_is_down_is_handled_exactly_once(world, run_bot, forget):
    runner = await run_bot(backoff_initial=0.6, backoff_max=0.6)
    listener = runner.bot.listener
    connects = listener.connects
    world.sandbox.drop_websockets(user_id=world.bot["id"], forget=forget)
    await eventually(lambda: not listener.connected.is_set(), timeout=5)
    command = world.say(world.alice, world.town, "@incident-bot help")   # arrives while the bot is disconnected

    await eventually(lambda: listener.connects > connects and listener.connected.is_set())
    (reply,) = await eventually(lambda: world.replies_to(command))
    assert "incident-bot commands" in reply["message"]
    await asyncio.sleep(1.0)   # a duplicate would show up by now
    assert len(world.replies_to(command)) == 1


async def test_the_flow_completes_under_the_servers_rate_limit(world, run_bot):
    world.sandbox.set_rate_limit(True, per_sec=4, burst=3)
    await run_bot()
    _, channel = await open_incident(world)
    reply = await command_and_reply(world, world.alice, channel, "@incident-bot ack")
    assert "acknowledged" in reply["message"]
    statuses = [status for _, _, status in world.sandbox.request_log]
    assert 429 in statuses, "the test should have made the server refuse something"
    assert len(world.sandbox.pinned(channel["id"])) == 1
    assert len(world.bot_posts(world.town["id"])) == 1


async def test_mattermost_errors_during_setup_are_finished_later_without_repeats(world, run_bot):
    runner = await run_bot()
    world.sandbox.fail_next(50, status=503, path_prefix="/api/v4/posts/")   # pin (and patch) fail for a while
    command = world.say(world.alice, world.town, f"@incident-bot start {TITLE} sev1")
    channel = await eventually(lambda: world.sandbox.channel_by_name(world.team["id"], channel_name("inc", 1, TITLE)))
    (error,) = await eventually(lambda: world.replies_to(command), timeout=20)
    assert "could not finish `start`" in error["message"]
    assert world.sandbox.pinned(channel["id"]) == []

    world.sandbox.fail_next(0)
    world.sandbox.drop_websockets(user_id=world.bot["id"], forget=True)   # a reconnect retries unfinished setups
    await eventually(lambda: world.sandbox.pinned(channel["id"]), timeout=10)
    await eventually(lambda: len(world.replies_to(command)) == 2)
    headers = [p for p in world.bot_posts(channel["id"]) if "INC-1" in p["message"]]
    assert len(headers) == 1
    assert len([c for c in world.sandbox.channel_members(channel["id"]) if c == world.alice["id"]]) == 1
    await runner.stop()


async def test_killed_with_sigkill_and_restarted_the_bot_keeps_its_incidents(world, tmp_path):
    process = await start_bot_process(world, tmp_path)
    try:
        await eventually(lambda: world.bot["id"] in world.sandbox.channel_members(world.alerts["id"]), timeout=20)
        await eventually(lambda: world.bot_is_online(), timeout=20)
        command, channel = await open_incident(world)
        process.send_signal(signal.SIGKILL)
        await process.wait()

        # Said while the bot was dead: handled once it is back.
        ack = world.say(world.alice, channel, "@incident-bot ack")
        process = await start_bot_process(world, tmp_path)
        reply = await eventually(lambda: [p for p in world.bot_posts(channel["id"]) if "@alice acknowledged" in p["message"]],
                                 timeout=20)
        assert len(reply) == 1
        await eventually(lambda: world.bot_is_online(), timeout=20)
        timeline = await command_and_reply(world, world.alice, channel, "@incident-bot timeline")
        assert "Incident opened" in timeline["message"] and "Acknowledged" in timeline["message"]

        # Nothing from before the crash was done twice.
        assert len(world.replies_to(command)) == 1
        assert len(world.sandbox.pinned(channel["id"])) == 1
        assert world.sandbox.channel_by_name(world.team["id"], channel_name("inc", 2, TITLE)) is None
        assert len([p for p in world.bot_posts(channel["id"]) if "@alice acknowledged" in p["message"]]) == 1
        assert ack["id"]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 10)
    async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
        (count,) = await (await db.execute("SELECT COUNT(*) FROM incidents")).fetchone()
    assert count == 1
