"""Checklist actions: add tasks, assign one, mark one done (the numbered tasks kept in SQLite)."""
from __future__ import annotations

import logging
from typing import Any, Mapping

from bot.workflow.actions.common import failed, one_line, reports_failures
from bot.workflow.context import StepContext, StepResult
from bot.workflow.model import ActionCall, Task, freeze, thaw

log = logging.getLogger(__name__)


def action_record(call: ActionCall) -> dict[str, Any]:
    """A task's action as plain JSON data, {"kind": ..., "args": {...}}; `model.freeze` reads the args back."""
    return {"kind": call.kind, "args": _plain(call.args)}


def _plain(value: Any) -> Any:
    """Validated arguments as JSON data: read-only mappings and tuples thawed, nested tasks (add_tasks) as dicts."""
    if isinstance(value, Task):
        return {"title": value.title, "description": value.description, "assignee": value.assignee,
                "due": value.due, "action": action_record(value.action) if value.action else None}
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return thaw(value)


def _as_task(value: Task | Mapping[str, Any]) -> Task:
    """A task as the loader gives it, or as `_plain` stored it (a task's action read back from the database)."""
    if isinstance(value, Task):
        return value
    action = value.get("action")
    return Task(title=value["title"], description=value.get("description") or "",
                assignee=value.get("assignee") or "", due=value.get("due"),
                action=ActionCall(action["kind"], freeze(action["args"])) if action else None)


@reports_failures
async def add_tasks(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Append tasks to a checklist (the store creates it when missing); unknown assignees leave a task open."""
    checklist = args["checklist"]
    records, unknown = [], []
    for task in map(_as_task, args["tasks"]):
        assignee_id = ""
        if task.assignee:
            user = await ctx.chat.get_user_by_username(task.assignee)
            if user:
                assignee_id = user["id"]
            else:
                unknown.append(task.assignee)
        records.append({
            "title": task.title,
            "description": task.description,
            "assignee_id": assignee_id,
            "due_at": ctx.incident.created_at + task.due * 1000 if task.due is not None else None,
            "action": action_record(task.action) if task.action else None,
        })
    numbers = await ctx.tasks.add(ctx.incident.id, checklist, records)
    span = f"#{numbers[0]}" if len(numbers) == 1 else f"#{numbers[0]}–#{numbers[-1]}"
    summary = f"added {len(numbers)} task{'s' if len(numbers) != 1 else ''} to {checklist} ({span})"
    if unknown:
        summary += f"; left unassigned, no user named {', '.join('@' + u for u in unknown)}"
    return StepResult(ok=True, summary=one_line(summary),
                      detail={"checklist": checklist, "numbers": numbers, "unknown_assignees": unknown})


@reports_failures
async def assign_task(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Give a task (by number or title) to a user."""
    username = args["user"]
    user = await ctx.chat.get_user_by_username(username)
    if not user:
        return failed(f"no user named @{username}")
    number = await ctx.tasks.assign(ctx.incident.id, args["task"], user["id"])
    return StepResult(ok=True, summary=f"assigned task #{number} to @{username}",
                      detail={"task": number, "user": username, "user_id": user["id"]})


@reports_failures
async def complete_task(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Mark a task (by number or title) done, by the bot."""
    number = await ctx.tasks.complete(ctx.incident.id, args["task"], ctx.bot_user_id)
    return StepResult(ok=True, summary=f"marked task #{number} done", detail={"task": number})
