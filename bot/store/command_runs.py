"""Runs of custom commands: the audit log (who ran what, where, when, with what outcome) and pending undos."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import aiosqlite

from bot.store.db import Database

AWAITING = "awaiting_confirmation"
RUNNING = "running"
OK = "ok"
FAILED = "failed"
CANCELLED = "cancelled"
EXPIRED = "expired"
INTERRUPTED = "interrupted"    # the bot stopped while it ran: whether it took effect is unknown

UNDO_PENDING = "pending"
UNDO_DONE = "done"
UNDO_FAILED = "failed"


@dataclass(frozen=True)
class CommandRun:
    id: int
    command: str
    args_text: str
    args: Mapping[str, Any]
    actor_id: str
    channel_id: str
    thread_id: str
    incident_id: int | None
    status: str
    summary: str
    result: Mapping[str, Any]
    confirmed_by: str
    created_at: int
    finished_at: int | None
    undo_status: str


def _run(r: aiosqlite.Row) -> CommandRun:
    return CommandRun(r["id"], r["command"], r["args_text"], json.loads(r["args"]), r["actor_id"], r["channel_id"],
                      r["thread_id"], r["incident_id"], r["status"], r["summary"], json.loads(r["result"]),
                      r["confirmed_by"], r["created_at"], r["finished_at"], r["undo_status"])


async def start(conn: aiosqlite.Connection, *, command: str, args_text: str, args: Mapping[str, Any], actor_id: str,
                channel_id: str, thread_id: str, incident_id: int | None, status: str, at: int,
                post_id: str = "") -> int:
    """Record a new run (running, or awaiting confirmation); returns its id. `post_id` is the asking post."""
    cursor = await conn.execute(
        "INSERT INTO command_runs (command, args_text, args, actor_id, channel_id, thread_id, incident_id, status, "
        "created_at, post_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (command, args_text, json.dumps(dict(args), default=str), actor_id, channel_id, thread_id, incident_id,
         status, at, post_id))
    return int(cursor.lastrowid)


async def claim(conn: aiosqlite.Connection, run_id: int, *, expected: str, status: str, confirmed_by: str = "") -> bool:
    """Move a run from `expected` to `status`; False when it was not `expected` (someone else got there first)."""
    cursor = await conn.execute(
        "UPDATE command_runs SET status = ?, confirmed_by = CASE WHEN ? != '' THEN ? ELSE confirmed_by END "
        "WHERE id = ? AND status = ?", (status, confirmed_by, confirmed_by, run_id, expected))
    return cursor.rowcount == 1


async def finish(conn: aiosqlite.Connection, run_id: int, *, status: str, summary: str, at: int,
                 result: Mapping[str, Any] | None = None, undo: bool = False) -> None:
    await conn.execute(
        "UPDATE command_runs SET status = ?, summary = ?, finished_at = ?, result = ?, undo_status = ? WHERE id = ?",
        (status, summary, at, json.dumps(dict(result or {}), default=str), UNDO_PENDING if undo else "", run_id))


async def finish_undo(conn: aiosqlite.Connection, run_id: int, status: str) -> bool:
    cursor = await conn.execute("UPDATE command_runs SET undo_status = ? WHERE id = ? AND undo_status = ?",
                                (status, run_id, UNDO_PENDING))
    return cursor.rowcount == 1


async def get(db: Database, run_id: int) -> CommandRun | None:
    row = await db.fetch_one("SELECT * FROM command_runs WHERE id = ?", (run_id,))
    return _run(row) if row else None


async def for_post(db: Database, post_id: str) -> CommandRun | None:
    """The run a post asked for, if any."""
    row = await db.fetch_one("SELECT * FROM command_runs WHERE post_id = ?", (post_id,))
    return _run(row) if row else None


async def pending_undos(db: Database, incident_id: int | None = None) -> list[CommandRun]:
    """Runs whose undo has not run yet (of one incident, or of all)."""
    sql = "SELECT * FROM command_runs WHERE undo_status = ?"
    params: tuple = (UNDO_PENDING,)
    if incident_id is not None:
        sql, params = sql + " AND incident_id = ?", params + (incident_id,)
    return [_run(r) for r in await db.fetch_all(sql + " ORDER BY id", params)]


async def interrupted(conn: aiosqlite.Connection) -> list[int]:
    """Mark runs the bot was running when it stopped as interrupted; returns their ids."""
    rows = await (await conn.execute("SELECT id FROM command_runs WHERE status = ?", (RUNNING,))).fetchall()
    await conn.execute("UPDATE command_runs SET status = ?, summary = 'the bot stopped while this ran' "
                       "WHERE status = ?", (INTERRUPTED, RUNNING))
    return [row[0] for row in rows]


async def recent(db: Database, *, incident_id: int | None = None, channel_id: str | None = None,
                 limit: int = 20) -> list[CommandRun]:
    """The latest runs, newest first: of one incident, of one channel, or everywhere."""
    where, params = "", ()
    if incident_id is not None:
        where, params = "WHERE incident_id = ?", (incident_id,)
    elif channel_id is not None:
        where, params = "WHERE channel_id = ?", (channel_id,)
    rows = await db.fetch_all(f"SELECT * FROM command_runs {where} ORDER BY id DESC LIMIT ?", (*params, limit))
    return [_run(r) for r in rows]
