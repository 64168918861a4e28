"""An incident's checklist: numbered tasks (from 1, across checklists), assigned and done by people or steps."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.store.db import Database


class TaskNotFound(LookupError):
    """No task with that number or title; the message says which were there."""


@dataclass(frozen=True)
class TaskRow:
    number: int
    checklist: str
    title: str
    description: str
    assignee_id: str
    due_at: int | None
    status: str          # open | done | skipped
    action: dict[str, Any] | None
    done_by: str
    done_at: int | None


def _row(r) -> TaskRow:
    return TaskRow(r["number"], r["checklist"], r["title"], r["description"], r["assignee_id"], r["due_at"],
                   r["status"], json.loads(r["action"]) if r["action"] else None, r["done_by"], r["done_at"])


class TaskStore:
    def __init__(self, db: Database, clock=None):
        self.db = db
        self.clock = clock

    def _now(self) -> int:
        return self.clock.now_ms() if self.clock else 0

    async def add(self, incident_id: int, checklist: str, tasks: list[dict[str, Any]]) -> list[int]:
        """Append tasks (title, description, assignee_id, due_at, action) to a checklist; return their numbers."""
        async with self.db.transaction() as conn:
            row = await (await conn.execute("SELECT COALESCE(MAX(number), 0) FROM incident_tasks WHERE incident_id = ?",
                                            (incident_id,))).fetchone()
            numbers = []
            for offset, task in enumerate(tasks, start=1):
                number = row[0] + offset
                await conn.execute(
                    "INSERT INTO incident_tasks (incident_id, number, checklist, title, description, assignee_id, "
                    "due_at, action) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (incident_id, number, checklist, task["title"], task.get("description", ""),
                     task.get("assignee_id", ""), task.get("due_at"),
                     json.dumps(task["action"]) if task.get("action") else ""))
                numbers.append(number)
        return numbers

    async def list(self, incident_id: int) -> list[TaskRow]:
        rows = await self.db.fetch_all("SELECT * FROM incident_tasks WHERE incident_id = ? ORDER BY number",
                                       (incident_id,))
        return [_row(r) for r in rows]

    async def get(self, incident_id: int, task: int | str) -> TaskRow:
        """A task by number, or by title (case-insensitive)."""
        rows = await self.list(incident_id)
        text = str(task).strip().lstrip("#")
        for row in rows:
            if (text.isdigit() and row.number == int(text)) or row.title.lower() == text.lower():
                return row
        known = f"tasks are numbered 1 to {len(rows)}" if rows else "this incident has no tasks"
        raise TaskNotFound(f"there is no task {str(task)!r}: {known}")

    async def assign(self, incident_id: int, task: int | str, user_id: str) -> int:
        row = await self.get(incident_id, task)
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE incident_tasks SET assignee_id = ? WHERE incident_id = ? AND number = ?",
                               (user_id, incident_id, row.number))
        return row.number

    async def complete(self, incident_id: int, task: int | str, user_id: str) -> int:
        return await self._finish(incident_id, task, user_id, "done")

    async def skip(self, incident_id: int, task: int | str, user_id: str) -> int:
        return await self._finish(incident_id, task, user_id, "skipped")

    async def _finish(self, incident_id: int, task: int | str, user_id: str, status: str) -> int:
        row = await self.get(incident_id, task)
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE incident_tasks SET status = ?, done_by = ?, done_at = ? WHERE incident_id = ? AND number = ?",
                (status, user_id, self._now(), incident_id, row.number))
        return row.number
