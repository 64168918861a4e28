"""Paging and escalation end to end: the on-call person is paged, nobody answers, the next level is paged,
and an Acknowledge click stops it; all of it on the timeline, in order."""
from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiosqlite

from bot.config import load_config
from tests.conftest import World, eventually, start_bot_process
from tests.e2e.test_alerts import Monitoring, incidents
from tests.e2e.test_playbooks import alert

ONCALL = """
alerts:
  channels: [alerts]
  rules:
    - {name: page, match: {severity: critical}, action: open_incident}
oncall:
  schedules:
    - name: primary
      timezone: Europe/Berlin
      layers:
        - {users: ["@alice"], shift: weekly, handoff: "mon 09:00", start: 2026-01-05}
        - {users: ["@bob"], shift: weekly, handoff: "mon 09:00", start: 2026-01-05}
    - name: support
      timezone: UTC
      layers:
        - {users: ["@carol"], shift: daily, handoff: "08:00", start: 2026-01-05}
  escalation:
    - {to: "schedule:primary"}
    - {to: "schedule:primary:2", after: 2s}
    - {to: channel, after: 1h}
http:
  listen: 127.0.0.1:0
"""


PLAYBOOK = """
name: outage
applies_to: {rules: [page]}
invite: {oncall: [support]}
"""


def paging_config(world: World, tmp_path):
    (tmp_path / "playbooks").mkdir(exist_ok=True)
    (tmp_path / "playbooks" / "outage.yaml").write_text(PLAYBOOK)
    path = world.config_file(tmp_path)
    text = path.read_text().replace("alerts:\n  channels: [alerts]\n", "")
    text = text.replace(f"dir: {Path(__file__).resolve().parents[2] / 'playbooks'}", "dir: playbooks")
    path.write_text(text + ONCALL)
    return path


async def timeline(tmp_path) -> list[tuple[str, str]]:
    async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
        return await (await db.execute(
            "SELECT kind, text FROM timeline WHERE incident_id = 1 AND kind IN "
            "('paged', 'escalated', 'acknowledged', 'escalation_stopped') ORDER BY id")).fetchall()


def pages_for(world: World, user: dict) -> list[dict]:
    dm = world.direct_channel(user, world.bot)
    return [p for p in world.bot_posts(dm["id"]) if ":pager: You are paged for **INC-1" in p["message"]]


async def test_nobody_acks_so_the_secondary_is_paged_and_acks_with_the_button(world, run_bot, tmp_path):
    config = load_config(paging_config(world, tmp_path), {"TEST_BOT_TOKEN": world.bot_token})
    await run_bot(config)
    answer = world.say(world.carol, world.town, "@incident-bot oncall")
    (reply,) = await eventually(lambda: world.replies_to(answer))
    assert "**primary**: Primary @alice, Secondary @bob" in reply["message"]
    assert "**support**: Primary @carol" in reply["message"]

    await Monitoring(world).send(alert())
    (page,) = await eventually(lambda: pages_for(world, world.alice))
    [(_, _, _, _, channel_id)] = await incidents(tmp_path)
    assert world.alice["id"] in world.sandbox.channel_members(channel_id)
    assert pages_for(world, world.bob) == []
    await eventually(lambda: world.carol["id"] in world.sandbox.channel_members(channel_id))  # the playbook's on-call
    await eventually(lambda: "| @alice |" in world.sandbox.pinned(channel_id)[0]["message"])  # commands, being first

    (bob_page,) = await eventually(lambda: pages_for(world, world.bob), timeout=6)
    assert world.bob["id"] in world.sandbox.channel_members(channel_id)
    button = bob_page["props"]["attachments"][0]["actions"][0]
    await world.sandbox.click(world.bob["id"], bob_page["id"], button["id"])
    await eventually(lambda: [p for p in world.bot_posts(channel_id) if "@bob acknowledged **INC-1**" in p["message"]])

    await asyncio.sleep(0.5)
    assert [kind for kind, _ in await timeline(tmp_path)] == ["paged", "escalated", "acknowledged",
                                                              "escalation_stopped"]
    paged, escalated = (text for _, text in (await timeline(tmp_path))[:2])
    assert paged == "level 1: @alice (primary on call for primary)"
    assert escalated == "level 2: @bob (secondary on call for primary)"
    assert not [p for p in world.bot_posts(world.alerts["id"]) if "@channel" in p["message"]]

    taking = world.say(world.carol, world.town, "@incident-bot oncall override @carol 2h")
    (reply,) = await eventually(lambda: world.replies_to(taking))
    assert "@carol is on call for **primary**" in reply["message"]
    answer = world.say(world.carol, world.town, "@incident-bot oncall primary")
    (reply,) = await eventually(lambda: world.replies_to(answer))
    assert "Primary @carol, Secondary @bob" in reply["message"]


