"""Custom user groups and user statuses, over real sockets, in the shapes and with the errors of Mattermost 11."""
from __future__ import annotations

import json

import aiohttp
import pytest
from mattermostautodriver import AsyncTypedDriver

from bot.sandbox import Sandbox
from sandbox_helpers import connect_ws, next_frame, port_of, wait_event

GROUP_KEYS = {"id", "name", "display_name", "description", "source", "remote_id", "create_at", "update_at",
              "delete_at", "has_syncables", "allow_reference", "member_ids"}
STATUS_KEYS = {"user_id", "status", "manual", "last_activity_at", "dnd_end_time"}


async def call(sandbox, method: str, path: str, token: str | None, body=None) -> tuple[int, object]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{sandbox.url}/api/v4{path}", data=data, headers=headers) as answer:
            return answer.status, await answer.json()


def group_body(name: str, user_ids: list[str], **extra) -> dict:
    """The flat GroupWithUserIds body the real server decodes (the Group fields are embedded)."""
    return {"name": name, "display_name": name.title(), "source": "custom", "allow_reference": True,
            "user_ids": user_ids, **extra}


def driver_for(sandbox, token: str) -> AsyncTypedDriver:
    return AsyncTypedDriver({"url": "127.0.0.1", "port": port_of(sandbox), "scheme": "http", "timeout": 5,
                             "token": token})


# ---------------------------------------------------------------- groups


async def test_a_user_creates_a_custom_group_and_gets_the_group_json(sandbox, world):
    status, group = await call(sandbox, "POST", "/groups", world.alice_token,
                               group_body("oncall", [world.alice["id"], world.bob["id"]]))
    assert status == 201
    assert GROUP_KEYS <= set(group)
    assert (group["name"], group["display_name"], group["source"]) == ("oncall", "Oncall", "custom")
    assert group["allow_reference"] is True and group["remote_id"] is None and group["member_count"] == 2

    status, fetched = await call(sandbox, "GET", f"/groups/{group['id']}", world.bob_token)
    assert status == 200 and fetched["id"] == group["id"] and "member_count" not in fetched
    _, counted = await call(sandbox, "GET", f"/groups/{group['id']}?include_member_count=true", world.bob_token)
    assert counted["member_count"] == 2


async def test_group_creation_is_refused_as_the_server_refuses_it(sandbox, world):
    cases = [
        ({"group": group_body("nested", [])}, 400, "app.group.crud_permission"),   # only a flat body decodes
        (group_body("noref", [], allow_reference=False), 400, "api.custom_groups.must_be_referenceable"),
        (group_body("remote", [], remote_id="r1"), 400, "api.custom_groups.no_remote_id"),
        (group_body("alice", []), 400, "app.group.username_conflict"),
        (group_body("Bad Name", []), 400, "model.group.name.invalid_chars.app_error"),
        (group_body("here", []), 400, "model.group.name.reserved_name.app_error"),
        (group_body("ghosts", ["x" * 26]), 400, "app.group.user_not_found"),
        ("not json", 400, "api.context.invalid_body_param.app_error"),
    ]
    for body, want_status, want_id in cases:
        status, error = await call(sandbox, "POST", "/groups", world.alice_token, body)
        assert (status, error["id"]) == (want_status, want_id), body
    assert (await call(sandbox, "POST", "/groups", world.alice_token, group_body("sre", [])))[0] == 201
    status, error = await call(sandbox, "POST", "/groups", world.bob_token, group_body("sre", []))
    assert (status, error["id"]) == (400, "app.custom_group.unique_name")
    status, error = await call(sandbox, "POST", "/groups", None, group_body("anon", []))
    assert (status, error["id"]) == (401, "api.context.session_expired.app_error")


async def test_members_are_added_and_listed_as_users(sandbox, world):
    group = sandbox.create_group("db-team", "DB Team", [world.bob["id"]])
    carol = sandbox.create_user("carol")
    status, members = await call(sandbox, "POST", f"/groups/{group['id']}/members", world.alice_token,
                                 {"user_ids": [carol["id"], world.bob["id"]]})
    assert status == 200
    assert [(m["group_id"], m["user_id"], m["delete_at"]) for m in members] == [
        (group["id"], carol["id"], 0), (group["id"], world.bob["id"], 0)]

    status, page = await call(sandbox, "GET", f"/groups/{group['id']}/members", world.alice_token)
    assert status == 200 and page["total_member_count"] == 2
    assert [u["username"] for u in page["members"]] == ["bob", "carol"]

    status, error = await call(sandbox, "POST", f"/groups/{group['id']}/members", world.alice_token,
                               {"user_ids": ["short"]})
    assert (status, error["id"]) == (400, "api.context.invalid_body_param.app_error")
    status, error = await call(sandbox, "GET", f"/groups/{'g' * 26}/members", world.alice_token)
    assert (status, error["id"]) == (404, "app.group.no_rows")
    status, error = await call(sandbox, "GET", "/groups/nope", world.alice_token)
    assert (status, error["id"]) == (400, "api.context.invalid_url_param.app_error")


