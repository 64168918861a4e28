"""Roles and permissions from chat, end to end: who may resolve, change severity or hand out roles."""
from __future__ import annotations

import asyncio

import aiosqlite

from bot.config import load_config
from tests.conftest import World, eventually
from tests.e2e.test_incident_lifecycle import command_and_reply, open_incident

POLICY = """
permissions:
  update: [commander, "group:sre"]
  resolve: [commander, "@bob"]
  severity: commander
  roles: commander
"""


def people_config(world: World, tmp_path):
    path = world.config_file(tmp_path)
    path.write_text(path.read_text() + POLICY)
    return load_config(path, {"TEST_BOT_TOKEN": world.bot_token})


async def test_roles_hand_offs_and_refusals(world, run_bot, tmp_path):
    await run_bot(people_config(world, tmp_path))
    _, channel = await open_incident(world)
    for user in (world.bob, world.carol):
        world.sandbox.add_channel_member(channel["id"], user["id"])

    world.sandbox.create_group("sre", "SRE", [world.bob["id"]])
    refused = await command_and_reply(world, world.carol, channel, "@incident-bot update checking")
    assert "Only the commander or members of sre may" in refused["message"]
    allowed = await command_and_reply(world, world.bob, channel, "@incident-bot update checking the database")
    assert "Status update" in allowed["message"], "bob is in the sre group"
    refused = await command_and_reply(world, world.carol, channel, "@incident-bot resolve done")
    assert refused["message"] == (":no_entry_sign: Only the commander or @bob may resolve INC-1; "
                                  "you are none of these.")
    refused = await command_and_reply(world, world.carol, channel, "@incident-bot assign scribe @carol")
    assert "Only the commander may" in refused["message"]

    reply = await command_and_reply(world, world.alice, channel, "@incident-bot assign scribe @carol")
    assert "@carol is now the scribe of INC-1" in reply["message"]
    await eventually(lambda: "Scribe: @carol" in world.sandbox.pinned(channel["id"])[0]["message"])
    reply = await command_and_reply(world, world.alice, channel, "@incident-bot assign comander @bob")
    assert "There is no role 'comander' (did you mean 'commander'?)" in reply["message"]
    reply = await command_and_reply(world, world.alice, channel, "@incident-bot assign commander @bob")
    assert "@bob is now the commander of INC-1 (taking over from @alice)" in reply["message"]
    await eventually(lambda: "| @bob |" in world.sandbox.pinned(channel["id"])[0]["message"])
    header = world.sandbox.channel_by_name(world.team["id"], channel["name"])["header"]
    assert header == "INC-1 · SEV2 · Commander @bob · Scribe @carol"

    refused = await command_and_reply(world, world.alice, channel, "@incident-bot severity sev1")
    assert "Only the commander may change the severity of INC-1" in refused["message"]
    reply = await command_and_reply(world, world.bob, channel, "@incident-bot severity sev1")
    assert "changed INC-1 to **SEV1**" in reply["message"]
    await eventually(lambda: "**SEV1**" in world.sandbox.pinned(channel["id"])[0]["message"])
    reply = await command_and_reply(world, world.bob, channel, "@incident-bot roles")
    assert "**Commander**: @bob" in reply["message"] and "**Scribe**: @carol" in reply["message"]
    reply = await command_and_reply(world, world.bob, channel, "@incident-bot resolve fixed")
    assert "@bob resolved **INC-1**" in reply["message"]

    async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
        rows = await (await db.execute(
            "SELECT kind, text FROM timeline WHERE incident_id = 1 AND kind IN ('role_assigned', 'severity_changed') "
            "ORDER BY id")).fetchall()
    assert rows == [("role_assigned", "Scribe: @carol"), ("role_assigned", "Commander: @bob (was @alice)"),
                    ("severity_changed", "SEV2 → SEV1")]


INFORMED = """
name: informed
status_updates: {sev2: 1m, sev3: "off"}
broadcast: [leadership]
"""


async def test_status_update_reminders_snooze_broadcast_and_followers(world, run_bot, tmp_path):
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "informed.yaml").write_text(INFORMED)
    leadership = world.sandbox.create_channel(world.team["id"], "leadership", "Leadership")
    config = world.config(tmp_path)
    config = type(config)(**{**config.__dict__, "playbooks": type(config.playbooks)(dir=folder)})
    await run_bot(config)
    command = world.say(world.alice, world.town, "@incident-bot start Payments slow sev2 --playbook informed")
    await eventually(lambda: world.replies_to(command))
    channel = world.sandbox.channel_by_name(world.team["id"], "inc-1-payments-slow")
    world.sandbox.add_channel_member(channel["id"], world.carol["id"])
    reply = await command_and_reply(world, world.carol, channel, "@incident-bot follow")
    assert "You will get INC-1's status updates" in reply["message"]

    def reminders() -> list[dict]:
        return [p for p in world.bot_posts(channel["id"]) if ":hourglass: @alice, INC-1 is due a status update"
                in p["message"]]

    async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
        created, due = await (await db.execute("SELECT created_at, update_due_at FROM incidents")).fetchone()
    assert due == created + 60_000, "the first reminder comes one sev2 interval (1m) after the start"

    await command_and_reply(world, world.alice, channel, "@incident-bot snooze 2s")   # so the test need not wait 1m
    await eventually(reminders, timeout=6)
    reply = await command_and_reply(world, world.alice, channel, "@incident-bot snooze 1h")
    assert "next status-update reminder for INC-1 comes in 1h 00m" in reply["message"]
    count = len(reminders())
    await asyncio.sleep(3)
    assert len(reminders()) == count, "snoozed: no reminder for an hour"

    await command_and_reply(world, world.alice, channel, "@incident-bot update Card payments recovering")
    update = await eventually(lambda: [p for p in world.bot_posts(leadership["id"])
                                       if "Status update on INC-1: Payments slow" in p["message"]])
    assert "Card payments recovering" in update[0]["message"] and "@alice" in update[0]["message"]
    dm = world.direct_channel(world.carol, world.bot)
    await eventually(lambda: [p for p in world.bot_posts(dm["id"]) if "Card payments recovering" in p["message"]])

    await command_and_reply(world, world.carol, channel, "@incident-bot unfollow")
    await command_and_reply(world, world.alice, channel, "@incident-bot update Fully recovered")
    await eventually(lambda: [p for p in world.bot_posts(leadership["id"]) if "Fully recovered" in p["message"]])
    await asyncio.sleep(0.5)
    assert not [p for p in world.bot_posts(dm["id"]) if "Fully recovered" in p["message"]]
