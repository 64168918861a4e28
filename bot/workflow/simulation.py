"""A dry run of a playbook on a fake clock: what it would post, call and schedule, rendered, in time order.

Nothing is sent anywhere. Templates get the engine's context (`TemplateContext.plain_context`: incident,
alert, people, now) for a sample incident and, optionally, a real alert, and are rendered the way the
engine renders them. Timing follows the engine: a step runs `after` from the start but never before the
step above it, or `after` the previous step with `after_previous`; a `wait` moves every later step.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from jinja2 import TemplateError

from bot.alerts.codec import alert_to_json
from bot.alerts.model import Alert
from bot.incidents.model import Incident, Severity, Status
from bot.incidents.service import channel_name, named_channel
from bot.workflow.actions_schema import ACTIONS, Kind
from bot.problems import dotted
from bot.workflow.model import ActionCall, OnError, Playbook, Step, Task, thaw
from bot.workflow.template_context import TemplateContext
from bot.yamlsource import Location, YamlDocument, YamlSourceError, parse_yaml

SIMULATION_START = datetime(2026, 1, 7, 12, 0, tzinfo=timezone.utc)
CHANNEL_PREFIX = "inc"
INDENT = " " * 11          # lines under an event line up after its "+00:00:00  "
FAILED = "<template error>"

# Events at the same moment are listed: the incident opening, its checklists, the steps, then what falls due.
_OPENING, _CHECKLISTS, _STEPS, _DUE = range(4)


# What the engine does with a step whose template fails (the dry run itself goes on).
_FAILURE = {
    OnError.STOP: "so the step would fail and the run would stop here (the dry run goes on)",
    OnError.CONTINUE: "so the step would fail and the run would go on",
    OnError.RETRY: "so the step would fail on every retry, then stop the run (the dry run goes on)",
}


def offset(seconds: int) -> str:
    """'+01:30:00' for 5400 seconds (hours may pass 24)."""
    hours, rest = divmod(seconds, 3600)
    return f"+{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def duration(seconds: int) -> str:
    """'1h30m', '45s', '2d'."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


def _block(text: str) -> list[str]:
    """A message body, indented under the line that introduces it."""
    return ["  " + line for line in str(text).splitlines() or [""]]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass
class _Event:
    at: int
    rank: int
    lines: list[str]    # the first goes after the offset; the rest are indented under it


