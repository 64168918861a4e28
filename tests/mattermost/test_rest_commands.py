"""The REST client's slash command calls against the sandbox: list (custom only), create, update."""
from __future__ import annotations

import pytest

from bot.mattermost import MattermostError, MattermostRest
from tests.mattermost.conftest import FAST_RETRIES
from tests.mattermost.test_rest import lossy_client


@pytest.fixture
def team_admin(world):
    world.sandbox.add_team_member(world.team["id"], world.bot["id"], admin=True)


async def test_list_create_and_update_a_command(world, rest, team_admin):
    team_id = world.team["id"]
    assert await rest.list_commands(team_id) == []
    made = await rest.create_command({"team_id": team_id, "trigger": "incident", "method": "P",
                                      "url": "http://127.0.0.1:9/mattermost/command", "auto_complete": True,
                                      "auto_complete_hint": "[start] [arguments]"})
    assert made["trigger"] == "incident" and len(made["token"]) == 26 and made["creator_id"] == world.bot["id"]
    (listed,) = await rest.list_commands(team_id)
    assert listed == made
    updated = await rest.update_command({**listed, "auto_complete_hint": "[start|ack] [arguments]"})
    assert updated["auto_complete_hint"] == "[start|ack] [arguments]" and updated["token"] == made["token"]
    assert await rest.list_commands(team_id) == [updated]


async def test_a_user_who_may_not_manage_commands_gets_a_403(world):
    async with MattermostRest(world.url, world.alice_token, **FAST_RETRIES) as alice:
        with pytest.raises(MattermostError) as caught:
            await alice.list_commands(world.team["id"])
    assert caught.value.status == 403 and caught.value.error_id == "api.context.permissions.app_error"


async def test_create_retried_after_a_lost_answer_returns_the_command_made(world, rest, team_admin):
    async with lossy_client(world, "POST", "/api/v4/commands") as lossy:
        made = await lossy.create_command({"team_id": world.team["id"], "trigger": "incident", "method": "P",
                                           "url": "http://127.0.0.1:9/mattermost/command"})
    assert [c["id"] for c in await rest.list_commands(world.team["id"])] == [made["id"]]
    assert [s for m, p, s in world.sandbox.request_log if p == "/api/v4/commands" and m == "POST"] == [201, 400]
