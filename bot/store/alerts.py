"""What the bot keeps about alerts: per-incident alert lists, explanations, the de-dup book, timers, silences."""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.alerts.codec import alert_from_json, alert_to_json
from bot.alerts.model import Alert, AlertStatus
from bot.store.db import Database

BOOK_KEY = "book"


@dataclass(frozen=True)
class IncidentAlert:
    """One alert as an incident sees it: how often it came, and its latest status."""

    fingerprint: str
    name: str
    status: str
    severity: str
    summary: str
    link: str
    post_id: str
    first_seen: int
    last_seen: int
    count: int


async def note_alert(conn: aiosqlite.Connection, incident_id: int, alert: Alert, at: int) -> IncidentAlert:
    """Add an alert to an incident, or count it again and take its latest status."""
    await conn.execute(
        "INSERT INTO incident_alerts (incident_id, fingerprint, name, status, severity, summary, link, post_id, "
        "first_seen, last_seen, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) "
        "ON CONFLICT(incident_id, fingerprint) DO UPDATE SET status = excluded.status, last_seen = excluded.last_seen, "
        "count = count + 1, summary = CASE WHEN excluded.summary != '' THEN excluded.summary ELSE summary END",
        (incident_id, alert.fingerprint, alert.name, alert.status.value, alert.severity.value, alert.summary,
         alert.link, alert.post_id, at, at))
    row = await (await conn.execute(
        "SELECT * FROM incident_alerts WHERE incident_id = ? AND fingerprint = ?",
        (incident_id, alert.fingerprint))).fetchone()
    return _incident_alert(row)


def _incident_alert(row: aiosqlite.Row) -> IncidentAlert:
    return IncidentAlert(row["fingerprint"], row["name"], row["status"], row["severity"], row["summary"], row["link"],
                         row["post_id"], row["first_seen"], row["last_seen"], row["count"])


async def incident_alerts(db: Database, incident_id: int) -> list[IncidentAlert]:
    rows = await db.fetch_all("SELECT * FROM incident_alerts WHERE incident_id = ? ORDER BY first_seen, fingerprint",
                              (incident_id,))
    return [_incident_alert(r) for r in rows]


async def firing_count(db: Database, incident_id: int) -> int:
    row = await db.fetch_one("SELECT COUNT(*) FROM incident_alerts WHERE incident_id = ? AND status = ?",
                             (incident_id, AlertStatus.FIRING.value))
    return row[0]


async def explain_post(conn: aiosqlite.Connection, post_id: str, edit_at: int, at: int, parser: str, reason: str,
                       outcome: list[dict[str, Any]]) -> None:
    """Remember what was made of one version of a post in a watched channel (for `why`, and to handle it once)."""
    await conn.execute(
        "INSERT OR IGNORE INTO alert_posts (post_id, edit_at, at, parser, reason, outcome) VALUES (?, ?, ?, ?, ?, ?)",
        (post_id, edit_at, at, parser, reason, json.dumps(outcome)))


async def is_explained(db: Database, post_id: str, edit_at: int) -> bool:
    """Whether this version of the post was handled already."""
    return await db.fetch_one("SELECT 1 FROM alert_posts WHERE post_id = ? AND edit_at = ?",
                              (post_id, edit_at)) is not None


async def explanations(db: Database, post_id: str) -> list[dict[str, Any]]:
    """Every version of an alert post the bot handled, oldest first."""
    rows = await db.fetch_all("SELECT * FROM alert_posts WHERE post_id = ? ORDER BY edit_at", (post_id,))
    return [{"edit_at": r["edit_at"], "at": r["at"], "parser": r["parser"], "reason": r["reason"],
             "outcome": json.loads(r["outcome"])} for r in rows]


async def load_book(db: Database) -> str | None:
    row = await db.fetch_one("SELECT value FROM alert_state WHERE key = ?", (BOOK_KEY,))
    return row["value"] if row else None


async def save_book(conn: aiosqlite.Connection, book_json: str) -> None:
    await conn.execute("INSERT INTO alert_state (key, value) VALUES (?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (BOOK_KEY, book_json))


async def set_timer(conn: aiosqlite.Connection, alert: Alert, due_at: int) -> None:
    await conn.execute("INSERT INTO alert_timers (fingerprint, due_at, alert) VALUES (?, ?, ?) "
                       "ON CONFLICT(fingerprint) DO UPDATE SET due_at = excluded.due_at, alert = excluded.alert",
                       (alert.fingerprint, due_at, json.dumps(alert_to_json(alert))))


async def take_timer(conn: aiosqlite.Connection, fingerprint: str) -> None:
    await conn.execute("DELETE FROM alert_timers WHERE fingerprint = ?", (fingerprint,))


async def timers(db: Database) -> list[tuple[int, Alert]]:
    rows = await db.fetch_all("SELECT due_at, alert FROM alert_timers ORDER BY due_at")
    return [(r["due_at"], alert_from_json(json.loads(r["alert"]))) for r in rows]


async def silence(conn: aiosqlite.Connection, fingerprint: str, until_ms: int, user_id: str) -> None:
    await conn.execute("INSERT INTO alert_silences (fingerprint, until_ms, user_id) VALUES (?, ?, ?) "
                       "ON CONFLICT(fingerprint) DO UPDATE SET until_ms = excluded.until_ms, user_id = excluded.user_id",
                       (fingerprint, until_ms, user_id))


async def silences(db: Database) -> dict[str, int]:
    """Silenced alert fingerprints and until when (ms)."""
    return {r["fingerprint"]: r["until_ms"] for r in await db.fetch_all("SELECT * FROM alert_silences")}


async def action_secret(db: Database) -> str:
    """The secret that signs button contexts: made once, kept across restarts."""
    row = await db.fetch_one("SELECT value FROM alert_state WHERE key = 'action_secret'")
    if row:
        return row["value"]
    secret = secrets.token_hex(32)
    async with db.transaction() as conn:
        await conn.execute("INSERT OR IGNORE INTO alert_state (key, value) VALUES ('action_secret', ?)", (secret,))
    row = await db.fetch_one("SELECT value FROM alert_state WHERE key = 'action_secret'")
    return row["value"]
