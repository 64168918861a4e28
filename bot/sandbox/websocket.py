"""GET /api/v4/websocket: upgrade, authentication, the read loop and the client actions."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from .events import Event
from .http_util import USER_KEY
from .hub import WebConn
from .ids import now_ms
from .models import SERVER_VERSION

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

MAX_CLIENT_FRAME = 8 * 1024


def ws_error(seq: int, error_id: str, message: str, status: int) -> dict:
    """Return a FAIL response (returnWebSocketError: detailed_error blanked)."""
    return {"status": "FAIL", "seq_reply": seq,
            "error": {"id": error_id, "message": message, "detailed_error": "", "status_code": status}}


def ws_ok(seq: int, data: dict | None = None) -> dict:
    """Return an OK response (data omitted when empty)."""
    response: dict[str, Any] = {"status": "OK", "seq_reply": seq}
    if data:
        response["data"] = data
    return response


class WebsocketEndpoint:
    """Serve Mattermost's websocket on the REST port, one handler task per socket."""

    def __init__(self, core: Core, ping_interval: float = 60.0, auth_timeout: float = 5.0):
        self.core = core
        self.hub = core.hub
        self.ping_interval = ping_interval
        self.auth_timeout = auth_timeout

    def register(self, router: web.UrlDispatcher, api: str) -> None:
        """Add the websocket route (a trailing slash is accepted)."""
        router.add_get(api + "/websocket", self.handle)
        router.add_get(api + "/websocket/", self.handle)

    def origin_allowed(self, request: web.Request) -> bool:
        """Apply OriginChecker: no Origin is fine, "null" is not, otherwise the host must match."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        if origin == "null":
            return False
        site = self.core.settings.site_url
        expected = urlsplit(site).netloc if site else request.host
        return urlsplit(origin).netloc == expected

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Upgrade, authenticate (header or challenge), then read client frames until the socket ends."""
        if not self.origin_allowed(request):
            return web.Response(status=403, text="websocket: request origin not allowed by Upgrader.CheckOrigin")
        socket = web.WebSocketResponse(heartbeat=self.ping_interval, max_msg_size=MAX_CLIENT_FRAME, compress=False)
        await socket.prepare(request)
        user = request.get(USER_KEY)
        conn: WebConn | None = None
        if user is not None:
            sequence = self._resume_sequence(request)
            if sequence is None:
                await socket.close()
                return socket
            conn = self.hub.open(user["id"], request.query.get("connection_id", ""), sequence)
            conn.attach(socket, request.transport)
            self.core.statuses.connected(conn.user_id)
        deadline = asyncio.get_running_loop().time() + self.auth_timeout
        try:
            while True:
                timeout = None if conn else deadline - asyncio.get_running_loop().time()
                if timeout is not None and timeout <= 0:
                    log.debug("websocket did not authenticate in time")
                    break
                try:
                    message = await asyncio.wait_for(socket.receive(), timeout)
                except asyncio.TimeoutError:
                    continue
                if message.type != WSMsgType.TEXT:
                    break
                try:
                    frame = json.loads(message.data)
                    if not isinstance(frame, dict):
                        raise ValueError("not an object")
                except ValueError:
                    break
                conn, keep_open = await self._handle_frame(socket, request.transport, conn, frame)
                if not keep_open:
                    break
        finally:
            if conn is not None:
                conn.detach(socket)
                self.core.statuses.disconnected(conn.user_id)
            if not socket.closed:
                await socket.close()
        return socket

    def _resume_sequence(self, request: web.Request) -> int | None:
        """Return the sequence_number to resume from (0 without connection_id), or None to close."""
        if not request.query.get("connection_id"):
            return 0
        raw = request.query.get("sequence_number")
        try:
            value = int(raw) if raw is not None else -1
        except ValueError:
            value = -1
        return value if value >= 0 else None

    async def _handle_frame(self, socket: web.WebSocketResponse, transport: Any, conn: WebConn | None,
                            frame: dict) -> tuple[WebConn | None, bool]:
        """Route one client request; return (connection, keep the socket open)."""
        seq = frame.get("seq") if isinstance(frame.get("seq"), int) else 0
        action = frame.get("action") if isinstance(frame.get("action"), str) else ""
        data = frame.get("data") if isinstance(frame.get("data"), dict) else {}
        error = None
        if not action:
            error = ws_error(seq, "api.web_socket_router.no_action.app_error", "No websocket action.", 400)
        elif seq <= 0:
            error = ws_error(seq, "api.web_socket_router.bad_seq.app_error", "Invalid sequence for websocket "
                             "message.", 400)
        elif action == "authentication_challenge":
            if conn is not None:
                return conn, True
            token = data.get("token")
            user = self.core.state.user_for_token(token) if isinstance(token, str) else None
            if user is None:
                return None, False
            conn = self.hub.open(user["id"])
            conn.attach(socket, transport)
            self.core.statuses.connected(conn.user_id)
            self.hub.respond(conn, ws_ok(seq))
        elif conn is None:
            error = ws_error(seq, "api.web_socket_router.not_authenticated.app_error",
                             "No websocket session, please log in.", 401)
        elif not action.startswith("custom_"):
            self.hub.respond(conn, self._action(conn, seq, action, data))
        if error is not None:
            if conn is not None:
                self.hub.respond(conn, error)
            else:
                await socket.send_str(json.dumps(error))
        return conn, True

    def _action(self, conn: WebConn, seq: int, action: str, data: dict) -> dict:
        """Run one authenticated action and return its response."""
        if action == "ping":
            return ws_ok(seq, {"text": "pong", "version": SERVER_VERSION, "server_time": now_ms(), "node_id": ""})
        if action == "user_typing":
            channel_id = data.get("channel_id")
            if not isinstance(channel_id, str) or not self.core.state.is_member(channel_id, conn.user_id):
                return ws_error(seq, "api.websocket_handler.invalid_param.app_error", "Invalid channel_id "
                                "parameter.", 400)
            self.hub.publish(Event("typing", {"parent_id": str(data.get("parent_id") or ""), "user_id": conn.user_id},
                                   channel_id=channel_id, omit_users=frozenset({conn.user_id})))
            return ws_ok(seq)
        if action == "get_statuses":   # GetAllStatuses, offline ones left out (StatusMapToInterfaceMap)
            statuses = (self.core.statuses.get(u) for u in self.core.state.statuses)
            return ws_ok(seq, {st["user_id"]: st["status"] for st in statuses if st["status"] != "offline"})
        if action == "get_statuses_by_ids":   # GetStatusesByIds: every id answered, unknown ones offline
            ids = data.get("user_ids")
            if not isinstance(ids, list):
                return ws_error(seq, "api.websocket_handler.invalid_param.app_error", "Invalid user_ids "
                                "parameter.", 400)
            return ws_ok(seq, {u: self.core.statuses.get(u)["status"] for u in ids if isinstance(u, str)})
        if action in ("user_update_active_status", "posted_notify_ack"):
            return ws_ok(seq)
        return ws_error(seq, "api.web_socket_router.bad_action.app_error", "Unknown websocket action.", 500)
