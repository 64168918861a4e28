"""The outgoing webhook: every acknowledgement, status update and resolution is POSTed as JSON to one URL.

Events go through an outbox in SQLite: written first, then sent by `run()`, retried with exponential backoff
(by default 8 attempts over about an hour) and then marked failed. A restart resends what is still pending.
Each event has an id, sent as `Idempotency-Key`, so a receiver can drop the copy a retry or a crash produces.
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

from bot.clock import Clock
from bot.incidents.model import Action, Incident
from bot.store.db import Database
from bot.workflow.integrations.http_call import http_request

log = logging.getLogger(__name__)

EVENT_TYPES = {Action.ACKNOWLEDGE: "acknowledged", Action.UPDATE: "status_update", Action.RESOLVE: "resolved"}
KEEP_SENT_MS = 7 * 24 * 3600 * 1000    # delivered events are kept a week, for looking into complaints


def parse_secret_header(text: str) -> tuple[str, str]:
    """'X-Webhook-Secret: s3cret' -> ('X-Webhook-Secret', 's3cret'); ValueError when it is not that shape."""
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value or any(c.isspace() for c in name):
        raise ValueError("secret_header must look like 'Header-Name: value'")
    return name, value


def event_payload(event_id: str, incident: Incident, action: Action, text: str, author_id: str,
                  author_username: str, at: int) -> dict[str, Any]:
    """The JSON body of one event (times in milliseconds since the epoch, as Mattermost counts them)."""
    return {
        "id": event_id,
        "type": EVENT_TYPES[action],
        "incident": {
            "id": incident.id, "key": incident.key, "title": incident.title, "severity": incident.severity.value,
            "status": incident.status.value, "channel_id": incident.channel_id, "created_at": incident.created_at,
            "acknowledged_at": incident.acknowledged_at, "resolved_at": incident.resolved_at,
        },
        "text": text,
        "author": {"id": author_id, "username": author_username},
        "at": at,
    }


class OutgoingWebhook:
    def __init__(self, db: Database, clock: Clock, *, url: str, secret_header: str | None = None,
                 users=None, max_attempts: int = 8, backoff_initial: float = 30.0, timeout: float = 10.0):
        self.db = db
        self.clock = clock
        self.url = url
        self.secret = parse_secret_header(secret_header) if secret_header else None
        self.users = users     # anything with `async username(user_id)`; without it the author has no username
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.timeout = timeout
        self._wake = asyncio.Event()

    async def on_change(self, incident: Incident, action: Action, text: str, actor_id: str) -> None:
        """Put the change in the outbox; the sender loop delivers it."""
        now = self.clock.now_ms()
        username = await self._username(actor_id)
        event_id = str(uuid.uuid4())
        payload = event_payload(event_id, incident, action, text, actor_id, username, now)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO webhook_outbox (event_id, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?)",
                (event_id, json.dumps(payload), now, now))
        self._wake.set()

    async def _username(self, user_id: str) -> str:
        """The author's name, or '' when it cannot be had: the event matters more than the name."""
        if self.users is None:
            return ""
        try:
            return await self.users.username(user_id)
        except Exception:
            log.warning("no username for %s in a webhook event", user_id, exc_info=True)
            return ""

    async def run(self) -> None:
        """Send due events, oldest first, until cancelled; sleep until the next retry or a new event."""
        while True:
            self._wake.clear()
            await self.send_due()
            await self._prune()
            delay = await self._seconds_to_next()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def send_due(self) -> int:
        """Try each pending event whose time has come once; returns how many were delivered."""
        rows = await self.db.fetch_all(
            "SELECT * FROM webhook_outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY seq",
            (self.clock.now_ms(),))
        delivered = 0
        for row in rows:
            delivered += await self._send(row)
        return delivered

    async def _send(self, row) -> bool:
        payload = json.loads(row["payload"])
        headers = {"Idempotency-Key": row["event_id"], "X-Incident-Bot-Event": payload["type"]}
        if self.secret:
            headers[self.secret[0]] = self.secret[1]
        outcome = await http_request("POST", self.url, headers=headers, json_body=payload,
                                     timeout=self.timeout, max_body=500)
        now = self.clock.now_ms()
        attempts = row["attempts"] + 1
        if outcome.ok:
            status, next_at, error = "sent", row["next_attempt_at"], ""
        else:
            error = outcome.error + (f": {outcome.body_excerpt[:200]}" if outcome.body_excerpt else "")
            if attempts >= self.max_attempts:
                status, next_at = "failed", row["next_attempt_at"]
                log.error("webhook event %s to %s failed after %d attempts, giving up: %s",
                          row["event_id"], self.url, attempts, error)
            else:
                status = "pending"
                next_at = now + int(self.backoff_initial * 2 ** (attempts - 1) * 1000)
                log.warning("webhook event %s to %s failed (attempt %d of %d), retrying in %.0fs: %s",
                            row["event_id"], self.url, attempts, self.max_attempts, (next_at - now) / 1000, error)
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE webhook_outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, "
                "sent_at = ? WHERE seq = ?",
                (status, attempts, next_at, error, now if outcome.ok else None, row["seq"]))
        return outcome.ok

    async def _seconds_to_next(self) -> float | None:
        row = await self.db.fetch_one("SELECT MIN(next_attempt_at) FROM webhook_outbox WHERE status = 'pending'")
        if row is None or row[0] is None:
            return None
        return max(0.0, (row[0] - self.clock.now_ms()) / 1000)

    async def _prune(self) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM webhook_outbox WHERE status = 'sent' AND sent_at < ?",
                               (self.clock.now_ms() - KEEP_SENT_MS,))
