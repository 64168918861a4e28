"""The websocket hub: per-connection queues and sequence numbers, broadcast scoping, and resume."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from typing import Any, Callable

from .events import Event, hello_event
from .ids import new_id
from .state import State

log = logging.getLogger(__name__)

SEND_QUEUE_SIZE = 256
DEAD_QUEUE_SIZE = 128
DROPPABLE_WHEN_SLOW = frozenset({"typing", "status_change", "multiple_channels_viewed"})


class WebConn:
    """One logical websocket connection: survives a disconnect as long as it stays resumable."""

    def __init__(self, user_id: str, connection_id: str, server_version: str):
        self.user_id = user_id
        self.connection_id = connection_id
        self.server_version = server_version
        self.sequence = 0
        self.dead_queue: deque[dict] = deque(maxlen=DEAD_QUEUE_SIZE)
        self.queue: deque[tuple[str, Any]] = deque()
        self.replay: list[dict] = []
        self.socket: Any = None
        self.transport: Any = None
        self.writer: asyncio.Task | None = None
        self.wakeup = asyncio.Event()
        self.inactive_since: float | None = None

    @property
    def active(self) -> bool:
        """Tell whether a live socket is attached."""
        return self.socket is not None

    def push(self, kind: str, item: Any) -> bool:
        """Queue an event or a response; return False when the queue overflows."""
        if len(self.queue) >= SEND_QUEUE_SIZE:
            return False
        if kind == "event" and item.name in DROPPABLE_WHEN_SLOW and len(self.queue) >= SEND_QUEUE_SIZE // 2:
            return True
        self.queue.append((kind, item))
        self.wakeup.set()
        return True

    def resume_from(self, sequence_number: int) -> bool:
        """Prepare a resume from sequence_number; return False when events were lost (a gap)."""
        seqs = [frame["seq"] for frame in self.dead_queue]
        if sequence_number in seqs:
            start = seqs.index(sequence_number)
            self.replay = list(self.dead_queue)[start:]
            return True
        if not seqs:
            return sequence_number == self.sequence
        return seqs[-1] == sequence_number - 1

    def restart(self) -> None:
        """Start over after a failed resume: new connection id, seq 0, hello first, queued events kept."""
        self.dead_queue.clear()
        self.replay = []
        self.connection_id = new_id()
        self.sequence = 0
        self.queue.appendleft(("event", hello_event(self.user_id, self.connection_id, self.server_version)))

    def attach(self, socket: Any, transport: Any) -> None:
        """Bind a live socket and start writing to it."""
        self.socket, self.transport, self.inactive_since = socket, transport, None
        self.wakeup.set()
        self.writer = asyncio.get_running_loop().create_task(self._write_loop(socket))

    def detach(self, socket: Any = None) -> None:
        """Unbind the socket (only if it is still `socket`, when given); the connection stays resumable."""
        if socket is not None and socket is not self.socket:
            return
        if self.writer and self.writer is not asyncio.current_task():
            self.writer.cancel()
        self.writer = None
        self.socket = None
        self.inactive_since = time.monotonic()

    def abort(self) -> None:
        """Cut the TCP connection without a close handshake."""
        transport, socket = self.transport, self.socket
        self.detach()
        if transport is not None:
            transport.abort()
        elif socket is not None:
            asyncio.get_running_loop().create_task(socket.close())

    async def _write_loop(self, socket: Any) -> None:
        """Write replayed frames, then queued events (numbered here) and responses, in order."""
        try:
            replay, self.replay = self.replay, []
            for frame in replay:
                await socket.send_str(json.dumps(frame))
            while True:
                while self.queue:
                    kind, item = self.queue.popleft()
                    if kind == "event":
                        frame = item.frame_for(self.user_id)
                        frame["seq"] = self.sequence
                        self.sequence += 1
                        self.dead_queue.append(frame)
                    else:
                        frame = item
                    await socket.send_str(json.dumps(frame))
                self.wakeup.clear()
                await self.wakeup.wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the peer went away mid-write: the reader notices and detaches
            log.debug("websocket write failed for %s: %s", self.connection_id, exc)
            if self.transport is not None:
                self.transport.abort()


class Hub:
    """Registers connections, routes events to the right ones, and keeps disconnected ones resumable."""

    def __init__(self, state: State, server_version: Callable[[], str], inactive_ttl: float = 300.0):
        self.state = state
        self.server_version = server_version
        self.inactive_ttl = inactive_ttl
        self.conns: dict[str, WebConn] = {}

    def open(self, user_id: str, connection_id: str = "", sequence_number: int = 0) -> WebConn:
        """Return the connection to attach: a resumed inactive one, or a fresh one with hello queued."""
        self._reap()
        old = self.conns.get(connection_id) if connection_id else None
        if old is not None and old.active and old.socket.closed:
            old.detach()   # its close handshake is done; the handler just has not unwound yet
        if old is not None and old.user_id == user_id and not old.active:
            if not old.resume_from(sequence_number):
                del self.conns[old.connection_id]
                old.restart()
                self.conns[old.connection_id] = old
            return old
        conn = WebConn(user_id, new_id(), self.server_version())
        conn.push("event", hello_event(user_id, conn.connection_id, conn.server_version))
        self.conns[conn.connection_id] = conn
        return conn

    def respond(self, conn: WebConn, response: dict) -> None:
        """Queue a response to a client request on its connection."""
        if not conn.push("response", response):
            self._overflow(conn)

    def publish(self, event: Event) -> None:
        """Queue the event on every connection that should receive it."""
        for conn in list(self.conns.values()):
            if self.should_send(conn, event) and not conn.push("event", event):
                self._overflow(conn)

    def should_send(self, conn: WebConn, event: Event) -> bool:
        """Apply WebConn.ShouldSendEvent's checks, in the server's order."""
        user = self.state.users.get(conn.user_id)
        if user is None:
            return False
        admin = self.state.is_admin(user)
        if (event.sanitized and admin) or (event.sensitive and not admin):
            return False
        if event.connection_id:
            return event.connection_id == conn.connection_id
        if event.omit_connection_id and event.omit_connection_id == conn.connection_id:
            return False
        if event.user_id:
            return event.user_id == conn.user_id
        if conn.user_id in event.omit_users:
            return False
        if event.channel_id:
            return self.state.is_member(event.channel_id, conn.user_id)
        if event.team_id:
            return self.state.is_team_member(event.team_id, conn.user_id)
        return True

    def online_user_ids(self) -> set[str]:
        """Return the users with at least one live connection."""
        return {c.user_id for c in self.conns.values() if c.active}

    def drop(self, user_id: str | None = None, forget: bool = False) -> int:
        """Abort live connections (all, or one user's); forget also discards their resumable state."""
        dropped = 0
        for conn in list(self.conns.values()):
            if user_id is not None and conn.user_id != user_id:
                continue
            if conn.active:
                conn.abort()
                dropped += 1
            if forget:
                self.conns.pop(conn.connection_id, None)
        return dropped

    def close_all(self) -> None:
        """Abort every connection and forget them (server shutdown)."""
        self.drop(forget=True)

    def _overflow(self, conn: WebConn) -> None:
        log.warning("websocket send queue full, closing connection %s of user %s", conn.connection_id,
                    conn.user_id)
        conn.abort()
        self.conns.pop(conn.connection_id, None)

    def _reap(self) -> None:
        cutoff = time.monotonic() - self.inactive_ttl
        for conn in list(self.conns.values()):
            if conn.inactive_since is not None and conn.inactive_since < cutoff:
                self.conns.pop(conn.connection_id, None)
