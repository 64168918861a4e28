"""Custom slash commands: the outbound request to the command URL, in_channel vs ephemeral, and response_url."""
from __future__ import annotations

import asyncio
import dataclasses
import json
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web

from bot.sandbox import AppError
from sandbox_helpers import connect_ws, next_frame, wait_event


@dataclasses.dataclass
class CommandServer:
    """A tiny command endpoint on port 0: records each request, answers with the next queued answer."""

    url: str = ""
    requests: list = dataclasses.field(default_factory=list)
    answers: list = dataclasses.field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        raw = (await request.read()).decode()
        self.requests.append({"method": request.method, "headers": dict(request.headers),
                              "form": parse_qs(raw if request.method == "POST" else request.query_string,
                                               keep_blank_values=True)})
        status, body, content_type = self.answers.pop(0) if self.answers else (200, {}, "application/json")
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        return web.Response(status=status, body=data, content_type=content_type)


@pytest.fixture
async def server():
    endpoint = CommandServer()
    app = web.Application()
    app.router.add_route("*", "/cmd", endpoint.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    endpoint.url = f"http://127.0.0.1:{runner.addresses[0][1]}/cmd"
    try:
        yield endpoint
    finally:
        await runner.cleanup()


async def call(sandbox, method: str, path: str, token: str | None, body=None) -> tuple[int, object]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{sandbox.url}{path}", json=body, headers=headers) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text


async def post_raw(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body, headers={"Content-Type": content_type}) as response:
            return response.status, response.headers.get("Content-Type", ""), await response.text()


async def quiet(ws, name: str, timeout: float = 0.3) -> None:
    """Assert no event with that name arrives within the timeout."""
    try:
        while True:
            frame = await next_frame(ws, timeout)
            assert frame.get("event") != name, frame
    except asyncio.TimeoutError:
        pass


async def test_create_list_delete_over_rest(sandbox, world, server):
    status, body = await call(sandbox, "POST", "/api/v4/commands", world.alice_token,
                              {"team_id": world.team["id"], "trigger": "incident", "url": server.url, "method": "P"})
    assert status == 403 and body["id"] == "api.context.permissions.app_error"
    admin = sandbox.admin_token
    status, cmd = await call(sandbox, "POST", "/api/v4/commands", admin,
                             {"team_id": world.team["id"], "trigger": "Incident", "url": server.url, "method": "P",
                              "auto_complete": True, "auto_complete_desc": "Run incidents",
                              "auto_complete_hint": "start|stop", "username": "incident-bot"})
    assert status == 201
    assert cmd["trigger"] == "incident" and len(cmd["token"]) == 26 and cmd["creator_id"] == sandbox.admin["id"]
    assert cmd["auto_complete"] is True and cmd["auto_complete_hint"] == "start|stop" and cmd["method"] == "P"
    status, body = await call(sandbox, "POST", "/api/v4/commands", admin,
                              {"team_id": world.team["id"], "trigger": "incident", "url": server.url, "method": "P"})
    assert status == 400 and body["id"] == "api.command.duplicate_trigger.app_error"
    status, body = await call(sandbox, "POST", "/api/v4/commands", admin,
                              {"team_id": world.team["id"], "trigger": "x", "url": server.url, "method": "Z"})
    assert status == 400 and body["id"] == "model.command.is_valid.method.app_error"
    status, body = await call(sandbox, "POST", "/api/v4/commands", admin,
                              {"team_id": world.team["id"], "trigger": "x", "url": "ftp://x", "method": "P"})
    assert status == 400 and body["id"] == "model.command.is_valid.url_http.app_error"
    status, listed = await call(sandbox, "GET", f"/api/v4/commands?team_id={world.team['id']}&custom_only=true",
                                admin)
    assert status == 200 and [c["id"] for c in listed] == [cmd["id"]] and listed[0]["token"] == cmd["token"]
    status, listed = await call(sandbox, "GET", f"/api/v4/commands?team_id={world.team['id']}", world.alice_token)
    assert status == 200 and listed[0]["trigger"] == "incident" and listed[0]["token"] == ""
    status, _ = await call(sandbox, "DELETE", f"/api/v4/commands/{cmd['id']}", world.alice_token)
    assert status == 404
    status, body = await call(sandbox, "DELETE", f"/api/v4/commands/{cmd['id']}", admin)
    assert status == 200 and body == {"status": "OK"}
    status, listed = await call(sandbox, "GET", f"/api/v4/commands?team_id={world.team['id']}&custom_only=true",
                                admin)
    assert listed == []
    status, body = await call(sandbox, "POST", "/api/v4/commands/execute", world.alice_token,
                              {"channel_id": world.channel["id"], "command": "/incident start"})
    assert status == 404 and body["id"] == "api.command.execute_command.not_found.app_error"


async def test_execute_sends_every_field_and_posts_in_channel(sandbox, world, server):
    cmd = sandbox.create_command(world.team["id"], "incident", server.url, sandbox.admin["id"])
    server.answers.append((200, {"response_type": "in_channel", "text": "Incident <http://x/1|INC-1> opened",
                                 "props": {"incident": 1}}, "application/json"))
    bob_ws = await connect_ws(sandbox, world.bob_token)
    try:
        await wait_event(bob_ws, "hello")
        status, body = await call(sandbox, "POST", "/api/v4/commands/execute", world.alice_token,
                                  {"channel_id": world.channel["id"],
                                   "command": "/Incident start db down @bob ~incidents"})
        assert status == 200
        assert body["response_type"] == "in_channel" and body["text"] == "Incident <http://x/1|INC-1> opened"
        assert body["trigger_id"] and set(body) >= {"props", "attachments", "extra_responses", "goto_location"}
        posted = await wait_event(bob_ws, "posted")
    finally:
        await bob_ws.close()
    (req,) = server.requests
    assert req["method"] == "POST"
    headers = req["headers"]
    assert headers["Authorization"] == f"Token {cmd['token']}"
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] if len(v) == 1 else v for k, v in req["form"].items()}
    assert form["token"] == cmd["token"] and form["team_id"] == world.team["id"] and form["team_domain"] == "ops"
    assert form["channel_id"] == world.channel["id"] and form["channel_name"] == "incidents"
    assert form["user_id"] == world.alice["id"] and form["user_name"] == "alice"
    assert form["command"] == "/incident" and form["text"] == "start db down @bob ~incidents"
    assert form["trigger_id"] and form["trigger_id"] != body["trigger_id"]
    assert form["response_url"].startswith(f"{sandbox.url}/hooks/commands/")
    assert form["user_mentions"] == "bob" and form["user_mentions_ids"] == world.bob["id"]
    assert form["channel_mentions"] == "incidents" and form["channel_mentions_ids"] == world.channel["id"]
    post = json.loads(posted["data"]["post"])
    assert post["user_id"] == world.alice["id"] and post["message"] == "Incident [INC-1](http://x/1) opened"
    assert post["props"]["from_webhook"] == "true" and post["props"]["incident"] == 1
    assert sandbox.posts(world.channel["id"])[-1]["id"] == post["id"]