async def test_a_restart_mid_escalation_still_pages_the_next_level_once(world, tmp_path):
    config = paging_config(world, tmp_path)
    process = await start_bot_process(world, tmp_path, config)
    try:
        await eventually(lambda: world.bot_is_online(), timeout=20)
        await Monitoring(world).send(alert())
        await eventually(lambda: pages_for(world, world.alice), timeout=20)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        process = await start_bot_process(world, tmp_path, config)
        await eventually(lambda: pages_for(world, world.bob), timeout=20)
        await asyncio.sleep(1.5)
        assert len(pages_for(world, world.alice)) == 1 and len(pages_for(world, world.bob)) == 1
        assert [kind for kind, _ in await timeline(tmp_path)] == ["paged", "escalated"]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 10)


LIMITS = """
alerts:
  channels: [alerts]
  rules:
    - {name: page, match: {severity: critical}, action: open_incident, group_by: [alertname]}
oncall:
  schedules:
    - name: primary
      timezone: UTC
      layers:
        - {users: ["@alice"], shift: daily, handoff: "09:00", start: 2026-01-05}
  escalation:
    - {to: "schedule:primary"}
  policies:
    - name: database
      match: {labels: {namespace: db}}
      levels: [{to: "@carol"}]
  page_limit: {count: 1, per: 2s}
"""


async def test_policies_by_label_and_a_page_limit_with_a_summary(world, run_bot, tmp_path):
    path = world.config_file(tmp_path)
    path.write_text(path.read_text().replace("alerts:\n  channels: [alerts]\n", "") + LIMITS)
    await run_bot(load_config(path, {"TEST_BOT_TOKEN": world.bot_token}))
    monitoring = Monitoring(world)

    def posts_to(user: dict, text: str) -> list[dict]:
        dm = world.direct_channel(user, world.bot)
        return [p for p in world.bot_posts(dm["id"]) if text in p["message"]]

    await monitoring.send(named_alert("DatabaseDown", "db"))      # the database policy: carol, not alice
    await eventually(lambda: posts_to(world.carol, "You are paged for **INC-1"))
    await monitoring.send(named_alert("CheckoutDown", "payments"))
    await eventually(lambda: posts_to(world.alice, "You are paged for **INC-2"))
    assert posts_to(world.alice, "INC-1") == []
    await monitoring.send(named_alert("CartDown", "payments"))    # a third incident within 2 s: alice is held
    await eventually(lambda: posts_to(world.alice, "1 more incident(s) wanted you"), timeout=6)
    assert posts_to(world.alice, "You are paged for **INC-3") == []
    await eventually(lambda: "| @alice |" in world.sandbox.pinned(_channel_of(world, "inc-2-"))[0]["message"])


def named_alert(name: str, namespace: str) -> dict:
    payload = alert(namespace)
    attachment = payload["attachments"][0]
    payload["attachments"] = [dict(attachment, title=f"[FIRING:1] {name} (critical)",
                                   text=attachment["text"].replace("CheckoutDown", name))]
    return payload


def _channel_of(world: World, prefix: str) -> str:
    """The id of the channel whose name starts with `prefix` (an incident channel)."""
    state = world.sandbox.core.state
    return next(c["id"] for c in state.channels.values() if c["name"].startswith(prefix))


async def test_a_person_on_do_not_disturb_is_skipped_and_the_next_level_paged_at_once(world, run_bot, tmp_path):
    path = paging_config(world, tmp_path)
    path.write_text(path.read_text().replace("  escalation:\n", "  skip_unavailable: true\n  escalation:\n", 1))
    world.sandbox.set_status(world.alice["id"], "dnd")
    world.sandbox.set_status(world.bob["id"], "online")
    await run_bot(load_config(path, {"TEST_BOT_TOKEN": world.bot_token}))
    await Monitoring(world).send(alert())
    await eventually(lambda: pages_for(world, world.bob), timeout=5)    # not after 2 s: alice could not be paged
    assert pages_for(world, world.alice) == []
    async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
        rows = await (await db.execute("SELECT text FROM timeline WHERE kind = 'page_skipped'")).fetchall()
    assert rows == [("@alice is dnd",)]
