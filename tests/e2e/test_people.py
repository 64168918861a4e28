"""Roles and permissions from chat, end to end: who may resolve, change severity or hand out roles."""
from __future__ import annotations

import aiosqlite

from bot.config import load_config
from tests.conftest import World, eventually
from tests.e2e.test_incident_lifecycle import command_and_reply, open_incident

POLICY = """
permissions:
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