async def test_ephemeral_default_goes_to_the_user_only(sandbox, world, server):
    sandbox.create_command(world.team["id"], "incident", server.url, sandbox.admin["id"], method="G")
    server.answers.append((200, {"text": "only you can see this"}, "application/json"))
    alice_ws = await connect_ws(sandbox, world.alice_token)
    bob_ws = await connect_ws(sandbox, world.bob_token)
    try:
        await wait_event(alice_ws, "hello")
        await wait_event(bob_ws, "hello")
        before = len(sandbox.posts(world.channel["id"]))
        response = await sandbox.slash(world.alice["id"], world.channel["id"], "/incident status")
        assert response["text"] == "only you can see this" and response["response_type"] == ""
        whisper = await wait_event(alice_ws, "ephemeral_message")
        await quiet(bob_ws, "ephemeral_message")
    finally:
        await alice_ws.close()
        await bob_ws.close()
    assert whisper["broadcast"]["user_id"] == world.alice["id"]
    post = json.loads(whisper["data"]["post"])
    assert post["message"] == "only you can see this" and post["type"] == "system_ephemeral"
    assert len(sandbox.posts(world.channel["id"])) == before
    (req,) = server.requests
    assert req["method"] == "GET" and req["form"]["text"] == ["status"] and req["form"]["token"]


async def test_text_body_becomes_the_text(sandbox, world, server):
    sandbox.create_command(world.team["id"], "echo2", server.url, sandbox.admin["id"])
    server.answers.append((200, "plain *answer*", "text/plain"))
    response = await sandbox.slash(world.alice["id"], world.channel["id"], "/echo2")
    assert response["text"] == "plain *answer*" and response["response_type"] == ""
    assert server.requests[0]["form"]["text"] == [""]


