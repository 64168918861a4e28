"""Interactive message buttons: a click reaches the integration, whose answer edits the post and whispers back."""
from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import socket

import aiohttp
import pytest
from aiohttp import web

from bot.sandbox import AppError
from sandbox_helpers import connect_ws, next_frame, wait_event

SLOW = "slow"


@dataclasses.dataclass
class Integration:
    """A tiny integration endpoint on port 0: records each request, answers with the next queued answer."""

    url: str = ""
    requests: list = dataclasses.field(default_factory=list)
    answers: list = dataclasses.field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append({"headers": dict(request.headers), "body": json.loads(await request.read())})
        status, body = self.answers.pop(0) if self.answers else (200, b"")
        if body == SLOW:
            await asyncio.sleep(1.3)
            body = b""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return web.Response(status=status, body=raw, content_type="application/json")


@pytest.fixture
async def integration():
    """Serve an Integration on a free port."""
    endpoint = Integration()
    app = web.Application()
    app.router.add_post("/actions", endpoint.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    endpoint.url = f"http://127.0.0.1:{runner.addresses[0][1]}/actions"
    try:
        yield endpoint
    finally:
        await runner.cleanup()


@pytest.fixture
def bot(sandbox, world):
    """A bot user in the world's channel: (user, token)."""
    user, token = sandbox.create_bot("incident-bot")
    sandbox.add_channel_member(world.channel["id"], user["id"])
    return user, token


async def call(sandbox, method: str, path: str, token: str | None, body=None) -> tuple[int, dict]:
    """Make a REST call; return (status, decoded JSON body)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{sandbox.url}/api/v4{path}", json=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)


def buttons(url: str, *, with_ids: bool = False) -> list[dict]:
    """Return one attachment with two buttons (ack, escalate) pointing at url."""
    actions = [
        {"name": "Acknowledge", "type": "button", "style": "primary",
         "integration": {"url": url, "context": {"action": "ack", "incident": 7, "tags": ["db", None]}}},
        {"name": "Escalate", "type": "button", "style": "danger",
         "integration": {"url": url, "context": {"action": "escalate"}}},
    ]
    if with_ids:
        actions[0]["id"], actions[1]["id"] = "ack", "escalate"
    return [{"title": "INC-7 database down", "color": "danger", "actions": actions, "unknown": "dropped"}]


async def bot_post(sandbox, world, bot, attachments: list[dict]) -> dict:
    """Post the attachments as the bot through POST /posts; return the Post answered."""
    status, post = await call(sandbox, "POST", "/posts", bot[1],
                              {"channel_id": world.channel["id"], "message": "Incident 7",
                               "props": {"attachments": attachments}})
    assert status == 201
    return post


def action_ids(post: dict) -> list[str]:
    """Return the ids of the post's actions, in order."""
    return [a["id"] for att in post["props"]["attachments"] for a in att.get("actions", [])]


async def no_event(ws, name: str, timeout: float = 0.3) -> None:
    """Assert that no event with that name arrives within timeout."""
    with pytest.raises(asyncio.TimeoutError):
        await wait_event(ws, name, timeout=timeout)


async def test_create_assigns_action_ids_and_hides_integrations(sandbox, world, bot, integration):
    post = await bot_post(sandbox, world, bot, buttons(integration.url))
    ack, escalate = action_ids(post)
    assert len(ack) == 26 and len(escalate) == 26 and ack != escalate
    action = post["props"]["attachments"][0]["actions"][0]
    assert action == {"id": ack, "type": "button", "name": "Acknowledge", "style": "primary"}
    assert "unknown" not in post["props"]["attachments"][0] and post["props"]["attachments"][0]["fields"] is None
    stored = sandbox.core.state.posts[post["id"]]["props"]["attachments"][0]["actions"][0]
    assert stored["integration"]["url"] == integration.url
    status, fetched = await call(sandbox, "GET", f"/posts/{post['id']}", world.alice_token)
    assert status == 200 and fetched["props"] == post["props"]
    given = await bot_post(sandbox, world, bot, buttons(integration.url, with_ids=True))
    assert action_ids(given) == ["ack", "escalate"]


async def test_click_calls_the_integration_and_applies_its_answer(sandbox, world, bot, integration):
    post = await bot_post(sandbox, world, bot, buttons(integration.url))
    ack, escalate = action_ids(post)
    acked = [{"title": "INC-7 acknowledged", "actions": [
        {"id": escalate, "name": "Escalate", "type": "button",
         "integration": {"url": integration.url, "context": {"action": "escalate"}}},
        {"name": "Resolve", "type": "button", "integration": {"url": integration.url}}]}]
    integration.answers.append((200, {"update": {"message": "Acknowledged by @alice",
                                                 "props": {"attachments": acked, "acked_by": "alice"}},
                                      "ephemeral_text": "You acknowledged <http://inc.example/7|INC-7>",
                                      "goto_location": "http://ignored.example"}))
    async with await connect_ws(sandbox, world.alice_token) as alice_ws, \
            await connect_ws(sandbox, world.bob_token) as bob_ws:
        await next_frame(alice_ws)
        await next_frame(bob_ws)
        status, body = await call(sandbox, "POST", f"/posts/{post['id']}/actions/{ack}", world.alice_token, {})
        edited = await wait_event(bob_ws, "post_edited", post["id"])
        whisper = await wait_event(alice_ws, "ephemeral_message")
        await no_event(bob_ws, "ephemeral_message")

    assert status == 200 and set(body) == {"status", "trigger_id"} and body["status"] == "OK"
    assert len(body["trigger_id"]) == 26
    [sent] = integration.requests
    assert sent["headers"]["Content-Type"] == "application/json" and sent["headers"]["Accept"] == "application/json"
    request = sent["body"]
    trigger = base64.b64decode(request.pop("trigger_id")).decode()
    assert trigger.startswith(f"{body['trigger_id']}:{world.alice['id']}:")
    assert request == {
        "user_id": world.alice["id"], "user_name": "alice", "channel_id": world.channel["id"],
        "channel_name": "incidents", "team_id": world.team["id"], "team_domain": "ops", "post_id": post["id"],
        "type": "button", "data_source": "", "context": {"action": "ack", "incident": 7, "tags": ["db", None]}}

    stored = sandbox.posts(world.channel["id"])[-1]
    assert stored["id"] == post["id"] and stored["message"] == "Acknowledged by @alice"
    assert stored["edit_at"] > 0 and stored["user_id"] == bot[0]["id"]
    assert set(stored["props"]) == {"attachments", "acked_by"}   # from_bot is not retained: the answer replaces props
    kept, added = stored["props"]["attachments"][0]["actions"]
    assert kept == {"id": escalate, "type": "button", "name": "Escalate"} and len(added["id"]) == 26
    assert json.loads(edited["data"]["post"])["props"] == stored["props"]
    assert edited["broadcast"]["channel_id"] == world.channel["id"]

    ephemeral = json.loads(whisper["data"]["post"])
    assert whisper["broadcast"]["user_id"] == world.alice["id"]
    assert whisper["broadcast"]["channel_id"] == world.channel["id"]
    assert ephemeral["type"] == "system_ephemeral" and ephemeral["user_id"] == world.alice["id"]
    assert ephemeral["message"] == "You acknowledged [INC-7](http://inc.example/7)"
    assert ephemeral["root_id"] == post["id"] and ephemeral["props"] == {}
    assert ephemeral["id"] not in sandbox.core.state.posts

    integration.answers.append((200, {}))
    status, _ = await call(sandbox, "POST", f"/posts/{post['id']}/actions/{added['id']}", world.bob_token)
    assert status == 200 and integration.requests[-1]["body"]["user_name"] == "bob"
    assert "context" not in integration.requests[-1]["body"]


async def test_update_without_props_keeps_them_and_without_message_clears_it(sandbox, world, bot, integration):
    post = await bot_post(sandbox, world, bot, buttons(integration.url))
    ack, _ = action_ids(post)
    integration.answers.append((200, {"update": {"message": "only the message"}, "skip_slack_parsing": True}))
    assert (await sandbox.click(world.alice["id"], post["id"], ack))["status"] == "OK"
    stored = sandbox.core.state.posts[post["id"]]
    assert stored["message"] == "only the message" and stored["props"]["from_bot"] == "true"
    assert action_ids(stored)[0] == ack and "integration" in stored["props"]["attachments"][0]["actions"][0]

    integration.answers.append((200, {"update": {"props": {"note": "x"}}}))
    await sandbox.click(world.alice["id"], post["id"], ack)
    assert stored["message"] == "" and stored["props"] == {"note": "x"}
    with pytest.raises(AppError) as gone:
        await sandbox.click(world.alice["id"], post["id"], ack)
    assert gone.value.status == 404 and gone.value.error_id == "api.post.do_action.action_id.app_error"


async def test_selected_option_reaches_a_select_but_not_a_button(sandbox, world, bot, integration):
    select = [{"actions": [
        {"name": "Severity", "type": "select", "options": [{"text": "SEV1", "value": "sev1"}],
         "integration": {"url": integration.url}},
        {"name": "Ack", "type": "button", "integration": {"url": integration.url, "context": {"a": 1}}}]}]
    post = await bot_post(sandbox, world, bot, select)
    menu, button = action_ids(post)
    await call(sandbox, "POST", f"/posts/{post['id']}/actions/{menu}", world.alice_token, {"selected_option": "sev1"})
    await call(sandbox, "POST", f"/posts/{post['id']}/actions/{button}", world.alice_token, {"selected_option": "x"})
    first, second = (r["body"] for r in integration.requests)
    assert first["type"] == "select" and first["context"] == {"selected_option": "sev1"}
    assert second["type"] == "button" and second["context"] == {"a": 1}


async def test_unknown_post_action_and_bad_requests(sandbox, world, bot, integration):
    post = await bot_post(sandbox, world, bot, buttons(integration.url) + [{"actions": [
        {"id": "nohook", "name": "No integration", "type": "button"}]}])
    ack, _ = action_ids(post)[:2]
    unknown = "a" * 26
    status, err = await call(sandbox, "POST", f"/posts/{unknown}/actions/{ack}", world.alice_token)
    assert (status, err["id"]) == (403, "api.context.permissions.app_error")   # no channel: only admins go on
    status, err = await call(sandbox, "POST", f"/posts/{unknown}/actions/{ack}", sandbox.admin_token)
    assert (status, err["id"]) == (404, "app.post.get.app_error")
    for action_id in (unknown, "nohook"):
        status, err = await call(sandbox, "POST", f"/posts/{post['id']}/actions/{action_id}", world.alice_token)
        assert (status, err["id"]) == (404, "api.post.do_action.action_id.app_error")
    status, err = await call(sandbox, "POST", f"/posts/short/actions/{ack}", world.alice_token)
    assert (status, err["id"]) == (400, "api.context.invalid_url_param.app_error")
    status, err = await call(sandbox, "POST", f"/posts/{post['id']}/actions/{ack}", None)
    assert status == 401
    status, err = await call(sandbox, "POST", f"/posts/{post['id']}/actions/{ack}", world.alice_token,
                             {"cookie": "not-issued-by-this-server"})
    assert (status, err["id"]) == (400, "api.post.do_action.action_integration.app_error")
    assert integration.requests == []
    assert (await call(sandbox, "DELETE", f"/posts/{post['id']}", bot[1]))[0] == 200
    status, err = await call(sandbox, "POST", f"/posts/{post['id']}/actions/{ack}", world.alice_token)
    assert (status, err["id"]) == (404, "app.post.get.app_error")


async def test_integration_failures_are_400_and_leave_the_post(sandbox, world, bot, integration):
    sandbox.core.settings = dataclasses.replace(sandbox.core.settings, outgoing_integration_requests_timeout=1)
    post = await bot_post(sandbox, world, bot, buttons(integration.url))
    ack, _ = action_ids(post)
    integration.answers += [(500, {"update": {"message": "no"}}), (200, b"{not json"), (200, ["a list"]),
                            (200, {"update": {"message": 5}}), (200, SLOW)]
    for _ in range(5):
        status, err = await call(sandbox, "POST", f"/posts/{post['id']}/actions/{ack}", world.alice_token)
        assert (status, err["id"]) == (400, "api.post.do_action.action_integration.app_error")
    assert len(integration.requests) == 5

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed_port = free.getsockname()[1]
    stored = sandbox.core.state.posts[post["id"]]
    stored["props"]["attachments"][0]["actions"][0]["integration"]["url"] = f"http://127.0.0.1:{closed_port}/x"
    status, err = await call(sandbox, "POST", f"/posts/{post['id']}/actions/{ack}", world.alice_token)
    assert (status, err["id"]) == (400, "api.post.do_action.action_integration.app_error")
    assert stored["message"] == "Incident 7" and stored["edit_at"] == 0


async def test_who_may_click(sandbox, world, bot, integration):
    private = sandbox.create_channel(world.team["id"], "war-room", "War room", type="P", creator_id=bot[0]["id"])
    sandbox.add_channel_member(private["id"], world.alice["id"])
    status, post = await call(sandbox, "POST", "/posts", bot[1], {
        "channel_id": private["id"], "message": "private", "props": {"attachments": buttons(integration.url)}})
    ack, _ = action_ids(post)
    outsider = sandbox.create_user("carol")
    for token in (world.bob_token, sandbox.create_token(outsider["id"])):
        status, err = await call(sandbox, "POST", f"/posts/{post['id']}/actions/{ack}", token)
        assert (status, err["id"]) == (403, "api.context.permissions.app_error")
    assert integration.requests == []
    assert (await sandbox.click(world.alice["id"], post["id"], ack))["status"] == "OK"

    public = await bot_post(sandbox, world, bot, buttons(integration.url))
    onlooker = sandbox.create_user("dave")
    sandbox.add_team_member(world.team["id"], onlooker["id"])
    assert onlooker["id"] not in sandbox.channel_members(world.channel["id"])
    assert (await sandbox.click(onlooker["id"], public["id"], action_ids(public)[0]))["status"] == "OK"
    with pytest.raises(AppError) as denied:
        await sandbox.click(outsider["id"], public["id"], action_ids(public)[0])
    assert denied.value.status == 403


async def test_ids_are_generated_for_webhook_posts_and_patches(sandbox, world, bot, integration):
    hook = sandbox.create_incoming_hook(world.channel["id"], world.alice["id"])
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{sandbox.url}/hooks/{hook['id']}", json={"attachments": buttons(integration.url)}):
            pass
    hooked = sandbox.posts(world.channel["id"])[-1]
    assert all(len(i) == 26 for i in action_ids(hooked)) and len(action_ids(hooked)) == 2
    post = await bot_post(sandbox, world, bot, buttons(integration.url, with_ids=True))
    patched_attachments = buttons(integration.url, with_ids=True)
    del patched_attachments[0]["actions"][1]["id"]
    status, patched = await call(sandbox, "PUT", f"/posts/{post['id']}/patch", bot[1],
                                 {"props": {"attachments": patched_attachments}})
    assert status == 200 and action_ids(patched)[0] == "ack" and len(action_ids(patched)[1]) == 26
    assert "integration" not in patched["props"]["attachments"][0]["actions"][1]
