"""ZoomClient against a local server speaking Zoom's token and create-meeting routes; jitsi_link.

Payload shapes follow Zoom's documentation:
- token: https://developers.zoom.us/docs/rooms/s2s-oauth/ ({access_token, token_type, expires_in, scope})
- meeting: https://developers.zoom.us/docs/isv/workflows/create-meeting/ (201 {id, join_url, start_url, ...})
- errors: https://developers.zoom.us/docs/api/errors ({code, message}) and
  https://developers.zoom.us/docs/integrations/oauth-error-messages/ (token endpoint: {reason, error})
"""
from __future__ import annotations

import base64
import re

import pytest
from aiohttp import web

from bot.workflow.integrations.zoom import Meeting, ZoomClient, ZoomError, jitsi_link
from tests.mosquitto import free_port
from tests.workflow_integrations.local_server import serve_tcp

ACCOUNT, CLIENT_ID, SECRET = "acct-1", "client-1", "s3cret"


class FakeZoom:
    """Zoom's OAuth and meetings routes, recording what the client sent."""

    def __init__(self) -> None:
        self.token_requests: list[web.Request] = []
        self.meeting_requests: list[tuple[str, dict]] = []
        self.valid_tokens: set[str] = set()
        self.expires_in = 3600
        self.reject_every_token = False
        self.fail_meetings_with: tuple[int, dict] | None = None
        self.app = web.Application()
        self.app.router.add_post("/oauth/token", self.token)
        self.app.router.add_post("/v2/users/me/meetings", self.create_meeting)

    async def token(self, request: web.Request) -> web.Response:
        self.token_requests.append(request)
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
                                     status=401)
        if request.query.get("grant_type") != "account_credentials" or request.query.get("account_id") != ACCOUNT:
            return web.json_response({"reason": "unsupported grant type", "error": "unsupported_grant_type"},
                                     status=400)
        token = f"tok-{len(self.token_requests)}"
        self.valid_tokens.add(token)
        return web.json_response({"access_token": token, "token_type": "bearer", "expires_in": self.expires_in,
                                  "scope": "meeting:write:meeting:admin", "api_url": "https://api.zoom.us"})

    async def create_meeting(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        body = await request.json()
        self.meeting_requests.append((auth, body))
        if self.reject_every_token or auth.removeprefix("Bearer ") not in self.valid_tokens:
            return web.json_response({"code": 124, "message": "Invalid access token."}, status=401)
        if self.fail_meetings_with:
            status, payload = self.fail_meetings_with
            return web.json_response(payload, status=status)
        return web.json_response({
            "uuid": "aDYlohsHRtCd4ii1uC2+hA==", "id": 92674392836, "host_id": "AbcDefGHi",
            "host_email": "ops@example.com",
            "topic": body["topic"], "type": body["type"], "status": "waiting", "timezone": "UTC",
            "created_at": "2026-01-01T10:00:00Z", "start_url": "https://example.zoom.us/s/92674392836?zak=secret",
            "join_url": "https://example.zoom.us/j/92674392836?pwd=abc", "password": "123456",
            "settings": body.get("settings", {}), "pre_schedule": False,
        }, status=201)

    def revoke_all(self) -> None:
        self.valid_tokens.clear()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def zoom():
    fake = FakeZoom()
    async with serve_tcp(fake.app) as base:
        fake.base = base
        yield fake


def client_for(zoom: FakeZoom, *, secret: str = SECRET, clock=None) -> ZoomClient:
    extra = {"clock": clock} if clock else {}
    return ZoomClient(ACCOUNT, CLIENT_ID, secret, oauth_base=zoom.base, api_base=f"{zoom.base}/v2", **extra)


async def test_create_meeting_authenticates_and_returns_the_join_url(zoom):
    async with client_for(zoom) as client:
        meeting = await client.create_meeting("INC-42: checkout down")
    assert meeting == Meeting(id=92674392836, join_url="https://example.zoom.us/j/92674392836?pwd=abc",
                              start_url="https://example.zoom.us/s/92674392836?zak=secret", password="123456")
    assert len(zoom.token_requests) == 1
    auth, body = zoom.meeting_requests[0]
    assert auth == "Bearer tok-1"
    assert body["topic"] == "INC-42: checkout down" and body["type"] == 1
    assert body["settings"]["join_before_host"] is True


async def test_token_is_reused_until_it_nears_expiry(zoom):
    clock = FakeClock()
    async with client_for(zoom, clock=clock) as client:
        await client.create_meeting("one")
        clock.now += 3000
        await client.create_meeting("two")
        assert len(zoom.token_requests) == 1
        clock.now += 560  # 3560 s in: within the last minute of the hour
        await client.create_meeting("three")
    assert len(zoom.token_requests) == 2
    assert [auth for auth, _ in zoom.meeting_requests] == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]


