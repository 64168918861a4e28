"""The request pipeline: request ids, rate limiting, fault injection, latency, auth and error bodies."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import AppError, internal_error, route_not_found
from .faults import Faults
from .http_util import REQUEST_ID_KEY, TOKEN_KEY, USER_KEY, json_response
from .ids import new_id
from .ratelimit import GcraLimiter, RateLimitResult, RateLimitSettings

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/sandbox/"
RATE_KEY = web.RequestKey("sandbox_rate", RateLimitResult)
FAULT_MESSAGES = {429: "limit exceeded", 500: "An internal error occurred.", 502: "Bad gateway.",
                  503: "The service is temporarily unavailable.", 504: "Gateway timeout."}


@dataclass
class Runtime:
    """Knobs that change while the server runs: latency, faults, rate limiting, and the request log."""

    latency: float = 0.0
    faults: Faults = field(default_factory=Faults)
    rate: RateLimitSettings = field(default_factory=RateLimitSettings)
    limiter: GcraLimiter = field(default_factory=lambda: GcraLimiter(RateLimitSettings()))
    request_log: list[tuple[str, str, int]] = field(default_factory=list)

    def set_rate_limit(self, enabled: bool, per_sec: int = 10, burst: int = 100) -> None:
        """Replace the rate-limit settings and start from full buckets."""
        self.rate = RateLimitSettings(enabled=enabled, per_sec=per_sec, burst=burst)
        self.limiter = GcraLimiter(self.rate)


def token_from(request: web.Request) -> str:
    """Return the token of a request: Authorization (Bearer or Token), the MMAUTHTOKEN cookie, or access_token."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return request.cookies.get("MMAUTHTOKEN") or request.query.get("access_token", "")


def rate_limited_response(result: RateLimitResult) -> web.Response:
    """Return the plain-text 429 of http.Error(w, "limit exceeded", 429)."""
    response = web.Response(text="limit exceeded\n", status=429, content_type="text/plain", charset="utf-8")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def build_middleware(core: Core, runtime: Runtime):
    """Return the aiohttp middleware that wraps every request."""

    @web.middleware
    async def pipeline(request: web.Request, handler):
        request_id = new_id()
        request[REQUEST_ID_KEY] = request_id
        control = request.path.startswith(CONTROL_PREFIX)
        try:
            if not control and runtime.rate.enabled:
                result = runtime.limiter.check(request.remote or "")
                request[RATE_KEY] = result
                if result.limited:
                    return rate_limited_response(result)
            if not control:
                status = runtime.faults.take(request.path)
                if status is not None:
                    raise AppError(status, "sandbox.fault_injected.app_error",
                                   FAULT_MESSAGES.get(status, "Injected failure."))
                if runtime.latency > 0:
                    await asyncio.sleep(runtime.latency)
            token = token_from(request)
            request[TOKEN_KEY] = token
            request[USER_KEY] = core.state.user_for_token(token) if token else None
            return await handler(request)
        except AppError as err:
            return json_response(err.to_json(request_id), err.status)
        except web.HTTPNotFound:
            return json_response(route_not_found().to_json(request_id), 404)
        except web.HTTPMethodNotAllowed:
            err = AppError(405, "api.context.405.app_error", "Method not allowed.")
            return json_response(err.to_json(request_id), 405)
        except web.HTTPException:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("unhandled error on %s %s", request.method, request.path)
            return json_response(internal_error(repr(exc)).to_json(request_id), 500)

    return pipeline


def build_header_hook(core: Core, runtime: Runtime):
    """Return the on_response_prepare hook that stamps headers on every response and logs it."""

    async def stamp(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-Request-Id"] = request.get(REQUEST_ID_KEY) or new_id()
        response.headers["X-Version-Id"] = core.version_id()
        if request.method == "GET":
            response.headers.setdefault("Expires", "0")
        result = request.get(RATE_KEY)
        if result is not None:
            response.headers.update(result.headers())
        if not request.path.startswith(CONTROL_PREFIX):
            runtime.request_log.append((request.method, request.path, response.status))

    return stamp
