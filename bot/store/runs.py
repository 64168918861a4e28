"""Playbook runs in SQLite: each step's state (pending, running, done, failed, skipped) and due time; reminders.

A step is marked `running` before its action starts and `done`/`failed` after, so a restart can tell a step
that may have had its effect (running) from one that has not started (pending).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import aiosqlite

from bot.store.db import Database

PENDING, RUNNING, DONE, FAILED, SKIPPED = "pending", "running", "done", "failed", "skipped"
FINISHED_STEP = (DONE, FAILED, SKIPPED)
RUN_ACTIVE, RUN_FINISHED, RUN_STOPPED = "running", "finished", "stopped"


@dataclass(frozen=True)
class StepState:
    step_id: str
    position: int
    status: str
    due_at: int
    attempts: int
    summary: str
    detail: Mapping[str, Any]
    updated_at: int


@dataclass(frozen=True)
class RunState:
    incident_id: int
    playbook: str
    started_at: int
    status: str
    context: Mapping[str, Any]      # what the run has set up already: {"prepared": true}
    steps: tuple[StepState, ...]


async def create_run(conn: aiosqlite.Connection, incident_id: int, playbook: str, started_at: int,
                     steps: list[tuple[str, int]]) -> bool:
    """Record a run and its steps (id, due time); False when the incident already has a run."""
    cursor = await conn.execute(
        "INSERT OR IGNORE INTO playbook_runs (incident_id, playbook, started_at, status) VALUES (?, ?, ?, ?)",
        (incident_id, playbook, started_at, RUN_ACTIVE))
    if cursor.rowcount != 1:
        return False
    for position, (step_id, due_at) in enumerate(steps):
        await conn.execute(
            "INSERT INTO playbook_steps (incident_id, step_id, position, status, due_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)", (incident_id, step_id, position, PENDING, due_at, started_at))
    return True


async def get_run(db: Database, incident_id: int) -> RunState | None:
    run = await db.fetch_one("SELECT * FROM playbook_runs WHERE incident_id = ?", (incident_id,))
    if run is None:
        return None
    rows = await db.fetch_all("SELECT * FROM playbook_steps WHERE incident_id = ? ORDER BY position", (incident_id,))
    steps = tuple(StepState(r["step_id"], r["position"], r["status"], r["due_at"], r["attempts"], r["summary"],
                            json.loads(r["detail"]), r["updated_at"]) for r in rows)
    return RunState(run["incident_id"], run["playbook"], run["started_at"], run["status"],
                    json.loads(run["context"]), steps)


async def active_runs(db: Database) -> list[int]:
    rows = await db.fetch_all("SELECT incident_id FROM playbook_runs WHERE status = ?", (RUN_ACTIVE,))
    return [r["incident_id"] for r in rows]


async def mark_step(conn: aiosqlite.Connection, incident_id: int, step_id: str, status: str, at: int, *,
                    summary: str | None = None, detail: Mapping[str, Any] | None = None, due_at: int | None = None,
                    attempt: bool = False) -> None:
    """Move a step to `status`, with its result when it has one."""
    sets = ["status = ?", "updated_at = ?"]
    values: list[Any] = [status, at]
    if summary is not None:
        sets.append("summary = ?")
        values.append(summary)
    if detail is not None:
        sets.append("detail = ?")
        values.append(json.dumps(dict(detail), default=str))
    if due_at is not None:
        sets.append("due_at = ?")
        values.append(due_at)
    if attempt:
        sets.append("attempts = attempts + 1")
    await conn.execute(f"UPDATE playbook_steps SET {', '.join(sets)} WHERE incident_id = ? AND step_id = ?",
                       values + [incident_id, step_id])


async def set_run_status(conn: aiosqlite.Connection, incident_id: int, status: str) -> None:
    await conn.execute("UPDATE playbook_runs SET status = ? WHERE incident_id = ?", (status, incident_id))


async def set_run_context(conn: aiosqlite.Connection, incident_id: int, context: Mapping[str, Any]) -> None:
    await conn.execute("UPDATE playbook_runs SET context = ? WHERE incident_id = ?",
                       (json.dumps(dict(context)), incident_id))


@dataclass(frozen=True)
class Reminder:
    id: int
    incident_id: int
    due_at: int
    recipient: str
    message: str


async def add_reminder(conn: aiosqlite.Connection, incident_id: int, due_at: int, recipient: str, message: str) -> int:
    cursor = await conn.execute(
        "INSERT INTO reminders (incident_id, due_at, recipient, message) VALUES (?, ?, ?, ?)",
        (incident_id, due_at, recipient, message))
    return cursor.lastrowid


async def pending_reminders(db: Database) -> list[Reminder]:
    rows = await db.fetch_all("SELECT * FROM reminders WHERE sent = 0 ORDER BY due_at")
    return [Reminder(r["id"], r["incident_id"], r["due_at"], r["recipient"], r["message"]) for r in rows]


async def claim_reminder(conn: aiosqlite.Connection, reminder_id: int) -> bool:
    """Mark a reminder sent; False when it already was (so it is never sent twice)."""
    cursor = await conn.execute("UPDATE reminders SET sent = 1 WHERE id = ? AND sent = 0", (reminder_id,))
    return cursor.rowcount == 1
