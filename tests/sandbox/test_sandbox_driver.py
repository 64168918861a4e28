"""The real client library (mattermostautodriver) against the sandbox, so it cannot drift into a dialect."""
from __future__ import annotations

import contextlib

import pytest
from mattermostautodriver import AsyncTypedDriver
from mattermostautodriver.exceptions import InvalidOrMissingParameters, NotEnoughPermissions, ResourceNotFound

from sandbox_helpers import port_of


@contextlib.asynccontextmanager
async def driver_for(sandbox, token: str | None = None, **login):
    """Yield an AsyncTypedDriver aimed at the sandbox, logged in with a token or login_id/password."""
    options = {"url": "127.0.0.1", "port": port_of(sandbox), "scheme": "http", "timeout": 5, "token": token, **login}
    async with AsyncTypedDriver(options) as mm:
        await mm.login()
        yield mm


async def test_driver_password_login_uses_the_token_header(sandbox):
    sandbox.create_user("carol", password="Carol-Passw0rd!")
    async with driver_for(sandbox, login_id="carol", password="Carol-Passw0rd!") as mm:
        me = await mm.users.get_user("me")
        assert me["username"] == "carol" and mm.client.token


async def test_driver_users_teams_channels(sandbox, world):
    async with driver_for(sandbox, world.alice_token) as mm:
        me = await mm.users.get_user("me")
        assert me["id"] == world.alice["id"] and me["username"] == "alice"
        team = await mm.teams.get_team_by_name("ops")
        assert team["id"] == world.team["id"]
        channel = await mm.channels.create_channel(team_id=team["id"], name="inc-42", display_name="Incident 42",
                                                   type="O", purpose="db outage")
        assert channel["type"] == "O" and channel["creator_id"] == me["id"]
        with pytest.raises(InvalidOrMissingParameters) as dup:
            await mm.channels.create_channel(team_id=team["id"], name="inc-42", display_name="Again", type="O")
        assert dup.value.error_id == "store.sql_channel.save_channel.exists.app_error"
        with pytest.raises(InvalidOrMissingParameters) as bad:
            await mm.channels.create_channel(team_id=team["id"], name="Bad Name", display_name="x", type="O")
        assert bad.value.error_id == "model.channel.is_valid.1_or_more.app_error"
        found = await mm.channels.get_channel_by_name(team["id"], "inc-42")
        assert found["id"] == channel["id"]
        with pytest.raises(ResourceNotFound):
            await mm.channels.get_channel_by_name(team["id"], "nope")
    assert sandbox.channel_by_name(world.team["id"], "inc-42")["purpose"] == "db outage"


async def test_driver_posts_pins_reactions(sandbox, world):
    channel_id = world.channel["id"]
    async with driver_for(sandbox, world.alice_token) as mm:
        root = await mm.posts.create_post(channel_id=channel_id, message="database is down #db",
                                          props={"incident": "42"})
        assert root["hashtags"] == "#db" and root["props"] == {"incident": "42"}
        reply = await mm.posts.create_post(channel_id=channel_id, message="looking", root_id=root["id"])
        assert reply["root_id"] == root["id"]
        await mm.posts.pin_post(root["id"])
        await mm.reactions.save_reaction({"user_id": world.alice["id"], "post_id": root["id"],
                                          "emoji_name": "eyes"})
        listing = await mm.posts.get_posts_for_channel(channel_id, per_page=2)
        assert listing["order"] == [reply["id"], root["id"]]
        assert listing["posts"][root["id"]]["is_pinned"] is True
        assert listing["posts"][root["id"]]["reply_count"] == 1
        assert [r["emoji_name"] for r in listing["posts"][root["id"]]["metadata"]["reactions"]] == ["eyes"]
        since = await mm.posts.get_posts_for_channel(channel_id, since=root["create_at"])
        assert reply["id"] in since["order"] and since["prev_post_id"] == ""
    assert [p["id"] for p in sandbox.pinned(channel_id)] == [root["id"]]
    async with driver_for(sandbox, world.bob_token) as mm:
        with pytest.raises(NotEnoughPermissions) as denied:
            await mm.reactions.save_reaction({"user_id": world.alice["id"], "post_id": root["id"],
                                              "emoji_name": "x"})
        assert denied.value.error_id == "api.reaction.save_reaction.user_id.app_error"


async def test_pending_post_id_deduplicates_a_retried_create(sandbox, world):
    async with driver_for(sandbox, world.alice_token) as mm:
        body = {"channel_id": world.channel["id"], "message": "retry me", "pending_post_id": "abc:1"}
        first = await mm.client.post("/api/v4/posts", options=body)
        second = await mm.client.post("/api/v4/posts", options=body)
    assert first["id"] == second["id"]
    assert [p["message"] for p in sandbox.posts(world.channel["id"])].count("retry me") == 1


async def test_private_channels_hide_and_deny(sandbox, world):
    secret = sandbox.create_channel(world.team["id"], "secret", "Secret", type="P", creator_id=world.alice["id"])
    async with driver_for(sandbox, world.bob_token) as mm:
        with pytest.raises(ResourceNotFound) as hidden:
            await mm.channels.get_channel_by_name(world.team["id"], "secret")
        assert hidden.value.error_id == "app.channel.get_by_name.missing.app_error"
        with pytest.raises(NotEnoughPermissions) as denied:
            await mm.posts.create_post(channel_id=secret["id"], message="let me in")
        assert denied.value.error_id == "api.context.permissions.app_error"


async def test_bot_posts_carry_from_bot(sandbox, world):
    bot, token = sandbox.create_bot("incident-bot", "Incident Bot")
    assert bot["is_bot"] is True
    sandbox.add_channel_member(world.channel["id"], bot["id"])
    async with driver_for(sandbox, token) as mm:
        post = await mm.posts.create_post(channel_id=world.channel["id"], message="hello from a bot")
    assert post["props"]["from_bot"] == "true"