@dataclass
class _Renderer:
    """Renders the templates of one part of the playbook at one moment, collecting errors instead of stopping."""

    render_source: Callable[[str], str]
    locate: Callable[[tuple], Location]
    base: tuple
    errors: list[str] = field(default_factory=list)

    def __call__(self, source: str, part: tuple = ()) -> str:
        if not source:
            return source
        try:
            return self.render_source(source)
        except TemplateError as exc:
            message = exc.message or str(exc)
        except Exception as exc:  # noqa: BLE001 - a template can fail in many ways; report each
            message = f"{type(exc).__name__}: {exc}"
        self.error(part, f"template error: {message}")
        return FAILED

    def error(self, part: tuple, message: str) -> None:
        self.errors.append(f"{self.locate(self.base + part)}: {dotted(self.base + part)}: {message}")

    def data(self, value: Any, part: tuple) -> Any:
        if isinstance(value, dict):
            return {key: self.data(item, part + (key,)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.data(item, part + (index,)) for index, item in enumerate(value)]
        return self(value, part) if isinstance(value, str) else value


class Simulation:
    """One playbook run against a sample incident (id 1) that opens at `start`."""

    def __init__(self, playbook: Playbook, *, title: str | None = None, severity: Severity | None = None,
                 alert: Alert | None = None, alert_count: int = 0, start: datetime = SIMULATION_START,
                 reporter: str = "alice"):
        self.playbook = playbook
        self.alert = alert
        self.alert_count = alert_count
        self.start = start
        self.severity = severity or playbook.defaults.severity or Severity.SEV3
        self.title = title or ((alert.summary or alert.name) if alert else "Sample incident")
        self.commander = playbook.defaults.commander or reporter   # the bot makes the reporter commander
        self.reporter = reporter
        self.templates = TemplateContext(users=None)  # plain_context and rendering need no user lookups
        start_ms = int(start.timestamp() * 1000)
        self.incident = Incident(
            id=1, title=self.title, severity=self.severity, status=Status.OPEN, reporter_id="", commander_id="",
            created_at=start_ms, updated_at=start_ms, playbook=playbook.name,
            alert=json.dumps(alert_to_json(alert)) if alert is not None else "")
        self.doc = _source(playbook.file)
        self.events: list[_Event] = []
        self.template_errors = 0
        self.ran = self.skipped = 0

    # -- the template context

    @property
    def channel(self) -> str:
        return self.incident.channel_name

    def context(self, at: int) -> dict[str, Any]:
        """What templates see `at` seconds after the start, as the engine builds it."""
        context = self.templates.plain_context(self.incident)
        context["people"] = SimpleNamespace(commander=self.commander, reporter=self.reporter)
        context["now"] = self.start + timedelta(seconds=at)
        return context

    def renderer(self, at: int, base: tuple, *, context: dict[str, Any] | None = None, **extra: Any) -> _Renderer:
        """A renderer for the templates under `base` (a path in the file, like ('steps', 0, 'post'))."""
        def render(source: str) -> str:
            return self.templates.render(source, {**(context or self.context(at)), **extra})
        return _Renderer(render, self.locate, base)

    def locate(self, path: tuple) -> Location:
        """Where `path` is written in the playbook file (its nearest ancestor when the file changed meanwhile)."""
        if self.doc is not None:
            return self.doc.where(path)
        return self.playbook.location

    # -- the run

    def lines(self) -> list[str]:
        """The whole dry run as printable lines."""
        self.events, self.template_errors, self.ran, self.skipped = [], 0, 0, 0
        self._opening()
        self._checklists()
        self._steps()
        out = self._header()
        for event in sorted(self.events, key=lambda e: (e.at, e.rank)):  # stable: same-moment events keep order
            first, *rest = event.lines
            out.append(f"{offset(event.at)}  {first}")
            out.extend((INDENT + line).rstrip() for line in rest)
        out.append("")
        out.append(f"{_plural(len(self.playbook.steps), 'step')}: {self.ran} would run, {self.skipped} skipped; "
                   f"{_plural(self.template_errors, 'template error')}")
        return out

    def _header(self) -> list[str]:
        playbook = self.playbook
        lines = [f"Dry run of playbook {playbook.name} ({playbook.display_title}) from {playbook.file}",
                 f"Incident INC-1 {self.title!r}, {self.severity.label}, opened "
                 f"{self.start.strftime('%Y-%m-%d %H:%M UTC')} by @{self.reporter}; commander @{self.commander}"]
        if self.alert is None:
            lines.append("Alert: none (opened by a person, so alert.* is empty)")
        else:
            of = f", the first firing of {self.alert_count} in the file" if self.alert_count > 1 else ""
            labels = ", ".join(f"{k}={v}" for k, v in sorted(self.alert.labels.items()))
            lines.append(f"Alert: {self.alert.name} ({self.alert.status.value}, {self.alert.severity.value}){of}; "
                         f"labels: {labels or 'none'}")
        lines += ["Nothing is posted, called or run. Times are offsets from the start, on a fake clock.", ""]
        return lines

    def _add(self, at: int, rank: int, lines: list[str], errors: list[str] = (), outcome: str = "") -> None:
        """An event; its template errors follow its lines, then what they lead to."""
        self.template_errors += len(errors)
        tail = [outcome] if errors and outcome else []
        self.events.append(_Event(at, rank, lines + ["! " + error for error in errors] + tail))

    def _opening(self) -> None:
        playbook = self.playbook
        # As the engine names the channel: before it exists, without people; a failing template means the usual name
        render = self.renderer(0, ("defaults", "channel_name"), context=self.templates.plain_context(self.incident))
        hint = render(playbook.defaults.channel_name) if playbook.defaults.channel_name else ""
        name = named_channel(hint) if hint and hint != FAILED else channel_name(CHANNEL_PREFIX, 1, self.title)
        self.incident = replace(self.incident, channel_name=name)
        lines = [f"INC-1 opens: channel ~{self.channel}" + (" (private)" if playbook.defaults.private else "")]
        invite = playbook.invite
        who = [f"@{u}" for u in invite.users] + [f"group {g}" for g in invite.groups] + \
              [f"on-call {o}" for o in invite.oncall]
        if who:
            lines.append("invite: " + ", ".join(who))
        if playbook.broadcast:
            lines.append("stakeholder channels: " + ", ".join(f"~{c}" for c in playbook.broadcast))
        lines.append(self._status_updates())
        errors = list(render.errors)
        if playbook.welcome:
            welcome = self.renderer(0, ("welcome",), user=SimpleNamespace(username="carol"))
            lines.append("welcome, sent to each person who joins (here @carol):")
            lines += _block(welcome(playbook.welcome))
            errors += welcome.errors
        outcome = "so the channel gets the usual name" if render.errors else ""
        self._add(0, _OPENING, lines, errors, outcome)

    def _status_updates(self) -> str:
        every = self.playbook.status_updates.get(self.severity)
        sev = self.severity.value
        if every is None:
            return f"status updates: the playbook sets none for {sev}; the bot's default applies"
        if every == 0:
            return f"status updates: off for {sev}"
        self._add(every, _DUE, [f"status update reminder to @{self.commander} "
                                f"(then every {duration(every)} while the incident is open)"])
        return f"status updates: every {duration(every)} for {sev}"

    def _checklists(self) -> None:
        number = 0
        for c_index, checklist in enumerate(self.playbook.checklists):
            lines = [f"checklist {checklist.title!r} posted:"]
            errors: list[str] = []
            for t_index, task in enumerate(checklist.tasks):
                number += 1
                task_lines, task_errors = self._task(task, ("checklists", c_index, "tasks", t_index), number)
                lines += task_lines
                errors += task_errors
                if task.due is not None:
                    self._add(task.due, _DUE, [f"task {number} due: {task.title} ({checklist.title})"])
            self._add(0, _CHECKLISTS, lines, errors)

    def _task(self, task: Task, path: tuple, number: int | None = None) -> tuple[list[str], list[str]]:
        due = f", due {offset(task.due)}" if task.due is not None else ""
        assignee = f", @{task.assignee}" if task.assignee else ""
        lines = [f"  {f'{number}.' if number else '-'} {task.title}{due}{assignee}"]
        if task.description:
            lines.append(f"     {task.description}")
        if task.action is None:
            return lines, []
        render = self.renderer(0, path + ("action", task.action.kind))
        described, _ = self._describe(task.action, render, 0, f"task {task.title!r}")
        lines.append(f"     when done: {described[0]}")
        lines += [f"     {line}" for line in described[1:]]
        return lines, render.errors

    def _steps(self) -> None:
        cursor = 0
        for index, step in enumerate(self.playbook.steps):
            at = cursor + step.after if step.after_previous else max(cursor, step.after)
            cursor = at
            head = f"step {step.id}"
            if step.after:
                head += f" (after {duration(step.after)}{' from the previous step' if step.after_previous else ''})"
            runs, condition, when_errors = self._when(step, index, at)
            if not runs:
                self.skipped += 1
                self._add(at, _STEPS, [f"{head}: {condition}: skipped ({step.action.kind})"], when_errors)
                continue
            self.ran += 1
            render = self.renderer(at, ("steps", index, step.action.kind))
            described, moved = self._describe(step.action, render, at, f"step {step.id}")
            if condition:
                lines = [f"{head}: {condition}"] + described
            else:
                lines = [f"{head}: {described[0]}"] + described[1:]
            if step.on_error is not OnError.STOP:
                retries = f" (up to {step.retries} times)" if step.on_error is OnError.RETRY else ""
                lines.append(f"on error: {step.on_error.value}{retries}")
            self._add(at, _STEPS, lines, render.errors, _FAILURE[step.on_error])
            cursor += moved

    def _when(self, step: Step, index: int, at: int) -> tuple[bool, str, list[str]]:
        """Whether the step runs, the condition as printed, and any error (an error counts as false)."""
        if not step.when:
            return True, "", []
        try:
            value = self.templates.env.compile_expression(step.when)(**self.context(at))
        except Exception as exc:  # noqa: BLE001 - the engine skips the step on a failing condition; show why
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            path = ("steps", index, "when")
            return False, f"when {step.when} fails", [f"{self.locate(path)}: {dotted(path)}: {message}"]
        return bool(value), f"when {step.when} -> {'true' if value else 'false'}", []

    # -- actions

    def _describe(self, call: ActionCall, render: _Renderer, at: int, source: str) -> tuple[list[str], int]:
        """Lines saying what the action would do, arguments rendered; and how far it moves the later steps."""
        args = self._rendered_args(call, render)
        kind = call.kind
        if kind == "post":
            target = args.get("channel") or ""
            where = ("the incident's summary thread" if args.get("thread") else
                     f"a direct message to {target}" if target.startswith("@") else
                     f"~{target}" if target else f"the incident channel ~{self.channel}")
            return [f"post to {where}{', pinned' if args.get('pin') else ''}:"] + _block(args["message"]), 0
        if kind in ("set_header", "set_purpose"):
            return [f"set the channel {kind.removeprefix('set_')}:"] + _block(args["text"]), 0
        if kind == "rename_channel":
            return [f"rename the channel to {args['display_name']!r}"], 0
        if kind == "broadcast":
            return [f"broadcast to {', '.join('~' + c for c in args['channels'])}:"] + _block(args["message"]), 0
        if kind == "wait":
            return [f"wait {duration(args['for'])}; the steps after it move {duration(args['for'])} later"], args["for"]
        if kind == "remind":
            to = f"the commander (@{self.commander})" if args["to"] == "commander" else args["to"]
            due = at + args["after"]
            self._add(due, _DUE, [f"reminder to {to}, set by {source}:"] + _block(args["message"]))
            return [f"remind {to} in {duration(args['after'])} (at {offset(due)}):"] + _block(args["message"]), 0
        if kind == "http":
            lines = [f"http {args['method']} {args['url']}"]
            if args["url"] != FAILED and not args["url"].startswith(("http://", "https://")):
                render.error(("url",), f"renders to {args['url']!r}, which is not an http:// or https:// address")
            lines += [f"header {name}: {value}" for name, value in args["headers"].items()]
            if "json" in args:
                lines.append("json body:")
                lines += _block(json.dumps(args["json"], indent=2, ensure_ascii=False))
            expect = ", ".join(map(str, args["expect"])) or "any 2xx"
            return lines + [f"timeout {duration(args['timeout'])}, success: {expect}"], 0
        if kind == "run_command":
            line = shlex.join([args["command"], *args["args"]])
            return [f"run_command {line} (from the allow-list; timeout {duration(args['timeout'])})"], 0
        if kind == "publish":
            payload = args["payload"]
            text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
            return [f"publish to MQTT topic {args['topic']} (qos {args['qos']}):"] + _block(text), 0
        if kind == "meeting":
            return [f"start a {args['provider']} call titled {args['topic']!r} and post its link"], 0
        if kind == "container":
            lines = [f"container {args['image']}" + (f" named {args['name']}" if args["name"] else "")]
            lines += [f"env {name}={value}" for name, value in args["env"].items()]
            if args["command"]:
                lines.append("command: " + shlex.join(args["command"]))
            return lines, 0
        if kind == "invite":
            return ["invite " + ", ".join([f"@{u}" for u in args["users"]] + [f"group {g}" for g in args["groups"]])], 0
        if kind == "add_tasks":
            lines = [f"add tasks to checklist {args['checklist']!r}:"]
            for index, task in enumerate(args["tasks"]):
                task_lines, task_errors = self._task(task, render.base + ("tasks", index))
                lines += task_lines
                render.errors.extend(task_errors)
            return lines, 0
        if kind == "assign_task":
            return [f"assign task {args['task']!r} to @{args['user']}"], 0
        if kind == "complete_task":
            return [f"mark task {args['task']!r} done"], 0
        return [f"{kind}:"] + [f"{name}: {value}" for name, value in args.items()], 0

    def _rendered_args(self, call: ActionCall, render: _Renderer) -> dict[str, Any]:
        spec = ACTIONS.get(call.kind)
        result: dict[str, Any] = {}
        for name, value in call.args.items():
            kind = spec.args[name].kind if spec and name in spec.args else None
            if kind in (Kind.TEMPLATE, Kind.URL, Kind.TOPIC):
                result[name] = render(value, (name,))
            elif kind is Kind.TEMPLATES:
                result[name] = [render(item, (name, index)) for index, item in enumerate(value)]
            elif kind is Kind.TEMPLATE_MAP:
                result[name] = {key: render(item, (name, key)) for key, item in value.items()}
            elif kind is Kind.DATA:
                result[name] = render.data(thaw(value), (name,))
            else:
                result[name] = value
        return result


def _source(file: str) -> YamlDocument | None:
    """The playbook file parsed again, for the line of each template (None when it cannot be read now)."""
    try:
        return parse_yaml(Path(file).read_text(encoding="utf-8"), file)
    except (OSError, UnicodeDecodeError, YamlSourceError):
        return None
