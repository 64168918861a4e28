"""Slash command management over REST: list (custom_only), get, update (PUT) and who may do it."""
from __future__ import annotations

import json

import aiohttp
import pytest

NOT_FOUND = "store.sql_command.save.get.app_error"
FORBIDDEN = "api.context.permissions.app_error"


async def call(sandbox, method: str, path: str, token: str, body=None) -> tuple[int, object]:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{sandbox.url}/api/v4{path}", json=body,
                                   headers={"Authorization": f"Bearer {token}"}) as response:
            return response.status, json.loads(await response.text())


def assert_app_error(status: int, body, expected_status: int, error_id: str) -> None:
    """The AppError JSON every REST error carries."""
    assert status == expected_status, body
    assert body["id"] == error_id and body["status_code"] == expected_status
    assert isinstance(body["message"], str) and body["message"] and "detailed_error" in body


@pytest.fixture
def command(sandbox, world) -> dict:
    return sandbox.create_command(world.team["id"], "incident", "http://127.0.0.1:9/old", sandbox.admin["id"],
                                  auto_complete=True, auto_complete_hint="[start]")


async def test_update_replaces_the_command_and_keeps_its_token_creator_and_team(sandbox, world, command):
    changed = {**command, "url": "http://127.0.0.1:9/new", "trigger": "Incident", "auto_complete_hint": "[start|ack]",
               "auto_complete_desc": "Run incidents", "description": "incident-bot", "display_name": "Incident bot",
               "token": "x" * 26, "creator_id": world.alice["id"], "create_at": 1}
    status, updated = await call(sandbox, "PUT", f"/commands/{command['id']}", sandbox.admin_token, changed)
    assert status == 200, updated
    assert updated["url"] == "http://127.0.0.1:9/new" and updated["trigger"] == "incident"
    assert updated["auto_complete_hint"] == "[start|ack]" and updated["auto_complete_desc"] == "Run incidents"
    assert updated["token"] == command["token"] and updated["creator_id"] == command["creator_id"]
    assert updated["create_at"] == command["create_at"] and updated["update_at"] >= command["update_at"]
    status, listed = await call(sandbox, "GET", f"/commands?team_id={world.team['id']}&custom_only=true",
                                sandbox.admin_token)
    assert status == 200 and listed == [updated]
    status, fetched = await call(sandbox, "GET", f"/commands/{command['id']}", sandbox.admin_token)
    assert status == 200 and fetched == updated


async def test_update_refuses_what_mattermost_refuses(sandbox, world, command):
    path, admin = f"/commands/{command['id']}", sandbox.admin_token
    assert_app_error(*await call(sandbox, "PUT", "/commands/short", admin, command),
                     400, "api.context.invalid_url_param.app_error")
    assert_app_error(*await call(sandbox, "PUT", path, admin, {**command, "id": world.alice["id"]}),
                     400, "api.context.invalid_body_param.app_error")
    assert_app_error(*await call(sandbox, "PUT", path, admin, {**command, "trigger": 5}),
                     400, "api.context.invalid_body_param.app_error")
    other_team = sandbox.create_team("dev", "Dev")
    assert_app_error(*await call(sandbox, "PUT", path, admin, {**command, "team_id": other_team["id"]}),
                     400, "api.command.team_mismatch.app_error")
    for trigger in ("", "/incident", "two words", "x" * 129):
        assert_app_error(*await call(sandbox, "PUT", path, admin, {**command, "trigger": trigger}),
                         400, "model.command.is_valid.trigger.app_error")
    assert_app_error(*await call(sandbox, "PUT", path, admin, {**command, "url": "ftp://x"}),
                     400, "model.command.is_valid.url_http.app_error")
    assert_app_error(*await call(sandbox, "PUT", path, admin, {**command, "description": "d" * 129}),
                     400, "model.command.is_valid.description.app_error")
    status, unchanged = await call(sandbox, "GET", path, admin)
    assert unchanged == command


async def test_only_admins_and_team_admins_manage_commands(sandbox, world, command):
    team_id, path = world.team["id"], f"/commands/{command['id']}"
    # a plain member: 403 on listing and creating, and the 404 (not 403) for one command, so ids do not leak
    assert_app_error(*await call(sandbox, "GET", f"/commands?team_id={team_id}&custom_only=true", world.alice_token),
                     403, FORBIDDEN)
    assert_app_error(*await call(sandbox, "POST", "/commands", world.alice_token,
                                 {"team_id": team_id, "trigger": "mine", "url": "http://127.0.0.1:9/", "method": "P"}),
                     403, FORBIDDEN)
    assert_app_error(*await call(sandbox, "PUT", path, world.alice_token, {**command, "url": "http://evil/"}),
                     404, NOT_FOUND)
    assert_app_error(*await call(sandbox, "GET", path, world.alice_token), 404, NOT_FOUND)
    # without custom_only a member sees the autocompleting commands, sanitized
    status, listed = await call(sandbox, "GET", f"/commands?team_id={team_id}", world.alice_token)
    assert status == 200 and [c["trigger"] for c in listed] == ["incident"] and listed[0]["token"] == ""
    # not in the team: 403 even without custom_only; no team_id: 400
    outsider = sandbox.create_user("outsider")
    outsider_token = sandbox.create_token(outsider["id"])
    assert_app_error(*await call(sandbox, "GET", f"/commands?team_id={team_id}", outsider_token), 403, FORBIDDEN)
    assert_app_error(*await call(sandbox, "GET", "/commands?custom_only=true", sandbox.admin_token),
                     400, "api.context.invalid_body_param.app_error")

    sandbox.add_team_member(team_id, world.bob["id"], admin=True)    # a team admin manages every command of it
    status, listed = await call(sandbox, "GET", f"/commands?team_id={team_id}&custom_only=1", world.bob_token)
    assert status == 200 and [c["id"] for c in listed] == [command["id"]] and listed[0]["token"] == command["token"]
    status, updated = await call(sandbox, "PUT", path, world.bob_token, {**command, "url": "http://127.0.0.1:9/bob"})
    assert status == 200 and updated["url"] == "http://127.0.0.1:9/bob"
    assert updated["creator_id"] == command["creator_id"]


async def test_update_of_a_deleted_command_is_404_and_triggers_are_not_rechecked(sandbox, world, command):
    other = sandbox.create_command(world.team["id"], "other", "http://127.0.0.1:9/", sandbox.admin["id"])
    # as in Mattermost, only create checks the trigger against the team's other commands
    status, renamed = await call(sandbox, "PUT", f"/commands/{other['id']}", sandbox.admin_token,
                                 {**other, "trigger": "incident"})
    assert status == 200 and renamed["trigger"] == "incident"
    status, _ = await call(sandbox, "DELETE", f"/commands/{command['id']}", sandbox.admin_token)
    assert status == 200
    assert_app_error(*await call(sandbox, "PUT", f"/commands/{command['id']}", sandbox.admin_token, command),
                     404, NOT_FOUND)