async def test_a_401_from_the_api_fetches_a_new_token_once(zoom):
    async with client_for(zoom) as client:
        await client.create_meeting("first")
        zoom.revoke_all()  # e.g. the app was reactivated; the cached token is dead before its time
        meeting = await client.create_meeting("second")
    assert meeting.id == 92674392836
    assert len(zoom.token_requests) == 2
    assert [auth for auth, _ in zoom.meeting_requests] == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]


async def test_a_401_that_persists_is_reported_after_one_retry(zoom):
    zoom.reject_every_token = True
    async with client_for(zoom) as client:
        with pytest.raises(ZoomError) as caught:
            await client.create_meeting("doomed")
    assert (caught.value.status, caught.value.code, caught.value.message) == (401, 124, "Invalid access token.")
    assert len(zoom.token_requests) == 2 and len(zoom.meeting_requests) == 2


@pytest.mark.parametrize("status, payload, code, message", [
    (404, {"code": 1001, "message": "User does not exist: me."}, 1001, "User does not exist: me."),
    (400, {"code": 300, "message": "Validation Failed.", "errors": [{"field": "topic", "message": "Invalid field."}]},
     300, "Validation Failed."),
    (429, {"code": 429, "message": "You have reached the maximum per-second rate limit for this API."}, 429,
     "You have reached the maximum per-second rate limit for this API."),
])
async def test_api_errors_carry_status_code_and_message(zoom, status, payload, code, message):
    zoom.fail_meetings_with = (status, payload)
    async with client_for(zoom) as client:
        with pytest.raises(ZoomError) as caught:
            await client.create_meeting("x")
    error = caught.value
    assert (error.status, error.code, error.message) == (status, code, message)
    assert f"HTTP {status}" in str(error) and message in str(error)


async def test_bad_credentials_fail_at_the_token_endpoint(zoom):
    async with client_for(zoom, secret="wrong") as client:
        with pytest.raises(ZoomError) as caught:
            await client.create_meeting("x")
    assert (caught.value.status, caught.value.code) == (401, "invalid_client")
    assert "Invalid client_id or client_secret" in caught.value.message
    assert zoom.meeting_requests == []


async def test_unreachable_zoom_is_a_zoom_error():
    base = f"http://127.0.0.1:{free_port()}"
    async with ZoomClient(ACCOUNT, CLIENT_ID, SECRET, oauth_base=base, api_base=f"{base}/v2") as client:
        with pytest.raises(ZoomError) as caught:
            await client.create_meeting("x")
    assert caught.value.status is None and "cannot reach" in str(caught.value)


def test_jitsi_link_is_unique_and_unguessable():
    first, second = jitsi_link("INC-42"), jitsi_link("INC-42")
    assert first != second
    match = re.fullmatch(r"https://meet\.jit\.si/inc-42-([0-9a-f]{20})", first)
    assert match, first


def test_jitsi_link_makes_any_key_url_safe():
    link = jitsi_link("Payments / EU: 500s!", base="https://jitsi.example.org/")
    assert re.fullmatch(r"https://jitsi\.example\.org/payments-eu-500s-[0-9a-f]{20}", link), link
    assert re.fullmatch(r"https://meet\.jit\.si/incident-[0-9a-f]{20}", jitsi_link("¿?"))
