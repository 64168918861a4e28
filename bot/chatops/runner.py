"""Running custom commands: arguments, confirmation buttons, the action, the answer, the audit log and the timeline.

Every run is a row in `command_runs` (the audit log) and, in an incident channel, an entry on the incident's
timeline. A dangerous command first posts Confirm/Cancel buttons; only the person who asked can confirm, and
a run is claimed in the database before it starts, so a double click or a restart never runs it twice.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any, Mapping

from jinja2 import TemplateError

from bot.alerts.buttons import ActionLinks, ClickAnswer
from bot.chat.context import CommandContext, Reply
from bot.chatops import actions
from bot.chatops.arguments import parse_arguments
from bot.chatops.model import Answer, ArgType, CustomCommand
from bot.clock import Clock
from bot.incidents.model import Action as Change, Incident
from bot.mattermost.errors import MattermostError
from bot.store import command_runs as runs
from bot.store import incidents as incident_store
from bot.store.db import Database
from bot.store.timeline import record
from bot.users import UserDirectory
from bot.workflow.actions.external import incident_summary
from bot.workflow.context import Integrations
from bot.workflow.model import ActionCall
from bot.workflow.template_context import NO_ALERT, TemplateContext

log = logging.getLogger(__name__)
audit = logging.getLogger("bot.audit")

CONFIRM_ACTION = "confirm_command"
CONFIRM_WINDOW_MS = 10 * 60 * 1000
ANSWER_MAX = 16000


class CommandRunner:
    """Runs the operator's commands for chat users and keeps the record of every run."""

    def __init__(self, db: Database, chat, clock: Clock, users: UserDirectory, *, commands: Mapping[str, CustomCommand],
                 integrations: Integrations, variables: Mapping[str, str], bot_user_id: str, engine=None):
        self.db = db
        self.chat = chat                  # MattermostRest: create_post, show_privately
        self.clock = clock
        self.users = users
        self.commands = dict(commands)
        self.integrations = integrations
        self.variables = dict(variables)
        self.bot_user_id = bot_user_id
        self.engine = engine              # PlaybookEngine, for `step` commands
        self.templates = TemplateContext(users)
        self.links: ActionLinks | None = None   # set once the HTTP server is up (confirmation buttons)
        self._background: set[asyncio.Task] = set()

    # -- running from chat

    async def run(self, command: CustomCommand, ctx: CommandContext, text: str) -> list[Reply]:
        """Run `command` with the argument text (BadArguments propagates to the router, which shows usage)."""
        values = parse_arguments(command.args, text)
        if ctx.post_id and await runs.for_post(self.db, ctx.post_id) is not None:
            return []     # read again after a restart: it ran (or was cut off, and `resume` said so)
        status = runs.AWAITING if command.confirm else runs.RUNNING
        if command.confirm and self.links is None:
            return [Reply(f":x: `{command.name}` asks for confirmation with buttons, which need the bot's HTTP "
                          f"server: set `http.listen` (and `http.public_url`) in the bot's config.")]
        incident = ctx.incident if ctx.incident is not None and ctx.channel_id == ctx.incident.channel_id else None
        async with self.db.transaction() as conn:
            run_id = await runs.start(conn, command=command.name, args_text=text, args=_storable(values),
                                      post_id=ctx.post_id,
                                      actor_id=ctx.actor_id, channel_id=ctx.channel_id, thread_id=ctx.thread_id,
                                      incident_id=incident.id if incident else None, status=status, at=ctx.now)
        context = await self._context(command, values, incident, ctx.actor_id)
        if command.confirm:
            return [self._confirmation(run_id, command, context)]
        answer = await self._execute(run_id, command, f"{command.name} {text}".strip(), incident, ctx.actor_id, context)
        return [Reply(answer, ephemeral=command.answer is Answer.EPHEMERAL)]

    def _confirmation(self, run_id: int, command: CustomCommand, context: dict[str, Any]) -> Reply:
        try:
            question = ":warning: " + self.templates.render(command.confirm, context).strip()
        except TemplateError as exc:
            question = f":warning: Run `{command.name}`? (its confirmation text failed: {exc})"
        buttons = []
        for choice, label, style in (("run", "Confirm", "danger"), ("cancel", "Cancel", "default")):
            button_context = {"action": CONFIRM_ACTION, "run": run_id, "choice": choice, "question": question}
            button_context["signature"] = self.links.sign(button_context)
            buttons.append({"id": choice, "name": label, "type": "button", "style": style,
                            "integration": {"url": self.links.url.rstrip("/") + "/mattermost/actions",
                                            "context": button_context}})
        attachment = {"fallback": f"Confirm or cancel {command.name}", "color": "#D24B4E",
                      "text": "Only the person who asked can confirm; this expires in 10 minutes.", "actions": buttons}
        return Reply(question, props={"attachments": [attachment]})

    async def confirm_click(self, context: dict[str, Any], user_id: str, user_name: str) -> ClickAnswer:
        """A Confirm or Cancel click on a confirmation post."""
        run = await runs.get(self.db, int(context.get("run", 0)))
        if run is None:
            return ClickAnswer("This request is no longer known.")
        if user_id != run.actor_id and not await self.users.is_admin(user_id):
            asker = await self.users.username(run.actor_id)
            return ClickAnswer(f"Only @{asker}, who asked for `{run.command}`, can confirm or cancel it.")
        who = f"@{user_name or await self.users.username(user_id)}"
        command = self.commands.get(run.command)
        if context.get("choice") != "run":
            return await self._close(run, context, runs.CANCELLED, f"cancelled by {who}")
        if command is None:
            return await self._close(run, context, runs.EXPIRED, "not run: the command is no longer configured")
        if self.clock.now_ms() - run.created_at > CONFIRM_WINDOW_MS:
            return await self._close(run, context, runs.EXPIRED, "expired: run the command again")
        async with self.db.transaction() as conn:
            claimed = await runs.claim(conn, run.id, expected=runs.AWAITING, status=runs.RUNNING, confirmed_by=user_id)
        if not claimed:
            return await self._already(run.id)
        self._in_background(self._run_confirmed(run.id, command))
        status = f":hourglass_flowing_sand: Confirmed by {who}; running…"
        return ClickAnswer(status, update=f"{context.get('question', '')}\n{status}")

    async def _close(self, run: runs.CommandRun, context: dict[str, Any], status: str, why: str) -> ClickAnswer:
        """End a run that waits for confirmation without running it (cancelled, expired)."""
        async with self.db.transaction() as conn:
            if not await runs.claim(conn, run.id, expected=runs.AWAITING, status=status):
                return await self._already(run.id)
            await runs.finish(conn, run.id, status=status, summary=why, at=self.clock.now_ms())
            await self._record(conn, run.incident_id, run.actor_id, f"`{_typed(run)}` {why}",
                               {"command": run.command, "run": run.id, "status": status})
        return ClickAnswer(f"{why[0].upper()}{why[1:]}.", update=f"~~{context.get('question', '')}~~\n{why}.")

    async def _already(self, run_id: int) -> ClickAnswer:
        run = await runs.get(self.db, run_id)
        return ClickAnswer(f"`{run.command}` is already {run.status.replace('_', ' ')}.")

    async def _run_confirmed(self, run_id: int, command: CustomCommand) -> None:
        run = await runs.get(self.db, run_id)
        incident = await incident_store.get_incident(self.db, run.incident_id) if run.incident_id else None
        values = _revived(command, run.args)
        context = await self._context(command, values, incident, run.actor_id)
        text = await self._execute(run_id, command, _typed(run), incident, run.actor_id, context, run.confirmed_by)
        await self._deliver(run.channel_id, run.thread_id, run.actor_id, text, command.answer)

    async def _deliver(self, channel_id: str, thread_id: str, user_id: str, text: str, answer: Answer) -> None:
        """Post an answer that comes after the command's own reply (a confirmed run, a restart notice)."""
        try:
            if answer is Answer.EPHEMERAL:
                await self.chat.show_privately(user_id, channel_id, text, root_id=thread_id,
                                               bot_user_id=self.bot_user_id)
            else:
                await self.chat.create_post(channel_id, text, root_id=thread_id)
        except MattermostError as exc:
            log.warning("could not post the answer of a command in %s: %s", channel_id, exc)

    # -- the action, the answer, the record

    async def _execute(self, run_id: int, command: CustomCommand, typed: str, incident: Incident | None,
                       actor_id: str, context: dict[str, Any], confirmed_by: str = "") -> str:
        """Run the action, keep the outcome (audit log, timeline, what to undo); return the answer."""
        outcome = await self._act(run_id, command.action, incident, context)
        answer = self._answer(command, outcome, context)
        undo = outcome.ok and command.on_resolve is not None and incident is not None
        result = outcome.seen.get("response") or outcome.seen.get("output") or {}
        status = runs.OK if outcome.ok else runs.FAILED
        confirmed = f" (confirmed by @{await self.users.username(confirmed_by)})" if confirmed_by else ""
        async with self.db.transaction() as conn:
            await runs.finish(conn, run_id, status=status, summary=outcome.summary, at=self.clock.now_ms(),
                              result=_small(result), undo=undo)
            await self._record(conn, incident.id if incident else None, actor_id,
                               f"`{typed}`{confirmed}: {outcome.summary}",
                               {"command": command.name, "args": _storable(context["args"]), "run": run_id,
                                "status": status, "confirmed_by": confirmed_by})
        audit.info("run %d: user %s ran %s (%s) in %s: %s", run_id, actor_id, command.name, status,
                   incident.key if incident else "no incident", outcome.summary)
        return answer

    async def _act(self, run_id: int, call: ActionCall, incident: Incident | None,
                   context: dict[str, Any]) -> actions.Outcome:
        render = lambda source: self.templates.render(source, context)   # noqa: E731
        render_data = lambda data: self.templates.render_data(data, context)   # noqa: E731
        try:
            if call.kind == "http":
                return await actions.http(call.args, render, render_data, key=f"incident-bot-command-{run_id}")
            if call.kind == "run_command":
                return await actions.run_command(call.args, render, self.integrations)
            if call.kind == "publish":
                return await actions.publish(call.args, render, render_data, self.integrations,
                                             incident_summary(incident) if incident else None)
            if call.kind.startswith("step:") and incident is not None and self.engine is not None:
                extra = {name: context[name] for name in ("args", "vars", "user")}
                result = await self.engine.run_action(incident, f"command-{run_id}", call.kind[5:], call.args, extra)
                return actions.Outcome(result.ok, result.summary, {}, result.summary)
            return actions.Outcome(False, f"`{call.kind}` cannot run here")
        except TemplateError as exc:
            return actions.Outcome(False, f"a template failed: {exc}")
        except Exception as exc:   # a bug or an unexpected failure outside: say so, keep the bot up
            log.exception("command run %d (%s) failed", run_id, call.kind)
            return actions.Outcome(False, f"{type(exc).__name__}: {exc}")

    def _answer(self, command: CustomCommand, outcome: actions.Outcome, context: dict[str, Any]) -> str:
        if not outcome.ok:
            text = f":x: `{command.name}` failed: {outcome.summary}"
            return f"{text}\n{outcome.message}" if outcome.message else text
        if not command.reply:
            return outcome.message or f":white_check_mark: `{command.name}`: {outcome.summary}"
        try:
            text = self.templates.render(command.reply, {**context, **outcome.seen}).strip()
        except TemplateError as exc:
            return f":warning: `{command.name}` ran ({outcome.summary}), but its reply template failed: {exc}"
        text = text or f":white_check_mark: `{command.name}`: {outcome.summary}"
        return text if len(text) <= ANSWER_MAX else text[:ANSWER_MAX - 1] + "…"

    async def _record(self, conn, incident_id: int | None, actor_id: str, text: str, data: dict[str, Any]) -> None:
        if incident_id is not None:
            await record(conn, incident_id, "command", at=self.clock.now_ms(), actor_id=actor_id, text=text,
                         data=data)

    async def _context(self, command: CustomCommand, values: Mapping[str, Any], incident: Incident | None,
                       actor_id: str) -> dict[str, Any]:
        if incident is not None:
            context = await self.templates.context(incident)
        else:
            context = {"incident": None, "alert": NO_ALERT, "people": SimpleNamespace(commander="", reporter=""),
                       "now": datetime.now(timezone.utc)}
        user = SimpleNamespace(username=await self.users.username(actor_id), id=actor_id)
        return {**context, "args": dict(values), "vars": dict(self.variables), "user": user}

    # -- on resolve, and after a restart

    async def on_change(self, incident: Incident, change: Change, text: str, actor_id: str) -> None:
        if change is Change.RESOLVE:
            self._in_background(self.undo(incident.id))

    async def undo(self, incident_id: int) -> None:
        """Run the `on_resolve` actions of the incident's commands (expire its silences)."""
        incident = await incident_store.get_incident(self.db, incident_id)
        for run in await runs.pending_undos(self.db, incident_id):
            command = self.commands.get(run.command)
            if command is None or command.on_resolve is None:
                outcome = actions.Outcome(False, "the command or its on_resolve is no longer configured")
            else:
                values = _revived(command, run.args)
                context = {**await self._context(command, values, incident, run.actor_id), "result": dict(run.result)}
                outcome = await self._act(run.id, command.on_resolve, incident, context)
            async with self.db.transaction() as conn:
                if not await runs.finish_undo(conn, run.id, runs.UNDO_DONE if outcome.ok else runs.UNDO_FAILED):
                    continue
                await self._record(conn, incident_id, self.bot_user_id, f"undid `{run.command}` on resolve: "
                                   f"{outcome.summary}", {"command": run.command, "run": run.id, "ok": outcome.ok})
            if not outcome.ok and incident is not None:
                await self._deliver(incident.channel_id, "", "", f":warning: Could not undo `{run.command}` "
                                    f"on resolve: {outcome.summary}", Answer.CHANNEL)

    async def resume(self) -> None:
        """After a restart: report runs cut off mid-way, and undo for incidents resolved meanwhile."""
        async with self.db.transaction() as conn:
            cut_off = await runs.interrupted(conn)
        for run_id in cut_off:
            run = await runs.get(self.db, run_id)
            text = (f":warning: I was restarted while running `{_typed(run)}` for "
                    f"@{await self.users.username(run.actor_id)}; check whether it took effect before running it again.")
            async with self.db.transaction() as conn:
                await self._record(conn, run.incident_id, self.bot_user_id, text, {"run": run.id, "status": run.status})
            await self._deliver(run.channel_id, run.thread_id, run.actor_id, text, Answer.CHANNEL)
        for incident_id in {run.incident_id for run in await runs.pending_undos(self.db)}:
            incident = await incident_store.get_incident(self.db, incident_id)
            if incident is not None and incident.resolved_at:
                await self.undo(incident_id)

    def _in_background(self, work) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a command run failed", exc_info=task.exception())


def _typed(run: runs.CommandRun) -> str:
    """The command as it was typed."""
    return f"{run.command} {run.args_text}".strip()


def _storable(values: Mapping[str, Any]) -> dict[str, Any]:
    """Argument values as JSON can keep them (durations as seconds)."""
    return {name: value.total_seconds() if isinstance(value, timedelta) else value for name, value in values.items()}


def _revived(command: CustomCommand, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Stored argument values as the templates saw them (durations back as timedeltas)."""
    values = dict(stored)
    for spec in command.args:
        if spec.type is ArgType.DURATION and isinstance(values.get(spec.name), (int, float)):
            values[spec.name] = timedelta(seconds=values[spec.name])
    return values


def _small(result: Mapping[str, Any], limit: int = 64 * 1024) -> dict[str, Any]:
    """The result kept for on_resolve, without a huge body."""
    kept = dict(result)
    if len(str(kept.get("text", ""))) > limit:
        kept["text"] = str(kept["text"])[:limit]
    if len(str(kept.get("json", ""))) > limit:
        kept["json"] = None
    return kept
