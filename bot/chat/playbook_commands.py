"""Chat commands for playbooks and checklists: playbooks, tasks, task done/skip/assign."""
from __future__ import annotations

from pathlib import Path

from bot.chat.commands import CommandSpec
from bot.chat.context import CommandContext, Reply
from bot.chat.parsing import BadArguments
from bot.clock import Clock
from bot.store.db import Database
from bot.store.tasks import TaskNotFound, TaskStore
from bot.store.timeline import record
from bot.workflow.context import Chat
from bot.workflow.engine import PlaybookEngine
from bot.workflow.library import PlaybookLibrary

TASK_USAGE = "task done <n> | task skip <n> | task assign <n> @user"


class PlaybookCommands:
    def __init__(self, db: Database, engine: PlaybookEngine, library: PlaybookLibrary, tasks: TaskStore,
                 chat: Chat, clock: Clock):
        self.db = db
        self.engine = engine
        self.library = library
        self.tasks = tasks
        self.chat = chat
        self.clock = clock
        self.specs = [
            CommandSpec("playbooks", "playbooks", "List the playbooks (use one with `start <title> --playbook NAME`).",
                        self.playbooks),
            CommandSpec("tasks", "tasks", "Show the incident's checklist.", self.show_tasks, in_incident=True,
                        aliases=("checklist",)),
            CommandSpec("task", TASK_USAGE, "Mark a checklist task done or skipped, or give it to someone.",
                        self.task, in_incident=True),
        ]

    async def playbooks(self, ctx: CommandContext, args: str) -> list[Reply]:
        lines = ["#### Playbooks", "| Name | What it is for | File |", "|:--|:--|:--|"]
        for playbook in self.library.all():
            about = playbook.title or (playbook.description.strip().splitlines() or [""])[0]
            lines.append(f"| `{playbook.name}` | {about} | `{Path(playbook.file).name}` |")
        if len(lines) == 3:
            lines = ["There are no playbooks yet: add YAML files to the playbooks folder."]
        return [Reply("\n".join(lines))]

    async def show_tasks(self, ctx: CommandContext, args: str) -> list[Reply]:
        rows = await self.tasks.list(ctx.incident.id)
        if not rows:
            return [Reply(f"{ctx.incident.key} has no checklist.")]
        return [Reply(await self.engine.templates.checklist(ctx.incident, rows, self.clock.now_ms()))]

    async def task(self, ctx: CommandContext, args: str) -> list[Reply]:
        words = args.split()
        verb = words[0].lower() if words else ""
        needed = 3 if verb == "assign" else 2
        if verb not in ("done", "skip", "assign") or len(words) < needed \
                or (verb == "assign" and not words[-1].startswith("@")):
            raise BadArguments("Say what to do with which task: done, skip, or assign to @someone.")
        reference = " ".join(words[1:-1] if verb == "assign" else words[1:])   # a number or a title
        incident = ctx.incident
        try:
            if verb == "assign":
                user = await self.chat.get_user_by_username(words[-1].lstrip("@"))
                if user is None:
                    return [Reply(f"There is no user {words[-1]}.")]
                number = await self.tasks.assign(incident.id, reference, user["id"])
                text, kind = f"Task {number} is now @{user['username']}'s.", "task_assigned"
            elif verb == "done":
                number = await self.tasks.complete(incident.id, reference, ctx.actor_id)
                text, kind = f":white_check_mark: @{ctx.actor_username} finished task {number}.", "task_done"
            else:
                number = await self.tasks.skip(incident.id, reference, ctx.actor_id)
                text, kind = f":heavy_minus_sign: @{ctx.actor_username} skipped task {number}.", "task_skipped"
        except TaskNotFound as missing:
            return [Reply(f":warning: {missing}. `tasks` shows the checklist.")]
        task = next(t for t in await self.tasks.list(incident.id) if t.number == number)
        async with self.db.transaction() as conn:
            await record(conn, incident.id, kind, at=self.clock.now_ms(), actor_id=ctx.actor_id,
                         text=f"{number}. {task.title}", data={"task": number})
        replies = [Reply(text)]
        if verb == "done" and task.action:
            result = await self.engine.run_task_action(incident, number)
            if result is not None:
                replies.append(Reply(f"{'Ran' if result.ok else ':x: Could not run'} the task's action: "
                                     f"{result.summary}"))
        return replies
