"""HTTP alert receiver: Alertmanager `webhook_configs` and generic JSON alerts, POSTed with a bearer token.

Alertmanager authenticates with `http_config.authorization.credentials` (type defaults to `Bearer`), which
makes it send `Authorization: Bearer <token>`. It treats any 2xx as delivered, retries on 5xx and gives up
on 4xx, so the answers here are chosen for that: bad input is 400 (retrying cannot fix it), a failure to
take the alerts in is 503 (a retry may succeed). Nothing is half-applied: `on_alerts` gets the whole
validated list once, or is not called.
"""
from __future__ import annotations

import hmac
import json
import logging
from typing import Any, Awaitable, Callable

from aiohttp import web

from bot.alerts.model import Alert
from bot.alerts.payloads import PayloadError, alerts_from_alertmanager_webhook, alerts_from_generic_json

log = logging.getLogger(__name__)

OnAlerts = Callable[[list[Alert]], Awaitable[None]]
PayloadReader = Callable[[Any], list[Alert]]

ALERTMANAGER_PATH = "/alerts/alertmanager"
GENERIC_PATH = "/alerts/generic"
DEFAULT_MAX_BODY = 1_048_576
_READ_CHUNK = 65_536
_REALM = 'Bearer realm="incident-bot"'


class _Refusal(Exception):
    """A request answered with an error status before any alert is handed on."""

    def __init__(self, status: int, error: str, *, field: str = "", headers: dict[str, str] | None = None):
        super().__init__(error)
        self.status = status
        self.error = error
        self.field = field
        self.headers = headers or {}

    def response(self) -> web.Response:
        body: dict[str, str] = {"error": self.error}
        if self.field:
            body["field"] = self.field
        return web.json_response(body, status=self.status, headers=self.headers)


class AlertReceiver:
    """Accept alert webhooks over HTTP, validate them whole, and pass the alerts to `on_alerts`."""

    def __init__(self, on_alerts: OnAlerts, *, token: str, max_body: int = DEFAULT_MAX_BODY) -> None:
        if not token or not token.strip():
            raise ValueError("the alert receiver needs a non-empty token")
        if max_body < 1:
            raise ValueError("max_body must be at least 1 byte")
        self._on_alerts = on_alerts
        self._token = token.encode("utf-8")
        self._max_body = max_body
        self._runner: web.AppRunner | None = None

    def routes(self) -> list[web.RouteDef]:
        """Return the POST routes, for mounting on the bot's own aiohttp application."""
        return [
            web.post(ALERTMANAGER_PATH, self._receive_alertmanager),
            web.post(GENERIC_PATH, self._receive_generic),
        ]

    def app(self) -> web.Application:
        """Build a standalone application that serves only the alert routes."""
        application = web.Application()
        application.add_routes(self.routes())
        return application

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start a standalone server (port 0 picks a free one) and return its base URL."""
        if self._runner is not None:
            raise RuntimeError("the alert receiver is already serving")
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        return f"http://{url_host}:{bound_port}"

    async def close(self) -> None:
        """Stop the standalone server started by `serve`."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _receive_alertmanager(self, request: web.Request) -> web.Response:
        return await self._receive(request, alerts_from_alertmanager_webhook, "alertmanager")

    async def _receive_generic(self, request: web.Request) -> web.Response:
        return await self._receive(request, alerts_from_generic_json, "generic")

    async def _receive(self, request: web.Request, read_alerts: PayloadReader, kind: str) -> web.Response:
        try:
            self._check_token(request)
            body = await self._read_body(request)
            alerts = _alerts_from_body(body, read_alerts)
        except _Refusal as refusal:
            log.info("%s alert webhook from %s refused (%s): %s",
                     kind, request.remote, refusal.status, refusal.error)
            return refusal.response()
        try:
            await self._on_alerts(alerts)
        except Exception:
            log.exception("%s alert webhook: handling %d alerts failed; asking the sender to retry",
                          kind, len(alerts))
            return web.json_response(
                {"error": "the alerts could not be taken in; retry later"},
                status=503, headers={"Retry-After": "5"},
            )
        log.info("%s alert webhook: took %d alerts", kind, len(alerts))
        return web.json_response({"status": "accepted", "alerts": len(alerts)})

    def _check_token(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        if not header:
            raise _Refusal(401, "missing bearer token (Authorization: Bearer <token>)",
                           headers={"WWW-Authenticate": _REALM})
        scheme, _, credentials = header.partition(" ")
        given = credentials.strip().encode("utf-8", "surrogateescape")
        # Compare even on a wrong scheme so the answer takes the same time either way.
        matches = hmac.compare_digest(given, self._token)
        if scheme.lower() != "bearer" or not matches:
            raise _Refusal(401, "invalid bearer token",
                           headers={"WWW-Authenticate": f'{_REALM}, error="invalid_token"'})

    async def _read_body(self, request: web.Request) -> bytes:
        declared = request.content_length
        if declared is not None and declared > self._max_body:
            raise _Refusal(413, f"body of {declared} bytes is over the {self._max_body} byte limit")
        if not _is_json_type(request.content_type):
            raise _Refusal(400, f"content type must be application/json, not {request.content_type!r}",
                           field="Content-Type")
        chunks: list[bytes] = []
        size = 0
        while chunk := await request.content.read(_READ_CHUNK):
            size += len(chunk)
            if size > self._max_body:
                raise _Refusal(413, f"body is over the {self._max_body} byte limit")
            chunks.append(chunk)
        return b"".join(chunks)


def _is_json_type(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json"))


def _alerts_from_body(body: bytes, read_alerts: PayloadReader) -> list[Alert]:
    """Decode and validate a whole body, or raise a 400 `_Refusal` naming the field at fault."""
    if not body.strip():
        raise _Refusal(400, "body is empty; expected a JSON object", field="body")
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _Refusal(400, f"body is not UTF-8 (byte {exc.start})", field="body") from None
    except json.JSONDecodeError as exc:
        raise _Refusal(400, f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                       field="body") from None
    except RecursionError:
        raise _Refusal(400, "body is nested too deeply", field="body") from None
    try:
        return read_alerts(payload)
    except PayloadError as exc:
        raise _Refusal(400, f"{exc.field}: {exc.reason}", field=exc.field) from None
