"""The /incident slash command through Mattermost's real flow (the sandbox calls the bot's endpoint)."""
from __future__ import annotations

import pytest

from bot.config import load_config
from bot.incidents.service import channel_name
from bot.sandbox import AppError
from tests.conftest import World, eventually
from tests.mosquitto import free_port


async def test_slash_start_and_a_wrong_token(world: World, run_bot, tmp_path):
    port = free_port()
    command = world.sandbox.create_command(world.team["id"], "incident", f"http://127.0.0.1:{port}/mattermost/command",
                                           world.sandbox.admin["id"])
    path = world.config_file(tmp_path)
    path.write_text(path.read_text() + f"http:\n  listen: 127.0.0.1:{port}\n  slash_token: {command['token']}\n")
    await run_bot(load_config(path, {"TEST_BOT_TOKEN": world.bot_token}))

    answer = await world.sandbox.slash(world.alice["id"], world.town["id"], "/incident start Login broken sev1")
    assert "/incident start Login broken sev1" in answer.get("text", "")
    channel = await eventually(lambda: world.sandbox.channel_by_name(world.team["id"],
                                                                     channel_name("inc", 1, "Login broken")))
    assert world.alice["id"] in world.sandbox.channel_members(channel["id"])
    await world.sandbox.slash(world.alice["id"], channel["id"], "/incident ack")
    await eventually(lambda: [p for p in world.bot_posts(channel["id"]) if "@alice acknowledged" in p["message"]])

    world.sandbox.create_command(world.team["id"], "forged", f"http://127.0.0.1:{port}/mattermost/command",
                                 world.sandbox.admin["id"])   # another command: another token
    with pytest.raises(AppError):
        await world.sandbox.slash(world.alice["id"], world.town["id"], "/forged start Fake")
    assert world.sandbox.channel_by_name(world.team["id"], channel_name("inc", 2, "Fake")) is None
