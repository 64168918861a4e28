"""The playbook engine: runs an incident's playbook step by step, with its state in SQLite.

Before an action runs its step is marked `running`; after, `done` or `failed` with the result. After a
crash, a step left `running` is not run again: if its post can be found (posts made by steps carry the
step's key in their props) it counts as done, otherwise it is reported as interrupted and the run goes on
as the step's `on_error` says. Pending steps and reminders are re-armed at start.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from types import SimpleNamespace
from typing import Any, Callable, Mapping

from jinja2 import TemplateError

from bot.clock import Clock
from bot.incidents.model import Action as Change, Incident, Severity
from bot.incidents.service import ChannelOptions
from bot.store import incidents as incident_store
from bot.store import runs as run_store
from bot.store.db import Database
from bot.store.tasks import TaskStore
from bot.store.timeline import record
from bot.users import UserDirectory
from bot.workflow.context import Action, Chat, Integrations, StepContext, StepResult
from bot.workflow.library import PlaybookLibrary
from bot.workflow.actions.external import container_cleanup
from bot.workflow.actions.tasks import action_record
from bot.workflow.model import OnError, Playbook, Step
from bot.workflow.selection import select_playbook
from bot.workflow.template_context import TemplateContext
from bot.workflow.timers import Timers

log = logging.getLogger(__name__)

RETRY_DELAY_S = 10


class PlaybookEngine:
    def __init__(self, db: Database, chat: Chat, library: PlaybookLibrary, actions: Mapping[str, Action],
                 tasks: TaskStore, timers: Timers, clock: Clock, users: UserDirectory, *, team_id: str,
                 bot_user_id: str, integrations: Integrations):
        self.db = db
        self.chat = chat
        self.library = library
        self.actions = actions
        self.tasks = tasks
        self.timers = timers
        self.clock = clock
        self.users = users
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.integrations = integrations
        self.templates = TemplateContext(users)
        self.incidents: Any = None   # the IncidentService, for changes the playbook makes (commander)
        self._locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.default_playbook = ""
        self.oncall_primary: Callable[[str], str | None] = lambda schedule: None   # who is on call for a schedule

    # ------------------------------------------------------------------ choosing
    def choose(self, requested: str = "", *, rule_playbook: str = "", rule_name: str | None = None,
               severity: Severity | None = None, labels: Mapping[str, str] | None = None) -> str:
        """The playbook for a new incident: asked for, else the rule's, else the first that applies, else the default.

        Raises LookupError naming the known playbooks when the one asked for does not exist.
        """
        if requested:
            if self.library.get(requested) is None:
                known = ", ".join(f"`{p.name}`" for p in self.library.all()) or "none"
                raise LookupError(f"There is no playbook named `{requested}` (there are: {known}).")
            return requested
        if rule_playbook and self.library.get(rule_playbook) is not None:
            return rule_playbook
        picked = select_playbook(self.library.all(), rule_name=rule_name, severity=severity, labels=labels or {})
        if picked is not None:
            return picked.name
        return self.default_playbook if self.library.get(self.default_playbook) else ""

    def channel_options(self, incident: Incident) -> ChannelOptions:
        """A playbook's channel defaults: private or not, and the channel name template rendered."""
        playbook = self.library.get(incident.playbook) if incident.playbook else None
        if playbook is None:
            return ChannelOptions()
        hint = ""
        if playbook.defaults.channel_name:
            try:
                hint = self.templates.render(playbook.defaults.channel_name, self.templates.plain_context(incident))
            except TemplateError as exc:
                log.warning("%s: defaults.channel_name failed (%s); using the usual name", playbook.file, exc)
        return ChannelOptions(private=playbook.defaults.private, name_hint=hint)

    # ------------------------------------------------------------------ start and resume
    async def resume(self) -> None:
        """Re-arm what was pending when the bot stopped: active runs and unsent reminders."""
        for incident_id in await run_store.active_runs(self.db):
            self.timers.at(f"playbook:{incident_id}", self.clock.now_ms(), self.run_due, incident_id)
        for reminder in await run_store.pending_reminders(self.db):
            self.timers.at(f"reminder:{reminder.id}", reminder.due_at, self.send_reminder, reminder.id)

    async def start_run(self, incident: Incident) -> None:
        """Start the incident's playbook (once: a second call does nothing)."""
        playbook = self.library.get(incident.playbook) if incident.playbook else None
        if playbook is None:
            if incident.playbook:
                await self._say(incident, f":warning: There is no playbook named `{incident.playbook}`; "
                                          "the incident goes on without one.")
            return
        steps = [(step.id, incident.created_at + step.after * 1000) for step in playbook.steps]
        async with self.db.transaction() as conn:
            if not await run_store.create_run(conn, incident.id, playbook.name, self.clock.now_ms(), steps):
                return
            await record(conn, incident.id, "playbook_started", at=self.clock.now_ms(), actor_id=self.bot_user_id,
                         text=playbook.name, data={"file": playbook.file, "steps": len(steps)})
        await self.run_due(incident.id)

    async def _prepare(self, incident: Incident, playbook: Playbook, run: run_store.RunState) -> None:
        """Invite people and post the checklist, once per run (each part safe to repeat after a crash)."""
        if run.context.get("prepared"):
            return
        commander = await self._user_id(playbook.defaults.commander) if playbook.defaults.commander else ""
        if commander and commander != incident.commander_id:
            await self.chat.add_channel_member(incident.channel_id, commander)
            await self.incidents.set_commander(incident, commander, actor_id=self.bot_user_id)
        oncall = [self.oncall_primary(name) for name in playbook.invite.oncall]
        for username in [*playbook.invite.users, *(person for person in oncall if person)]:
            user = await self.chat.get_user_by_username(username)
            if user is None:
                await self._say(incident, f":warning: Playbook `{playbook.name}`: no user @{username} to invite.")
                continue
            await self.chat.add_channel_member(incident.channel_id, user["id"])
        if playbook.checklists and not await self.tasks.list(incident.id):
            for checklist in playbook.checklists:
                await self.tasks.add(incident.id, checklist.title, [
                    {"title": t.title, "description": t.description,
                     "assignee_id": await self._user_id(t.assignee),
                     "due_at": incident.created_at + t.due * 1000 if t.due is not None else None,
                     "action": action_record(t.action) if t.action else None}
                    for t in checklist.tasks])
            await self.post_checklist(incident, props=self._props(incident, "checklist"))
        async with self.db.transaction() as conn:
            await run_store.set_run_context(conn, incident.id, {**run.context, "prepared": True})

    async def post_checklist(self, incident: Incident, props: dict | None = None) -> None:
        text = await self.templates.checklist(incident, await self.tasks.list(incident.id), self.clock.now_ms())
        await self.chat.create_post(incident.channel_id, text, props=props)

    # ------------------------------------------------------------------ running steps
    async def run_due(self, incident_id: int) -> None:
        """Run every step that is due, in order; arm a timer for the next one."""
        async with self._locks[incident_id]:
            try:
                await self._run_due(incident_id)
            except Exception:
                log.exception("the playbook run of INC-%s failed; it is retried at the next start", incident_id)

    async def _run_due(self, incident_id: int) -> None:
        run = await run_store.get_run(self.db, incident_id)
        incident = await incident_store.get_incident(self.db, incident_id)
        if run is None or incident is None or run.status != run_store.RUN_ACTIVE:
            return
        playbook = self.library.get(run.playbook)
        if playbook is None:
            await self._finish(incident, run_store.RUN_STOPPED, f"the playbook `{run.playbook}` is no longer there")
            return
        await self._prepare(incident, playbook, run)
        incident = await incident_store.get_incident(self.db, incident_id)   # preparing may set the commander
        steps = {step.id: step for step in playbook.steps}
        not_before = run.started_at
        for state in run.steps:
            step = steps.get(state.step_id)
            if step is None:
                await self._mark(incident, state.step_id, run_store.SKIPPED, "no longer in the playbook")
                continue
            if state.status in run_store.FINISHED_STEP:
                not_before = max(not_before, state.updated_at + int(state.detail.get("wait_s", 0)) * 1000)
                continue
            if state.status == run_store.RUNNING and not await self._recover(incident, playbook, step):
                return
            if state.status == run_store.RUNNING:
                continue
            due = max(state.due_at, not_before + (step.after * 1000 if step.after_previous else 0))
            if due > self.clock.now_ms():
                self.timers.at(f"playbook:{incident_id}", due, self.run_due, incident_id)
                return
            outcome = await self._run_step(incident, playbook, step, state)
            if outcome is None:
                return
            not_before = self.clock.now_ms() + int(outcome.detail.get("wait_s", 0)) * 1000
        await self._finish(incident, run_store.RUN_FINISHED, "")

    async def _run_step(self, incident: Incident, playbook: Playbook, step: Step,
                        state: run_store.StepState) -> StepResult | None:
        """Run one step; None when the run must stop here (stopped, or waiting for a retry)."""
        context = await self.templates.context(incident)
        if step.when and not self._condition(step, context):
            await self._mark(incident, step.id, run_store.SKIPPED, f"`when: {step.when}` is false")
            return StepResult(True, "skipped")
        async with self.db.transaction() as conn:
            await run_store.mark_step(conn, incident.id, step.id, run_store.RUNNING, self.clock.now_ms(), attempt=True)
        result = await self._act(incident, playbook, step.id, step.action.kind, step.action.args, context)
        if result.message:
            await self._say(incident, result.message, props=self._props(incident, f"step:{step.id}"))
        if result.ok:
            await self._mark(incident, step.id, run_store.DONE, result.summary, result.detail)
            return result
        return await self._failed(incident, step, state.attempts + 1, result)

    async def _act(self, incident: Incident, playbook: Playbook, step_id: str, kind: str, args: Mapping[str, Any],
                   context: dict[str, Any]) -> StepResult:
        action = self.actions.get(kind)
        if action is None:
            return StepResult(False, f"the action `{kind}` is not available")
        ctx = StepContext(
            incident=incident, playbook=playbook, step_id=step_id, key=f"{incident.key}:{step_id}",
            team_id=self.team_id, bot_user_id=self.bot_user_id, chat=self.chat, tasks=self.tasks,
            integrations=self.integrations, render=lambda source: self.templates.render(source, context),
            render_data=lambda data: self.templates.render_data(data, context),
            schedule_reminder=lambda message, to, seconds: self.schedule_reminder(incident, message, to, seconds),
            props=self._props(incident, f"step:{step_id}"))
        try:
            return await action(ctx, args)
        except TemplateError as exc:
            return StepResult(False, f"a template failed: {exc}")
        except Exception as exc:
            log.exception("%s: step %s (%s) failed", incident.key, step_id, kind)
            return StepResult(False, f"{type(exc).__name__}: {exc}")

    def _condition(self, step: Step, context: dict[str, Any]) -> bool:
        try:
            return bool(self.templates.env.compile_expression(step.when)(**context))
        except TemplateError as exc:
            log.warning("step %s: `when` failed (%s); skipping the step", step.id, exc)
            return False

    async def _failed(self, incident: Incident, step: Step, attempts: int, result: StepResult) -> StepResult | None:
        where = f"{step.location.file}:{step.location.line}" if step.location.line else step.id
        if step.on_error is OnError.RETRY and attempts <= step.retries:
            due = self.clock.now_ms() + RETRY_DELAY_S * 1000 * attempts
            async with self.db.transaction() as conn:
                await run_store.mark_step(conn, incident.id, step.id, run_store.PENDING, self.clock.now_ms(),
                                          summary=result.summary, detail=result.detail, due_at=due)
            await self._say(incident, f":repeat: Step `{step.id}` failed ({result.summary}); "
                                      f"retrying in {RETRY_DELAY_S * attempts}s ({attempts}/{step.retries}).")
            self.timers.at(f"playbook:{incident.id}", due, self.run_due, incident.id)
            return None
        await self._mark(incident, step.id, run_store.FAILED, result.summary, result.detail)
        if step.on_error is OnError.CONTINUE:
            await self._say(incident, f":warning: Step `{step.id}` failed: {result.summary}. The playbook goes on.")
            return result
        await self._say(incident, f":x: Step `{step.id}` ({where}) failed: {result.summary}. "
                                  "The playbook stops here.")
        await self._finish(incident, run_store.RUN_STOPPED, f"step {step.id} failed")
        return None

    async def _recover(self, incident: Incident, playbook: Playbook, step: Step) -> bool:
        """Settle a step a crash interrupted; False when the run must stop."""
        for post in await self.chat.get_posts_since(incident.channel_id, incident.created_at - 1):
            tag = post.props.get("incident_bot")
            if isinstance(tag, dict) and tag.get("incident") == incident.id and tag.get("role") == f"step:{step.id}":
                await self._mark(incident, step.id, run_store.DONE, "done before the restart", {"post_id": post.id})
                return True
        result = StepResult(False, "interrupted by a restart before its result was recorded; "
                                   "not run again, since it may have happened")
        await self._mark(incident, step.id, run_store.FAILED, result.summary)
        if step.on_error is OnError.STOP:
            await self._say(incident, f":x: Step `{step.id}` was {result.summary}. The playbook stops here.")
            await self._finish(incident, run_store.RUN_STOPPED, f"step {step.id} was interrupted")
            return False
        await self._say(incident, f":warning: Step `{step.id}` was {result.summary}.")
        return True

    async def _mark(self, incident: Incident, step_id: str, status: str, summary: str,
                    detail: Mapping[str, Any] | None = None) -> None:
        now = self.clock.now_ms()
        async with self.db.transaction() as conn:
            await run_store.mark_step(conn, incident.id, step_id, status, now, summary=summary, detail=detail or {})
            await record(conn, incident.id, f"step_{status}", at=now, actor_id=self.bot_user_id,
                         text=f"{step_id}: {summary}", data={"step": step_id, **_jsonable(detail or {})})

    async def _finish(self, incident: Incident, status: str, reason: str) -> None:
        async with self.db.transaction() as conn:
            await run_store.set_run_status(conn, incident.id, status)
            await record(conn, incident.id, f"playbook_{status}", at=self.clock.now_ms(), actor_id=self.bot_user_id,
                         text=reason)

    # ------------------------------------------------------------------ reminders and tasks
    async def schedule_reminder(self, incident: Incident, message: str, to: str, seconds: int) -> None:
        due = self.clock.now_ms() + seconds * 1000
        async with self.db.transaction() as conn:
            reminder_id = await run_store.add_reminder(conn, incident.id, due, to, message)
        self.timers.at(f"reminder:{reminder_id}", due, self.send_reminder, reminder_id)

    async def send_reminder(self, reminder_id: int) -> None:
        reminder = next((r for r in await run_store.pending_reminders(self.db) if r.id == reminder_id), None)
        if reminder is None:
            return
        async with self.db.transaction() as conn:
            if not await run_store.claim_reminder(conn, reminder_id):
                return
        incident = await incident_store.get_incident(self.db, reminder.incident_id)
        if incident is None:
            return
        who = reminder.recipient
        mention = f"@{await self.users.username(incident.commander_id)}" if who == "commander" else who
        await self._say(incident, f":alarm_clock: {mention}: {reminder.message}")
        async with self.db.transaction() as conn:
            await record(conn, incident.id, "reminder_sent", at=self.clock.now_ms(), actor_id=self.bot_user_id,
                         text=reminder.message, data={"to": who})

    async def run_task_action(self, incident: Incident, number: int) -> StepResult | None:
        """Run the action a checklist task carries, when someone marks the task done."""
        task = next((t for t in await self.tasks.list(incident.id) if t.number == number), None)
        if task is None or not task.action:
            return None
        run = await run_store.get_run(self.db, incident.id)
        playbook = self.library.get(run.playbook) if run else None
        if playbook is None:
            return StepResult(False, "the incident's playbook is not loaded")
        context = await self.templates.context(incident)
        result = await self._act(incident, playbook, f"task-{number}", task.action["kind"], task.action["args"],
                                 context)
        if result.message:
            await self._say(incident, result.message)
        async with self.db.transaction() as conn:
            await record(conn, incident.id, "task_action", at=self.clock.now_ms(), actor_id=self.bot_user_id,
                         text=f"task {number}: {result.summary}", data={"ok": result.ok})
        return result

    async def run_action(self, incident: Incident, key: str, kind: str, args: Mapping[str, Any],
                         extra_context: Mapping[str, Any]) -> StepResult:
        """Run one playbook action outside the playbook (a custom command's `step`); `key` names the run."""
        run = await run_store.get_run(self.db, incident.id)
        playbook = (self.library.get(run.playbook) if run else None) or Playbook(name="", file="")
        context = {**await self.templates.context(incident), **extra_context}
        result = await self._act(incident, playbook, key, kind, args, context)
        if result.message:
            await self._say(incident, result.message, props=self._props(incident, key))
        return result

    async def on_change(self, incident: Incident, change: Change, text: str, actor_id: str) -> None:
        if change is Change.RESOLVE:
            await self.cleanup(incident)

    async def cleanup(self, incident: Incident) -> None:
        """When an incident is resolved: remove the containers its steps started."""
        run = await run_store.get_run(self.db, incident.id)
        details = [state.detail for state in run.steps] if run else []
        if not any("container_name" in detail for detail in details):
            return
        result = await container_cleanup(self.integrations, incident, details)
        async with self.db.transaction() as conn:
            await record(conn, incident.id, "containers_removed", at=self.clock.now_ms(), actor_id=self.bot_user_id,
                         text=result.summary, data={"ok": result.ok})
        if not result.ok:
            await self._say(incident, f":warning: {result.summary}")

    async def welcome(self, incident: Incident, user_id: str) -> None:
        """Send the playbook's welcome message to someone who joined the incident channel."""
        run = await run_store.get_run(self.db, incident.id)
        playbook = self.library.get(run.playbook) if run else None
        if playbook is None or not playbook.welcome or user_id == self.bot_user_id:
            return
        context = await self.templates.context(incident)
        context["user"] = SimpleNamespace(username=await self.users.username(user_id))
        try:
            text = self.templates.render(playbook.welcome, context)
        except TemplateError as exc:
            log.warning("%s: the welcome message failed: %s", playbook.file, exc)
            return
        channel = await self.chat.create_direct_channel(self.bot_user_id, user_id)
        await self.chat.create_post(channel["id"], text)

    # ------------------------------------------------------------------ helpers
    async def _user_id(self, username: str) -> str:
        if not username:
            return ""
        user = await self.chat.get_user_by_username(username)
        return user["id"] if user else ""

    async def _say(self, incident: Incident, text: str, props: dict | None = None) -> None:
        await self.chat.create_post(incident.channel_id, text, props=props)

    @staticmethod
    def _props(incident: Incident, role: str) -> dict[str, Any]:
        return {"incident_bot": {"incident": incident.id, "role": role}}


def _jsonable(detail: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(detail), default=str))
