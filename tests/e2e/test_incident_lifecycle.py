"""The incident lifecycle driven from chat, end to end: the bot against the sandbox over real sockets."""
from __future__ import annotations

import aiosqlite

from bot.incidents.service import channel_name
from tests.conftest import World, eventually

TITLE = "Checkout API returns 500s"
CHANNEL = channel_name("inc", 1, TITLE)


async def open_incident(world: World, title: str = TITLE, severity: str = "sev2") -> tuple[dict, dict]:
    """Start an incident from the town square; return (the command post, the incident channel)."""
    command = world.say(world.alice, world.town, f"@incident-bot start {title} {severity}")
    await eventually(lambda: world.replies_to(command))
    channel = world.sandbox.channel_by_name(world.team["id"], channel_name("inc", 1, title))
    assert channel is not None
    return command, channel


async def command_and_reply(world: World, user: dict, channel: dict, text: str) -> dict:
    """Say something to the bot in a channel and return the bot's next post there."""
    before = len(world.bot_posts(channel["id"]))
    world.say(user, channel, text)
    posts = await eventually(lambda: world.bot_posts(channel["id"])[before:])
    return posts[0]


async def timeline_kinds(world_db) -> list[str]:
    async with aiosqlite.connect(world_db) as db:
        rows = await (await db.execute("SELECT kind FROM timeline WHERE incident_id = 1 ORDER BY at, id")).fetchall()
    return [r[0] for r in rows]


async def test_start_opens_a_channel_invites_pins_the_summary_and_links_back(world, run_bot, tmp_path):
    await run_bot()
    command, channel = await open_incident(world)

    assert channel["display_name"] == f"INC-1: {TITLE}"
    assert channel["type"] == "O"
    assert world.alice["id"] in world.sandbox.channel_members(channel["id"])
    (header,) = world.sandbox.pinned(channel["id"])
    assert header["user_id"] == world.bot["id"]
    for expected in ("INC-1", TITLE, "SEV2", "Open", "@alice"):
        assert expected in header["message"]
    (link,) = world.replies_to(command)
    assert f"~{CHANNEL}" in link["message"] and "INC-1" in link["message"]
    assert link["root_id"] == command["id"]

    kinds = await timeline_kinds(tmp_path / "state" / "bot.sqlite")
    assert kinds == ["created", "channel_created", "member_added", "summary_pinned"]


async def test_ack_update_resolve_and_timeline_from_the_incident_channel(world, run_bot, tmp_path):
    await run_bot()
    _, channel = await open_incident(world)
    world.sandbox.add_channel_member(channel["id"], world.bob["id"])

    reply = await command_and_reply(world, world.bob, channel, "@incident-bot ack")
    assert "@bob acknowledged **INC-1**" in reply["message"]
    await eventually(lambda: "Acknowledged" in world.sandbox.pinned(channel["id"])[0]["message"])

    again = await command_and_reply(world, world.alice, channel, "@incident-bot ack")
    assert "already acknowledged" in again["message"]

    reply = await command_and_reply(world, world.alice, channel, "@incident-bot update Rolled back, errors falling")
    assert "Status update" in reply["message"] and "Rolled back, errors falling" in reply["message"]

    reply = await command_and_reply(world, world.bob, channel, "@incident-bot resolve Rollback complete")
    assert "@bob resolved **INC-1**" in reply["message"] and "Rollback complete" in reply["message"]
    await eventually(lambda: "Resolved" in world.sandbox.pinned(channel["id"])[0]["message"])

    refused = await command_and_reply(world, world.bob, channel, "@incident-bot update too late")
    assert "already resolved" in refused["message"]

    timeline = await command_and_reply(world, world.alice, channel, "@incident-bot timeline")
    text = timeline["message"]
    order = ["Incident opened", "Channel created", "Acknowledged", "Status update", "Resolved"]
    positions = [text.index(label) for label in order]
    assert positions == sorted(positions)
    assert "by @bob: Rollback complete" in text and "by @alice: Rolled back, errors falling" in text

    async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
        row = await (await db.execute(
            "SELECT status, created_at, acknowledged_at, resolved_at FROM incidents WHERE id = 1")).fetchone()
    status, created, acked, resolved = row
    assert status == "resolved" and created <= acked <= resolved
    kinds = await timeline_kinds(tmp_path / "state" / "bot.sqlite")
    assert kinds[-3:] == ["acknowledged", "status_update", "resolved"]


async def test_mistakes_get_short_helpful_answers(world, run_bot):
    await run_bot()
    unknown = world.say(world.alice, world.town, "@incident-bot dance")
    (reply,) = await eventually(lambda: world.replies_to(unknown))
    assert "don't know the command `dance`" in reply["message"] and "help" in reply["message"]

    typo = world.say(world.alice, world.town, "@incident-bot strat DB down")
    (reply,) = await eventually(lambda: world.replies_to(typo))
    assert "Did you mean `start`?" in reply["message"]

    outside = world.say(world.alice, world.town, "@incident-bot ack")
    (reply,) = await eventually(lambda: world.replies_to(outside))
    assert "works in an incident's channel" in reply["message"]

    no_title = world.say(world.alice, world.town, "@incident-bot start sev1")
    (reply,) = await eventually(lambda: world.replies_to(no_title))
    assert "title" in reply["message"] and "Usage" in reply["message"]

    help_post = world.say(world.alice, world.town, "@incident-bot help")
    (reply,) = await eventually(lambda: world.replies_to(help_post))
    for usage in ("start <title> [sev1..sev4] [--playbook NAME]", "ack", "update <text>", "resolve <text>", "help [command]",
                  "note <text>"):
        assert f"`{usage}`" in reply["message"]
    assert "`timeline [--type" in reply["message"]

    plain = world.say(world.alice, world.town, "just chatting, no command here")
    huge = world.say(world.alice, world.town, "@incident-bot update " + "x" * 16000)
    (reply,) = await eventually(lambda: world.replies_to(huge))
    assert "incident's channel" in reply["message"]
    assert world.replies_to(plain) == []
    assert world.sandbox.channel_by_name(world.team["id"], channel_name("inc", 1, "DB down")) is None


async def test_direct_messages_are_commands_without_a_mention(world, run_bot):
    await run_bot()
    dm = world.direct_channel(world.alice, world.bot)
    question = world.say(world.alice, dm, "help")
    (reply,) = await eventually(lambda: world.replies_to(question))
    assert "incident-bot commands" in reply["message"]
