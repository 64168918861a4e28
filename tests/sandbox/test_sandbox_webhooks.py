"""Incoming webhooks: Slack-compatible payloads become real posts and `posted` events."""
from __future__ import annotations

import asyncio
import json

import requests

from sandbox_helpers import connect_ws, next_frame, wait_event

ALERTMANAGER_PAYLOAD = {
    "username": "alertmanager",
    "text": "",
    "attachments": [{
        "fallback": "[FIRING:1] HighErrorRate api (critical)",
        "color": "danger",
        "title": "[FIRING:1] HighErrorRate",
        "title_link": "http://alertmanager.example/#/alerts?receiver=mattermost",
        "pretext": "<!channel> production alert",
        "text": "*Alert:* error rate above 5% - `critical`\n<http://grafana.example/d/api|Dashboard>",
        "fields": [{"title": "severity", "value": "critical", "short": True},
                   {"title": "count", "value": 3, "short": "true"}],
        "footer": "alertmanager",
        "mrkdwn_in": ["text"],
    }],
}


def post_hook(url: str, **kw) -> requests.Response:
    """POST to a webhook URL."""
    return requests.post(url, timeout=5, **kw)


async def test_alertmanager_payload_becomes_a_post_and_an_event(sandbox, world):
    hook = sandbox.create_incoming_hook(world.channel["id"], world.alice["id"], display_name="Alertmanager")
    async with await connect_ws(sandbox, world.bob_token) as ws:
        await next_frame(ws)
        response = await asyncio.to_thread(post_hook, f"{sandbox.url}/hooks/{hook['id']}", json=ALERTMANAGER_PAYLOAD)
        assert response.status_code == 200 and response.text == "ok"
        assert response.headers["Content-Type"].startswith("text/plain")
        stored = sandbox.posts(world.channel["id"])[-1]
        event = await wait_event(ws, "posted", stored["id"])
    assert stored["type"] == "slack_attachment" and stored["message"] == ""
    assert stored["user_id"] == world.alice["id"]
    props = stored["props"]
    assert props["from_webhook"] == "true" and props["webhook_display_name"] == "Alertmanager"
    assert "override_username" not in props
    attachment = props["attachments"][0]
    assert "mrkdwn_in" not in attachment and attachment["ts"] is None and attachment["image_url"] == ""
    assert attachment["pretext"] == "@channel production alert"
    assert attachment["text"].endswith("[Dashboard](http://grafana.example/d/api)")
    assert attachment["fields"][1] == {"title": "count", "value": "3", "short": True}
    assert json.loads(event["data"]["post"])["props"]["attachments"] == props["attachments"]
    assert json.loads(event["data"]["mentions"]) == [world.bob["id"]]


async def test_form_payload_and_link_conversion(sandbox, world):
    hook = sandbox.create_incoming_hook(world.channel["id"], world.alice["id"])
    payload = json.dumps({"text": "see <https://status.example|status page>"})
    response = await asyncio.to_thread(post_hook, f"{sandbox.url}/hooks/{hook['id']}", data={"payload": payload})
    assert response.status_code == 200
    assert sandbox.posts(world.channel["id"])[-1]["message"] == "see [status page](https://status.example)"


async def test_webhook_errors(sandbox, world):
    hook = sandbox.create_incoming_hook(world.channel["id"], world.alice["id"])
    unknown = await asyncio.to_thread(post_hook, f"{sandbox.url}/hooks/{'a' * 26}", json={"text": "x"})
    assert unknown.status_code == 400 and unknown.json()["id"] == "web.incoming_webhook.invalid.app_error"
    empty = await asyncio.to_thread(post_hook, f"{sandbox.url}/hooks/{hook['id']}", json={"text": ""})
    assert empty.status_code == 400 and empty.json()["id"] == "web.incoming_webhook.text.app_error"
    garbage = await asyncio.to_thread(post_hook, f"{sandbox.url}/hooks/{hook['id']}", data=b"{nope",
                                      headers={"Content-Type": "application/json"})
    assert garbage.status_code == 400


async def test_hook_channel_override_to_another_channel(sandbox, world):
    other = sandbox.create_channel(world.team["id"], "alerts", "Alerts", creator_id=world.alice["id"])
    hook = sandbox.create_incoming_hook(world.channel["id"], world.alice["id"])
    response = await asyncio.to_thread(post_hook, f"{sandbox.url}/hooks/{hook['id']}",
                                       json={"text": "routed", "channel": "alerts"})
    assert response.status_code == 200
    assert sandbox.posts(other["id"])[-1]["message"] == "routed"
