"""The timeline: every change to an incident is recorded here, through `record`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import aiosqlite

from bot.store.db import Database


@dataclass(frozen=True)
class TimelineEntry:
    id: int
    incident_id: int
    at: int
    kind: str
    actor_id: str
    text: str
    data: Mapping[str, Any]


async def record(conn: aiosqlite.Connection, incident_id: int, kind: str, *, at: int, actor_id: str = "",
                 text: str = "", data: Mapping[str, Any] | None = None) -> None:
    """Add one entry to an incident's timeline (inside the caller's transaction)."""
    await conn.execute(
        "INSERT INTO timeline (incident_id, at, kind, actor_id, text, data) VALUES (?, ?, ?, ?, ?, ?)",
        (incident_id, at, kind, actor_id, text, json.dumps(dict(data or {}), sort_keys=True)))


async def record_many(conn: aiosqlite.Connection, rows: Sequence[tuple[int, str, str, Mapping[str, Any]]], *,
                      at: int) -> None:
    """Add many entries at once, each (incident id, kind, text, data), by the bot (an alert storm's notes)."""
    await conn.executemany(
        "INSERT INTO timeline (incident_id, at, kind, actor_id, text, data) VALUES (?, ?, ?, '', ?, ?)",
        [(incident_id, at, kind, text, json.dumps(dict(data), sort_keys=True)) for incident_id, kind, text, data in rows])


async def entries(db: Database, incident_id: int) -> list[TimelineEntry]:
    """An incident's timeline, oldest first."""
    rows = await db.fetch_all("SELECT * FROM timeline WHERE incident_id = ? ORDER BY at, id", (incident_id,))
    return [TimelineEntry(r["id"], r["incident_id"], r["at"], r["kind"], r["actor_id"], r["text"], json.loads(r["data"]))
            for r in rows]