async def test_adding_members_tells_each_new_member_over_the_websocket(sandbox, world):
    group = sandbox.create_group("net", "Network", [])
    ws = await connect_ws(sandbox, world.bob_token)
    try:
        await next_frame(ws)   # hello
        await call(sandbox, "POST", f"/groups/{group['id']}/members", world.alice_token,
                   {"user_ids": [world.bob["id"]]})
        frame = await wait_event(ws, "group_member_add")
        assert frame["broadcast"]["user_id"] == world.bob["id"]
        assert json.loads(frame["data"]["group_member"])["group_id"] == group["id"]
    finally:
        await ws.close()


async def test_groups_are_listed_searched_and_filtered_by_member(sandbox, world):
    oncall = sandbox.create_group("oncall", "On call", [world.alice["id"]])
    sandbox.create_group("dba", "Databases", [world.bob["id"]])
    status, groups = await call(sandbox, "GET", "/groups", world.bob_token)
    assert status == 200 and [g["name"] for g in groups] == ["dba", "oncall"]
    _, groups = await call(sandbox, "GET", "/groups?q=call&include_member_count=true", world.bob_token)
    assert [(g["id"], g["member_count"]) for g in groups] == [(oncall["id"], 1)]
    _, groups = await call(sandbox, "GET", f"/groups?filter_has_member={world.alice['id']}", world.bob_token)
    assert [g["id"] for g in groups] == [oncall["id"]]


async def test_a_users_groups_are_theirs_or_a_system_admins_to_read(sandbox, world):
    group = sandbox.create_group("oncall", "On call", [world.alice["id"]])
    status, groups = await call(sandbox, "GET", f"/users/{world.alice['id']}/groups", world.alice_token)
    assert status == 200 and [g["id"] for g in groups] == [group["id"]]
    status, groups = await call(sandbox, "GET", f"/users/{world.alice['id']}/groups", sandbox.admin_token)
    assert status == 200 and len(groups) == 1
    _, bot_token = sandbox.create_bot("incident-bot")
    for token in (world.bob_token, bot_token):   # default permissions lack manage_system
        status, error = await call(sandbox, "GET", f"/users/{world.alice['id']}/groups", token)
        assert (status, error["id"]) == (403, "api.context.permissions.app_error")


@pytest.mark.parametrize("sku, status, error_id", [
    ("professional", 403, "api.ldap_groups.license_error"),   # LDAPGroups is an Enterprise feature
    ("", 501, "api.license_error"),
])
async def test_licences_gate_the_group_routes(sku, status, error_id):
    sandbox = Sandbox(license_sku=sku)
    await sandbox.start(port=0)
    try:
        alice = sandbox.create_user("alice")
        token = sandbox.create_token(alice["id"])
        got = await call(sandbox, "GET", f"/users/{alice['id']}/groups", token)
        assert (got[0], got[1]["id"]) == (status, error_id)
        created = await call(sandbox, "POST", "/groups", token, group_body("team", [alice["id"]]))
        if sku == "professional":
            assert created[0] == 201
            _, listed = await call(sandbox, "GET", f"/groups?filter_has_member={alice['id']}", token)
            assert [g["name"] for g in listed] == ["team"]
        else:
            assert (created[0], created[1]["id"]) == (501, "api.license_error")
    finally:
        await sandbox.stop()


async def test_the_client_library_reaches_the_group_routes(sandbox, world):
    async with driver_for(sandbox, world.alice_token) as mm:
        await mm.login()
        group = await mm.groups.create_group("sre", "SRE", "custom", True, [world.alice["id"]])
        assert group["name"] == "sre"
        await mm.groups.add_group_members(group["id"], [world.bob["id"]])
        members = await mm.groups.get_group_users(group["id"])
        assert members["total_member_count"] == 2
        assert [g["id"] for g in await mm.groups.get_groups(q="sr")] == [group["id"]]
        assert (await mm.groups.get_group(group["id"]))["display_name"] == "SRE"
        assert [g["id"] for g in await mm.groups.get_groups_by_user_id(world.alice["id"])] == [group["id"]]


# ---------------------------------------------------------------- statuses


