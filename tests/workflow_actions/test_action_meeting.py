"""meeting: a Jitsi room, and Zoom through the fake Zoom server of the integration tests."""
from __future__ import annotations

import re

import pytest

from bot.workflow.actions import actions
from bot.workflow.context import Integrations
from bot.workflow.integrations.zoom import ZoomClient
from tests.workflow_actions.conftest import step_args
from tests.workflow_integrations.local_server import serve_tcp
from tests.workflow_integrations.test_zoom_client import ACCOUNT, CLIENT_ID, SECRET, FakeZoom

meeting = actions()["meeting"]


@pytest.fixture
async def zoom():
    fake = FakeZoom()
    async with serve_tcp(fake.app) as url:
        client = ZoomClient(ACCOUNT, CLIENT_ID, SECRET, oauth_base=url, api_base=url + "/v2")
        try:
            yield fake, Integrations(zoom=lambda: client)
        finally:
            await client.close()


async def test_jitsi_posts_and_pins_a_room_link(step):
    integrations = Integrations(jitsi_base="https://meet.example.org/")
    result = await meeting(step.ctx(integrations=integrations), step_args("meeting", {}))
    assert result.ok, result
    url = result.detail["url"]
    assert re.fullmatch(rf"https://meet\.example\.org/{step.incident.key.lower()}-[0-9a-f]{{20}}", url)
    (pinned,) = step.world.sandbox.pinned(step.channel["id"])
    assert url in pinned["message"] and f"{step.incident.key}: Checkout is down" in pinned["message"]
    assert pinned["props"]["incident_bot_step"] and result.detail["post_id"] == pinned["id"]
    assert result.detail["provider"] == "jitsi" and result.summary == f"started a Jitsi call: {url}"


async def test_zoom_creates_a_meeting_with_the_topic_and_posts_its_join_link(step, zoom):
    fake, integrations = zoom
    result = await meeting(step.ctx(integrations=integrations), step_args(
        "meeting", {"provider": "zoom", "topic": "{{ incident.key }} bridge"}))
    assert result.ok, result
    assert fake.meeting_requests[0][1]["topic"] == f"{step.incident.key} bridge"
    assert result.detail == {"provider": "zoom", "meeting_id": 92674392836,
                             "url": "https://example.zoom.us/j/92674392836?pwd=abc",
                             "post_id": result.detail["post_id"]}
    (pinned,) = step.world.sandbox.pinned(step.channel["id"])
    assert "https://example.zoom.us/j/92674392836?pwd=abc" in pinned["message"]
    assert "zak=" not in pinned["message"]  # the host's start link stays private


async def test_zoom_refusing_fails_the_step_without_posting(step, zoom):
    fake, integrations = zoom
    fake.fail_meetings_with = (429, {"code": 429, "message": "You have reached the maximum daily rate limit"})
    result = await meeting(step.ctx(integrations=integrations), step_args("meeting", {"provider": "zoom"}))
    assert not result.ok and result.summary.startswith("Zoom: Zoom answered HTTP 429")
    assert step.world.sandbox.pinned(step.channel["id"]) == []


async def test_zoom_without_configuration_fails(step):
    result = await meeting(step.ctx(), step_args("meeting", {"provider": "zoom"}))
    assert (result.ok, result.summary) == (False, "Zoom is not configured")