async def test_response_url_five_uses_then_refused(sandbox, world, server):
    sandbox.create_command(world.team["id"], "incident", server.url, sandbox.admin["id"])
    server.answers.append((200, {}, "application/json"))
    await sandbox.slash(world.alice["id"], world.channel["id"], "/incident start")
    url = server.requests[0]["form"]["response_url"][0]
    status, ctype, text = await post_raw(url, json.dumps({"response_type": "in_channel",
                                                          "text": "delayed 1"}).encode())
    assert (status, text) == (200, "ok") and ctype.startswith("text/plain")
    alice_ws = await connect_ws(sandbox, world.alice_token)
    try:
        await wait_event(alice_ws, "hello")
        status, _, text = await post_raw(url, json.dumps({"text": "delayed 2 (ephemeral)"}).encode())
        assert (status, text) == (200, "ok")
        whisper = await wait_event(alice_ws, "ephemeral_message")
        assert json.loads(whisper["data"]["post"])["message"] == "delayed 2 (ephemeral)"
    finally:
        await alice_ws.close()
    last = sandbox.posts(world.channel["id"])[-1]
    assert last["message"] == "delayed 1" and last["user_id"] == world.alice["id"]
    assert last["props"]["from_webhook"] == "true"
    for n in (3, 4, 5):
        status, _, _ = await post_raw(url, json.dumps({"response_type": "in_channel", "text": f"d{n}"}).encode())
        assert status == 200
    status, _, text = await post_raw(url, json.dumps({"response_type": "in_channel", "text": "d6"}).encode())
    assert status == 400 and json.loads(text)["id"] == "app.command_webhook.try_use.invalid"
    assert [p["message"] for p in sandbox.posts(world.channel["id"])][-3:] == ["d3", "d4", "d5"]
    status, _, text = await post_raw(f"{sandbox.url}/hooks/commands/{'a' * 26}", b'{"text": "x"}')
    assert status == 404 and json.loads(text)["id"] == "app.command_webhook.get.missing"


async def test_response_url_expires_after_30_minutes(sandbox, world, server):
    sandbox.create_command(world.team["id"], "incident", server.url, sandbox.admin["id"])
    await sandbox.slash(world.alice["id"], world.channel["id"], "/incident")
    url = server.requests[0]["form"]["response_url"][0]
    hook = sandbox.core.commands.hooks[url.rsplit("/", 1)[1]]
    hook["create_at"] -= 30 * 60 * 1000 + 1
    status, _, text = await post_raw(url, b'{"text": "late"}')
    assert status == 404 and json.loads(text)["id"] == "app.command_webhook.get.missing"


async def test_command_server_500_is_the_real_error(sandbox, world, server):
    sandbox.create_command(world.team["id"], "incident", server.url, sandbox.admin["id"])
    server.answers.append((500, "boom", "text/plain"))
    status, body = await call(sandbox, "POST", "/api/v4/commands/execute", world.alice_token,
                              {"channel_id": world.channel["id"], "command": "/incident start"})
    assert status == 500 and body["id"] == "api.command.execute_command.failed_resp.app_error"
    assert "500" in body["message"]
    server.answers.append((500, "boom", "text/plain"))
    with pytest.raises(AppError) as info:
        await sandbox.slash(world.alice["id"], world.channel["id"], "/incident start")
    assert info.value.error_id == "api.command.execute_command.failed_resp.app_error"


async def test_execute_errors(sandbox, world, server):
    sandbox.create_command(world.team["id"], "incident", server.url, sandbox.admin["id"])
    status, body = await call(sandbox, "POST", "/api/v4/commands/execute", world.alice_token,
                              {"channel_id": world.channel["id"], "command": "incident"})
    assert status == 400 and body["id"] == "api.command.execute_command.start.app_error"
    outsider = sandbox.create_user("carol")
    sandbox.add_team_member(world.team["id"], outsider["id"])
    with pytest.raises(AppError) as info:
        await sandbox.slash(outsider["id"], world.channel["id"], "/incident")
    assert info.value.status == 403
    server.answers.append((200, "", "application/json"))
    with pytest.raises(AppError) as info:
        await sandbox.slash(world.alice["id"], world.channel["id"], "/incident")
    assert info.value.error_id == "api.command.execute_command.failed.app_error"
