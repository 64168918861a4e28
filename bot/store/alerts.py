"""What the bot keeps about alerts: per-incident alert lists, explanations, the de-dup book, timers, silences."""
from __future__ import annotations

import json
import secrets
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import aiosqlite

from bot.alerts.codec import alert_from_json, alert_to_json
from bot.alerts.model import Alert, AlertStatus
from bot.store import timeline
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


@dataclass(frozen=True)
class AlertNote:
    """One alert to note on an incident, with the kind of timeline entry it makes (alert_joined, ...)."""

    incident_id: int
    timeline_kind: str
    alert: Alert


@dataclass(frozen=True)
class PostExplanation:
    """What was made of one version of a post in a watched channel (for `why`, and to handle it once)."""

    post_id: str
    edit_at: int
    parser: str
    reason: str
    outcome_json: str   # the list of what was decided about each alert, as JSON

    @classmethod
    def of(cls, post_id: str, edit_at: int, parser: str, reason: str,
           outcome: list[dict[str, Any]]) -> "PostExplanation":
        return cls(post_id, edit_at, parser, reason, json.dumps(outcome))


_NOTE_SQL = (
    "INSERT INTO incident_alerts (incident_id, fingerprint, name, status, severity, summary, link, post_id, "
    "first_seen, last_seen, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) "
    "ON CONFLICT(incident_id, fingerprint) DO UPDATE SET status = excluded.status, last_seen = excluded.last_seen, "
    "count = count + 1, summary = CASE WHEN excluded.summary != '' THEN excluded.summary ELSE summary END")
_CHUNK = 400   # host parameters per IN (...) list, well under SQLite's limit


async def note_alerts(conn: aiosqlite.Connection, notes: Sequence[AlertNote], at: int) -> None:
    """Add alerts to incidents (or count them again, taking their latest status) and record each one on its
    incident's timeline with the count it reached, in a few statements (inside the caller's transaction)."""
    if not notes:
        return
    await conn.executemany(_NOTE_SQL, [
        (n.incident_id, n.alert.fingerprint, n.alert.name, n.alert.status.value, n.alert.severity.value,
         n.alert.summary, n.alert.link, n.alert.post_id, at, at) for n in notes])
    totals = await _counts(conn, {(n.incident_id, n.alert.fingerprint) for n in notes})
    later: Counter[tuple[int, str]] = Counter()   # notes of the same alert further on in `notes`
    entries = []
    for note in reversed(notes):
        alert, key = note.alert, (note.incident_id, note.alert.fingerprint)
        data = {"fingerprint": alert.fingerprint, "count": totals[key] - later[key], "post_id": alert.post_id,
                "source": alert.source.value}
        later[key] += 1
        entries.append((note.incident_id, note.timeline_kind, f"{alert.name} ({alert.status.value})", data))
    entries.reverse()
    await timeline.record_many(conn, entries, at=at)


async def _counts(conn: aiosqlite.Connection, keys: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """How often each (incident, fingerprint) has been noted."""
    found: dict[tuple[int, str], int] = {}
    incident_ids = sorted({incident_id for incident_id, _ in keys})
    for start in range(0, len(incident_ids), _CHUNK):
        chunk = incident_ids[start:start + _CHUNK]
        rows = await (await conn.execute(
            f"SELECT incident_id, fingerprint, count FROM incident_alerts WHERE incident_id IN "
            f"({', '.join('?' * len(chunk))})", chunk)).fetchall()
        found.update({(r[0], r[1]): r[2] for r in rows if (r[0], r[1]) in keys})
    return found


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


async def explain_posts(conn: aiosqlite.Connection, explanations: Sequence[PostExplanation], at: int) -> None:
    """Remember what was made of each post version (inside the caller's transaction)."""
    if explanations:
        await conn.executemany(
            "INSERT OR IGNORE INTO alert_posts (post_id, edit_at, at, parser, reason, outcome) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(e.post_id, e.edit_at, at, e.parser, e.reason, e.outcome_json) for e in explanations])


async def is_explained(db: Database, post_id: str, edit_at: int) -> bool:
    """Whether this version of the post was handled already."""
    return await db.fetch_one("SELECT 1 FROM alert_posts WHERE post_id = ? AND edit_at = ?",
                              (post_id, edit_at)) is not None


async def explained_versions(db: Database, versions: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
    """Those of the (post id, edit_at) versions that were handled already, looked up together."""
    wanted = set(versions)
    post_ids = sorted({post_id for post_id, _ in wanted})
    found: set[tuple[str, int]] = set()
    for start in range(0, len(post_ids), _CHUNK):
        chunk = post_ids[start:start + _CHUNK]
        rows = await db.fetch_all(f"SELECT post_id, edit_at FROM alert_posts WHERE post_id IN "
                                  f"({', '.join('?' * len(chunk))})", tuple(chunk))
        found.update(key for key in ((r[0], r[1]) for r in rows) if key in wanted)
    return found


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


async def set_timers(conn: aiosqlite.Connection, timers: Iterable[tuple[Alert, int]]) -> None:
    """Ask for each alert to be re-checked at its due time (ms); a later call for one alert replaces its timer."""
    await conn.executemany("INSERT INTO alert_timers (fingerprint, due_at, alert) VALUES (?, ?, ?) "
                           "ON CONFLICT(fingerprint) DO UPDATE SET due_at = excluded.due_at, alert = excluded.alert",
                           [(alert.fingerprint, due_at, json.dumps(alert_to_json(alert))) for alert, due_at in timers])


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
