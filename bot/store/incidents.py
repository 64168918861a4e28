"""Reading and writing incidents (rows <-> Incident)."""
from __future__ import annotations

from dataclasses import fields

import aiosqlite

from bot.incidents.model import Incident, Severity, Status
from bot.store.db import Database

_BOOLEAN_COLUMNS = {"header_pinned", "reporter_invited", "setup_done"}
_COLUMNS = [f.name for f in fields(Incident) if f.name != "id"]


def _incident(row: aiosqlite.Row) -> Incident:
    values = {name: row[name] for name in _COLUMNS}
    for name in _BOOLEAN_COLUMNS:
        values[name] = bool(values[name])
    values["severity"] = Severity(values["severity"])
    values["status"] = Status(values["status"])
    return Incident(id=row["id"], **values)


def _row_values(incident: Incident) -> list:
    values = []
    for name in _COLUMNS:
        value = getattr(incident, name)
        if isinstance(value, (Severity, Status)):
            value = value.value
        elif isinstance(value, bool):
            value = int(value)
        values.append(value)
    return values


async def insert_incident(conn: aiosqlite.Connection, incident: Incident) -> Incident:
    """Store a new incident (its id is ignored) and return it with the id it was given."""
    placeholders = ", ".join("?" for _ in _COLUMNS)
    cursor = await conn.execute(
        f"INSERT INTO incidents ({', '.join(_COLUMNS)}) VALUES ({placeholders})", _row_values(incident))
    row = await (await conn.execute("SELECT * FROM incidents WHERE id = ?", (cursor.lastrowid,))).fetchone()
    return _incident(row)


async def save_incident(conn: aiosqlite.Connection, incident: Incident) -> None:
    """Write every field of an existing incident."""
    assignments = ", ".join(f"{name} = ?" for name in _COLUMNS)
    await conn.execute(f"UPDATE incidents SET {assignments} WHERE id = ?", _row_values(incident) + [incident.id])


async def get_incident(db: Database, incident_id: int) -> Incident | None:
    row = await db.fetch_one("SELECT * FROM incidents WHERE id = ?", (incident_id,))
    return _incident(row) if row else None


async def incident_for_channel(db: Database, channel_id: str) -> Incident | None:
    """The incident whose dedicated channel this is, if any."""
    row = await db.fetch_one("SELECT * FROM incidents WHERE channel_id = ? AND channel_id != ''", (channel_id,))
    return _incident(row) if row else None


async def incident_for_origin_post(db: Database, post_id: str) -> Incident | None:
    row = await db.fetch_one("SELECT * FROM incidents WHERE origin_post_id = ?", (post_id,))
    return _incident(row) if row else None


async def unfinished_setups(db: Database) -> list[Incident]:
    """Incidents whose channel/header/link setup was interrupted (for example by a crash)."""
    rows = await db.fetch_all("SELECT * FROM incidents WHERE setup_done = 0 ORDER BY id")
    return [_incident(r) for r in rows]


async def incident_channel_ids(db: Database) -> list[str]:
    """Channels of incidents that are not resolved: the bot keeps them in sync."""
    rows = await db.fetch_all(
        "SELECT channel_id FROM incidents WHERE channel_id != '' AND status != ?", (Status.RESOLVED.value,))
    return [r["channel_id"] for r in rows]


async def list_incidents(db: Database) -> list[Incident]:
    return [_incident(r) for r in await db.fetch_all("SELECT * FROM incidents ORDER BY id")]


async def open_incident_for_group(db: Database, group_key: str) -> Incident | None:
    """The unresolved incident that an alert group opened, if any."""
    row = await db.fetch_one(
        "SELECT * FROM incidents WHERE alert_group = ? AND status != ? ORDER BY id DESC LIMIT 1",
        (group_key, Status.RESOLVED.value))
    return _incident(row) if row else None


async def update_fields(conn: aiosqlite.Connection, incident_id: int, changes: dict) -> None:
    """Write only the given fields of an incident, so concurrent changes to other fields are kept."""
    unknown = set(changes) - set(_COLUMNS)
    if unknown:
        raise ValueError(f"not incident fields: {sorted(unknown)}")
    values = [int(v) if isinstance(v, bool) else v.value if isinstance(v, (Severity, Status)) else v
              for v in changes.values()]
    assignments = ", ".join(f"{name} = ?" for name in changes)
    await conn.execute(f"UPDATE incidents SET {assignments} WHERE id = ?", values + [incident_id])
