"""Test controls over HTTP (/sandbox/v1/...), guarded by a system admin's token, for out-of-process use."""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import invalid_body_param, permission_denied
from .http_util import OK, caller, json_response, query_int

if TYPE_CHECKING:
    from .server import Sandbox

log = logging.getLogger(__name__)

PREFIX = "/sandbox/v1"


class ControlRoutes:
    """Fault injection, latency, rate limiting, websocket drops and statistics."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox

    def register(self, router: web.UrlDispatcher) -> None:
        """Add the control routes."""
        router.add_post(PREFIX + "/websockets/drop", self.drop_websockets)
        router.add_post(PREFIX + "/faults", self.add_fault)
        router.add_delete(PREFIX + "/faults", self.clear_faults)
        router.add_put(PREFIX + "/latency", self.set_latency)
        router.add_post(PREFIX + "/latency", self.set_latency)
        router.add_get(PREFIX + "/rate_limit", self.get_rate_limit)
        router.add_put(PREFIX + "/rate_limit", self.set_rate_limit)
        router.add_post(PREFIX + "/rate_limit", self.set_rate_limit)
        router.add_get(PREFIX + "/stats", self.stats)
        router.add_get(PREFIX + "/requests", self.requests)

    async def _admin_body(self, request: web.Request) -> dict:
        """Check the caller is a system admin and return the JSON body ({} when empty)."""
        if not self.sandbox.core.state.is_admin(caller(request)):
            raise permission_denied()
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            raise invalid_body_param("body") from None
        if not isinstance(body, dict):
            raise invalid_body_param("body")
        return body

    async def drop_websockets(self, request: web.Request) -> web.Response:
        """Abort live websockets: {"user_id"?: str, "forget"?: bool}."""
        body = await self._admin_body(request)
        dropped = self.sandbox.drop_websockets(body.get("user_id") or None, forget=bool(body.get("forget")))
        return json_response({"dropped": dropped})

    async def add_fault(self, request: web.Request) -> web.Response:
        """Fail the next requests: {"count": n, "status"?: 503, "path_prefix"?: ""}."""
        body = await self._admin_body(request)
        count, status = body.get("count", 1), body.get("status", 503)
        if not isinstance(count, int) or not isinstance(status, int) or not 400 <= status <= 599:
            raise invalid_body_param("count/status")
        self.sandbox.fail_next(count, status=status, path_prefix=str(body.get("path_prefix") or ""))
        return json_response({"pending": self.sandbox.runtime.faults.pending()})

    async def clear_faults(self, request: web.Request) -> web.Response:
        """Drop every pending fault."""
        await self._admin_body(request)
        self.sandbox.runtime.faults.clear()
        return json_response(OK)

    async def set_latency(self, request: web.Request) -> web.Response:
        """Add latency to every REST response: {"seconds": float}."""
        body = await self._admin_body(request)
        seconds = body.get("seconds", 0)
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise invalid_body_param("seconds")
        self.sandbox.latency = float(seconds)
        return json_response({"seconds": self.sandbox.latency})

    async def get_rate_limit(self, request: web.Request) -> web.Response:
        """Return the rate-limit settings."""
        await self._admin_body(request)
        return json_response(self._rate_json())

    async def set_rate_limit(self, request: web.Request) -> web.Response:
        """Change rate limiting: {"enabled": bool, "per_sec"?: 10, "burst"?: 100}."""
        body = await self._admin_body(request)
        per_sec, burst = body.get("per_sec", 10), body.get("burst", 100)
        if not isinstance(per_sec, int) or per_sec <= 0 or not isinstance(burst, int) or burst < 0:
            raise invalid_body_param("per_sec/burst")
        self.sandbox.set_rate_limit(bool(body.get("enabled")), per_sec=per_sec, burst=burst)
        return json_response(self._rate_json())

    async def stats(self, request: web.Request) -> web.Response:
        """Return counts of records, connections and requests, and the current knobs."""
        await self._admin_body(request)
        return json_response(self.sandbox.stats())

    async def requests(self, request: web.Request) -> web.Response:
        """Return the request log from index `since` on: [[method, path, status], ...]."""
        await self._admin_body(request)
        start = max(query_int(request, "since", 0), 0)
        return json_response([list(entry) for entry in self.sandbox.request_log[start:]])

    def _rate_json(self) -> dict:
        rate = self.sandbox.runtime.rate
        return {"enabled": rate.enabled, "per_sec": rate.per_sec, "burst": rate.burst}
