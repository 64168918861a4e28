"""The bot's websocket edge: one read loop that turns Mattermost frames into typed events on a queue.

It checks the per-connection `seq`, resumes with connection_id/sequence_number after a drop, and
says on the queue (Connected.resumed) whether events may have been lost so the app can resync.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from bot.mattermost.events import Connected, Event, PostEvent, event_from_frame
from bot.mattermost.pacing import backoff_delay

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 8 * 2**20


class _Reconnect(Exception):
    """The connection must be dropped and opened again (a seq gap, a stale link, a protocol surprise)."""


class _WatchedConnection(ClientConnection):
    """A client connection that notes when it last received any bytes, control frames included."""

    last_activity: float = 0.0

    def data_received(self, data: bytes) -> None:
        self.last_activity = time.monotonic()
        super().data_received(data)


def websocket_url(base_url: str) -> str:
    """Return the websocket endpoint for a server base URL (http -> ws, https -> wss)."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"Mattermost URL must be http(s)://host[:port][/path], got {base_url!r}")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/api/v4/websocket", "", ""))


def is_own_post(event: Event, bot_user_id: str) -> bool:
    """Whether `event` is a post event about a post the bot itself wrote."""
    return isinstance(event, PostEvent) and bool(bot_user_id) and event.post.user_id == bot_user_id