async def test_status_is_offline_without_a_websocket_and_online_with_one(sandbox, world):
    status, body = await call(sandbox, "GET", f"/users/{world.bob['id']}/status", world.alice_token)
    assert status == 200 and set(body) == STATUS_KEYS
    assert (body["status"], body["manual"], body["last_activity_at"]) == ("offline", False, 0)

    ws = await connect_ws(sandbox, world.bob_token)
    try:
        await next_frame(ws)
        _, body = await call(sandbox, "GET", f"/users/{world.bob['id']}/status", world.alice_token)
        assert body["status"] == "online" and body["manual"] is False and body["last_activity_at"] > 0
    finally:
        await ws.close()
    for _ in range(50):
        _, body = await call(sandbox, "GET", f"/users/{world.bob['id']}/status", world.alice_token)
        if body["status"] == "offline":
            break
    assert body["status"] == "offline" and body["manual"] is False


async def test_a_manual_status_sticks_and_is_told_to_the_user_only(sandbox, world):
    bob_ws = await connect_ws(sandbox, world.bob_token)
    alice_ws = await connect_ws(sandbox, world.alice_token)
    try:
        await next_frame(bob_ws), await next_frame(alice_ws)
        status, body = await call(sandbox, "PUT", f"/users/{world.bob['id']}/status", world.bob_token,
                                  {"user_id": world.bob["id"], "status": "dnd", "dnd_end_time": 1_900_000_042})
        assert status == 200
        assert (body["status"], body["manual"], body["dnd_end_time"]) == ("dnd", True, 1_900_000_020)
        frame = await wait_event(bob_ws, "status_change")
        assert frame["data"] == {"status": "dnd", "user_id": world.bob["id"]}
        assert frame["broadcast"]["user_id"] == world.bob["id"]
        sandbox.post(world.alice["id"], world.channel["id"], "ping")
        seen = []
        while not seen or seen[-1] != "posted":
            seen.append((await next_frame(alice_ws))["event"])
        assert "status_change" not in seen   # broadcast to bob alone
    finally:
        await bob_ws.close()
        await alice_ws.close()
    _, body = await call(sandbox, "GET", f"/users/{world.bob['id']}/status", world.alice_token)
    assert body["status"] == "dnd"   # a manual status outlives the websocket

    _, body = await call(sandbox, "PUT", f"/users/{world.bob['id']}/status", world.bob_token,
                         {"user_id": world.bob["id"], "status": "online"})
    assert (body["status"], body["manual"]) == ("online", False)   # online hands it back to presence


async def test_status_updates_are_checked_like_the_server_checks_them(sandbox, world):
    bob = world.bob["id"]
    cases = [
        (world.alice_token, {"user_id": bob, "status": "away"}, 403, "api.context.permissions.app_error"),
        (world.bob_token, {"user_id": world.alice["id"], "status": "away"}, 400,
         "api.context.invalid_body_param.app_error"),
        (world.bob_token, {"user_id": bob, "status": "busy"}, 400, "api.context.invalid_body_param.app_error"),
        (world.bob_token, "[]", 400, "api.context.invalid_body_param.app_error"),
    ]
    for token, body, want_status, want_id in cases:
        status, error = await call(sandbox, "PUT", f"/users/{bob}/status", token, body)
        assert (status, error["id"]) == (want_status, want_id), body
    status, body = await call(sandbox, "PUT", f"/users/{bob}/status", sandbox.admin_token,
                              {"user_id": bob, "status": "away"})
    assert status == 200 and (body["status"], body["manual"]) == ("away", True)


async def test_statuses_by_ids_answer_every_id(sandbox, world):
    sandbox.set_status(world.alice["id"], "away")
    ghost = "g" * 26
    status, body = await call(sandbox, "POST", "/users/status/ids", world.bob_token,
                              [ghost, world.alice["id"], world.alice["id"]])
    assert status == 200
    assert {s["user_id"]: s["status"] for s in body} == {world.alice["id"]: "away", ghost: "offline"}
    status, error = await call(sandbox, "POST", "/users/status/ids", world.bob_token, [])
    assert (status, error["id"]) == (400, "api.context.invalid_body_param.app_error")
    status, error = await call(sandbox, "POST", "/users/status/ids", world.bob_token, ["short"])
    assert (status, error["id"]) == (400, "api.context.invalid_body_param.app_error")


async def test_the_client_library_reaches_the_status_routes(sandbox, world):
    async with driver_for(sandbox, world.bob_token) as mm:
        await mm.login()
        assert (await mm.status.get_user_status(world.alice["id"]))["status"] == "offline"
        updated = await mm.status.update_user_status(world.bob["id"], "away")
        assert updated["status"] == "away" and updated["manual"] is True
        statuses = await mm.status.get_users_statuses_by_ids([world.bob["id"], world.alice["id"]])
        assert {s["user_id"]: s["status"] for s in statuses} == {world.bob["id"]: "away",
                                                                 world.alice["id"]: "offline"}
