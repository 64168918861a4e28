"""Meeting links for an incident: Zoom through a server-to-server OAuth app, or a Jitsi room.

Zoom references:
- token: https://developers.zoom.us/docs/rooms/s2s-oauth/ (also /docs/internal-apps/s2s-oauth/):
  POST https://zoom.us/oauth/token?grant_type=account_credentials&account_id=..., Basic client_id:client_secret
  -> 200 {access_token, token_type: "bearer", expires_in: 3600, scope}; no refresh token, just ask again.
- meeting: https://developers.zoom.us/docs/isv/workflows/create-meeting/ ("Create a meeting",
  POST /v2/users/{userId}/meetings, "me" for the token's own user) -> 201 {id, join_url, start_url, password, ...}.
- errors: https://developers.zoom.us/docs/api/errors (API bodies are {"code": 124, "message": "..."});
  https://developers.zoom.us/docs/integrations/oauth-error-messages/ and
  https://developers.zoom.us/blog/s2s-token-generation-troubleshoot/ (the token endpoint answers
  {"reason": "...", "error": "invalid_client"} instead).
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

log = logging.getLogger(__name__)

INSTANT_MEETING = 1
SCHEDULED_MEETING = 2
# Fetch a new token this long before Zoom says the old one expires, so no call carries a dying token.
TOKEN_MARGIN_SECONDS = 60.0


class ZoomError(Exception):
    """Zoom refused or could not be reached; `status` is None when no HTTP answer came back."""

    def __init__(self, message: str, *, status: int | None = None, code: int | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        if self.status is None:
            return self.message
        code = f", code {self.code}" if self.code is not None else ""
        return f"Zoom answered HTTP {self.status}{code}: {self.message}"


@dataclass(frozen=True)
class Meeting:
    """A Zoom meeting people can join."""

    id: int
    join_url: str
    start_url: str = ""
    password: str = ""


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float


class ZoomClient:
    """Creates Zoom meetings, holding one access token until shortly before it expires."""

    def __init__(
        self,
        account_id: str,
        client_id: str,
        client_secret: str,
        *,
        oauth_base: str = "https://zoom.us",
        api_base: str = "https://api.zoom.us/v2",
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._account_id = account_id
        credentials = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        self._basic_auth = {"Authorization": f"Basic {credentials}"}
        self._oauth_base = oauth_base.rstrip("/")
        self._api_base = api_base.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ZoomClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def create_meeting(
        self, topic: str, *, meeting_type: int = INSTANT_MEETING, agenda: str = "", join_before_host: bool = True,
    ) -> Meeting:
        """Create a meeting owned by the app's account owner and return how to join it."""
        body: dict[str, Any] = {
            "topic": topic[:200],  # Zoom caps topics at 200 characters
            "type": meeting_type,
            "settings": {"join_before_host": join_before_host, "jbh_time": 0},
        }
        if agenda:
            body["agenda"] = agenda[:2000]
        status, payload = await self._api("POST", "/users/me/meetings", body)
        if status != 201:
            raise _error(status, payload)
        try:
            return Meeting(id=int(payload["id"]), join_url=str(payload["join_url"]),
                           start_url=str(payload.get("start_url", "")), password=str(payload.get("password", "")))
        except (KeyError, TypeError, ValueError):
            raise ZoomError(f"meeting created but the answer lacks id/join_url: {str(payload)[:200]}",
                            status=status) from None

    async def _api(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """Call the API with the cached token, fetching a fresh one once if Zoom answers 401."""
        token = await self._access_token()
        status, payload = await self._send(method, f"{self._api_base}{path}", body, token)
        if status == 401:
            log.info("Zoom refused the cached token; fetching a new one")
            token = await self._access_token(stale=token)
            status, payload = await self._send(method, f"{self._api_base}{path}", body, token)
        return status, payload

    async def _send(self, method: str, url: str, body: dict[str, Any], token: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        return await self._call(method, url, json=body, headers=headers)

    async def _access_token(self, *, stale: str | None = None) -> str:
        """The cached token, or a new one when it is missing, expiring, or the `stale` one Zoom refused."""
        async with self._token_lock:
            token = self._token
            if token is not None and token.value != stale and self._clock() < token.expires_at:
                return token.value
            status, payload = await self._call(
                "POST", f"{self._oauth_base}/oauth/token",
                params={"grant_type": "account_credentials", "account_id": self._account_id}, headers=self._basic_auth,
            )
            if status != 200:
                raise _error(status, payload, what="token request")
            try:
                value = str(payload["access_token"])
                lifetime = float(payload.get("expires_in", 3600))
            except (KeyError, TypeError, ValueError):
                raise ZoomError("token answer lacks access_token", status=status) from None
            self._token = _Token(value, self._clock() + max(lifetime - TOKEN_MARGIN_SECONDS, 0.0))
            return value

    async def _call(self, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
        """Send one request and return the status with the decoded JSON body (or the text, or None)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        host = urlsplit(url).netloc
        try:
            async with self._session.request(method, url, **kwargs) as response:
                text = await response.text(errors="replace")
                status = response.status
        except TimeoutError:
            raise ZoomError(f"no answer from {host} within {self._timeout.total:g}s") from None
        except aiohttp.ClientError as exc:
            raise ZoomError(f"cannot reach {host}: {exc}") from None
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text


def _error(status: int, payload: Any, *, what: str = "") -> ZoomError:
    """Map a Zoom error answer, API-style {code, message} or OAuth-style {error, reason}, to ZoomError."""
    code = message = None
    if isinstance(payload, dict):
        code = payload.get("code", payload.get("error"))
        message = payload.get("message") or payload.get("reason") or payload.get("error_description")
    if not message:
        message = str(payload)[:200] if payload else "no details"
    if what:
        message = f"{what}: {message}"
    return ZoomError(str(message), status=status, code=code)


def jitsi_link(incident_key: str, base: str = "https://meet.jit.si") -> str:
    """A Jitsi room for the incident: its key, made URL-safe, plus a random suffix nobody can guess."""
    slug = re.sub(r"[^a-z0-9]+", "-", incident_key.lower()).strip("-")[:40].strip("-") or "incident"
    return f"{base.rstrip('/')}/{slug}-{secrets.token_hex(10)}"