class WebsocketListener:
    """Keep a websocket open to Mattermost forever and put typed events on `events`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        idle_timeout: float = 100.0,
        healthy_after: float = 60.0,
        resume_grace: float = 1.0,
        open_timeout: float = 10.0,
        close_timeout: float = 2.0,
    ) -> None:
        self.url = websocket_url(base_url)
        self._token = token
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._idle_timeout = idle_timeout
        self._healthy_after = healthy_after
        self._resume_grace = resume_grace
        self._open_timeout = open_timeout
        self._close_timeout = close_timeout
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.connected = asyncio.Event()
        self.user_id = ""
        self.connection_id = ""
        self.expected_seq = 0
        self.connects = 0

    async def run(self) -> None:
        """Connect, read, and reconnect with backoff until cancelled."""
        failures = 0
        while True:
            opened_at = time.monotonic()
            retry_after = 0.0
            try:
                await self._serve_one_connection()
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                retry_after = _retry_after(exc)
                log.warning("websocket upgrade refused: HTTP %s", exc.response.status_code)
            except (_Reconnect, OSError, TimeoutError, WebSocketException) as exc:
                log.warning("websocket connection ended: %r", exc)
            except Exception:
                log.exception("websocket loop error; reconnecting")
            finally:
                self.connected.clear()
            if time.monotonic() - opened_at >= self._healthy_after:
                failures = 0
            delay = max(retry_after, backoff_delay(failures, self._backoff_initial, self._backoff_max))
            failures += 1
            await asyncio.sleep(delay)

    def _connect_url(self) -> str:
        if not self.connection_id:
            return self.url
        query = urlencode({"connection_id": self.connection_id, "sequence_number": self.expected_seq})
        return f"{self.url}?{query}"

    async def _serve_one_connection(self) -> None:
        resuming = bool(self.connection_id)
        async with connect(
            self._connect_url(),
            additional_headers={"Authorization": f"Bearer {self._token}"},
            ping_interval=self._ping_interval,
            ping_timeout=self._ping_timeout,
            open_timeout=self._open_timeout,
            close_timeout=self._close_timeout,
            max_size=MAX_FRAME_BYTES,
            create_connection=_WatchedConnection,
        ) as ws:
            assert isinstance(ws, _WatchedConnection)
            ws.last_activity = time.monotonic()
            self.connects += 1
            try:
                if resuming:
                    await self._start_resumed(ws)
                else:
                    await self._start_fresh(ws)
            except ConnectionClosed:
                if resuming and not self.connected.is_set():
                    # The server closed a resume request before answering it: next time start afresh.
                    self.connection_id = ""
                raise
            while True:
                await self._handle(await self._next_frame(ws))

    async def _start_fresh(self, ws: _WatchedConnection) -> None:
        """Wait for the hello that opens every new connection."""
        frame = await self._next_frame(ws)
        if frame.get("event") != "hello":
            raise _Reconnect(f"expected hello first, got {str(frame)[:200]}")
        self._on_hello(frame)

    async def _start_resumed(self, ws: _WatchedConnection) -> None:
        """Decide whether the server resumed: a hello with a new id says no; a replay or silence says yes."""
        try:
            frame = await self._next_frame(ws, limit=self._resume_grace)
        except TimeoutError:
            self._announce(resumed=True)
            return
        if frame.get("event") == "hello":
            self._on_hello(frame)
            return
        if "event" in frame and frame.get("seq") != self.expected_seq:
            # The replay does not start where we asked: stop trusting this connection id.
            self.connection_id = ""
            raise _Reconnect(f"resume replayed from seq {frame.get('seq')}, expected {self.expected_seq}")
        self._announce(resumed=True)
        await self._handle(frame)

    def _on_hello(self, frame: dict[str, Any]) -> None:
        data = frame.get("data") if isinstance(frame.get("data"), dict) else {}
        broadcast = frame.get("broadcast") if isinstance(frame.get("broadcast"), dict) else {}
        connection_id = data.get("connection_id") if isinstance(data.get("connection_id"), str) else ""
        user_id = broadcast.get("user_id") if isinstance(broadcast.get("user_id"), str) else ""
        if user_id:
            self.user_id = user_id
        seq = frame.get("seq")
        same = bool(connection_id) and connection_id == self.connection_id
        if same:
            # The server kept our connection: the replay continues at the sequence we asked for.
            self._announce(resumed=True)
            return
        self.connection_id = connection_id
        self.expected_seq = seq + 1 if isinstance(seq, int) and not isinstance(seq, bool) else 1
        self._announce(resumed=False)

    def _announce(self, *, resumed: bool) -> None:
        log.info("websocket connected (connection %s, resumed=%s)", self.connection_id, resumed)
        self.events.put_nowait(Connected(connection_id=self.connection_id, user_id=self.user_id, resumed=resumed))
        self.connected.set()

    async def _next_frame(self, ws: _WatchedConnection, limit: float | None = None) -> dict[str, Any]:
        """Return the next JSON object frame; skip frames that do not parse; raise if the link is idle."""
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise TimeoutError
            idle_left = ws.last_activity + self._idle_timeout - now
            if idle_left <= 0:
                raise _Reconnect(f"no frame for {self._idle_timeout:.1f}s")
            wait = idle_left if deadline is None else min(idle_left, deadline - now)
            try:
                async with asyncio.timeout(wait):
                    raw = await ws.recv()
            except TimeoutError:
                continue  # re-check the idle clock and the deadline
            frame = _parse(raw)
            if frame is not None:
                return frame

    async def _handle(self, frame: dict[str, Any]) -> None:
        """Check the sequence of one frame and queue its typed event."""
        if "seq_reply" in frame:
            log.debug("websocket reply %s", frame)
            return
        name = frame.get("event")
        if not isinstance(name, str):
            log.debug("ignoring frame without an event name: %.200s", frame)
            return
        if name == "hello":
            self._on_hello(frame)
            return
        seq = frame.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            log.warning("ignoring %s event without a usable seq: %r", name, seq)
            return
        if seq != self.expected_seq:
            raise _Reconnect(f"sequence gap: expected {self.expected_seq}, got {seq}")
        self.expected_seq = seq + 1
        try:
            event = event_from_frame(frame)
        except Exception:
            log.exception("could not read %s event; skipped", name)
            return
        if event is not None:
            self.events.put_nowait(event)


def _parse(raw: str | bytes) -> dict[str, Any] | None:
    try:
        frame = json.loads(raw)
    except ValueError:
        log.warning("ignoring websocket frame that is not JSON: %.200r", raw)
        return None
    if not isinstance(frame, dict):
        log.warning("ignoring websocket frame that is not an object: %.200r", raw)
        return None
    return frame


def _retry_after(exc: InvalidStatus) -> float:
    """Seconds a refused upgrade asks us to wait (429 Retry-After), or 0."""
    value = exc.response.headers.get("Retry-After") or exc.response.headers.get("X-RateLimit-Reset")
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0
