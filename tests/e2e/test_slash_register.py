"""The bot registers its own /incident slash command (http.slash_register) and keeps it up to date."""
from __future__ import annotations

import logging

import pytest

from bot.config import HttpConfig
from bot.incidents.service import channel_name
from bot.sandbox import AppError
from tests.conftest import World, eventually
from tests.mosquitto import free_port


def slash_http(port: int, **options) -> HttpConfig:
    return HttpConfig(host="127.0.0.1", port=port, public_url=f"http://127.0.0.1:{port}", slash_register=True,
                      **options)


async def test_the_bot_creates_its_command_and_updates_it_after_a_restart(world: World, run_bot, tmp_path):
    world.sandbox.add_team_member(world.team["id"], world.bot["id"], admin=True)   # may manage slash commands
    port = free_port()
    first = await run_bot(world.config(tmp_path, http=slash_http(port)))

    (command,) = world.sandbox.commands(world.team["id"])
    assert command["trigger"] == "incident" and command["creator_id"] == world.bot["id"]
    assert command["url"] == f"http://127.0.0.1:{port}/mattermost/command" and command["method"] == "P"
    assert command["auto_complete"] is True and command["auto_complete_desc"]
    assert command["auto_complete_hint"].startswith("[start|ack|update|resolve|")
    assert "|help]" in command["auto_complete_hint"]

    answer = await world.sandbox.slash(world.alice["id"], world.town["id"], "/incident start Login broken sev1")
    assert "/incident start Login broken sev1" in answer.get("text", "")
    channel = await eventually(lambda: world.sandbox.channel_by_name(world.team["id"],
                                                                     channel_name("inc", 1, "Login broken")))
    assert world.alice["id"] in world.sandbox.channel_members(channel["id"])

    await first.stop()
    moved = free_port()   # the bot comes back at another address: the command follows it, no second one appears
    await run_bot(world.config(tmp_path, http=slash_http(moved)))
    (updated,) = world.sandbox.commands(world.team["id"])
    assert updated["id"] == command["id"] and updated["token"] == command["token"]
    assert updated["url"] == f"http://127.0.0.1:{moved}/mattermost/command"
    assert updated["auto_complete_hint"] == command["auto_complete_hint"]
    await world.sandbox.slash(world.alice["id"], channel["id"], "/incident ack")
    await eventually(lambda: [p for p in world.bot_posts(channel["id"]) if "@alice acknowledged" in p["message"]])


async def test_a_bot_that_may_not_manage_commands_falls_back_to_the_configured_token(world: World, run_bot,
                                                                                     tmp_path, caplog):
    port = free_port()
    url = f"http://127.0.0.1:{port}/mattermost/command"
    by_hand = world.sandbox.create_command(world.team["id"], "incident", url, world.sandbox.admin["id"])
    caplog.set_level(logging.WARNING, logger="bot.app")
    await run_bot(world.config(tmp_path, http=slash_http(port, slash_token=by_hand["token"])))

    assert any(r.name == "bot.app" and r.levelno == logging.WARNING for r in caplog.records)
    assert world.sandbox.commands(world.team["id"]) == [by_hand]    # untouched: the bot may not change it
    await world.sandbox.slash(world.alice["id"], world.town["id"], "/incident start Disk full")
    await eventually(lambda: world.sandbox.channel_by_name(world.team["id"], channel_name("inc", 1, "Disk full")))


async def test_without_permission_or_token_the_endpoint_is_off_and_the_bot_runs_on(world: World, run_bot,
                                                                                   tmp_path):
    port = free_port()
    await run_bot(world.config(tmp_path, http=slash_http(port)))
    assert world.sandbox.commands(world.team["id"]) == []
    world.sandbox.create_command(world.team["id"], "incident", f"http://127.0.0.1:{port}/mattermost/command",
                                 world.sandbox.admin["id"])
    with pytest.raises(AppError):   # the bot's HTTP server runs, but serves no slash endpoint
        await world.sandbox.slash(world.alice["id"], world.town["id"], "/incident start Nope")
    asked = world.say(world.alice, world.town, "@incident-bot start Still here")
    await eventually(lambda: world.replies_to(asked))
    assert world.sandbox.channel_by_name(world.team["id"], channel_name("inc", 1, "Still here"))
