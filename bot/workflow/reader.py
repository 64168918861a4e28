"""The part of playbook reading shared by steps and checklists: actions with their arguments, and tasks."""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Collection, Sequence

from bot.problems import Problem
from bot.workflow import fields as f
from bot.workflow.actions_schema import ACTIONS, Arg, Kind
from bot.workflow.model import ActionCall, Task, freeze
from bot.workflow.template_check import TemplateChecker
from bot.yamlsource import YamlDocument

TASK_KEYS = ("title", "description", "assignee", "due", "action")
BAD = object()  # a value that was reported as a problem


class Reader:
    """Read parts of one parsed document, collecting every problem instead of stopping at the first."""

    def __init__(self, doc: YamlDocument, *, commands: Collection[str] | None = None,
                 checker: TemplateChecker | None = None):
        self.doc = doc
        self.commands = commands
        self.checker = checker or TemplateChecker()
        self.problems: list[Problem] = []
        self.broadcast: tuple[str, ...] = ()  # the playbook's stakeholder channels, the broadcast action's default
        self.task_titles: dict[str, str] = {}  # lowercased title -> title, for task references
        self.task_refs: list[tuple[tuple, str]] = []

    # -- plumbing

    def problem(self, path: tuple, message: str) -> None:
        self.problems.append(Problem(self.doc.where(path), f.dotted(path), message))

    def value(self, path: tuple, raw: Any, read: Callable[[Any], Any]) -> Any:
        try:
            return read(raw)
        except ValueError as exc:
            self.problem(path + getattr(exc, "subpath", ()), str(exc))
            return BAD

    def optional(self, data: dict, path: tuple, key: str, read: Callable[[Any], Any], default: Any) -> Any:
        if key not in data:
            return default
        result = self.value(path + (key,), data[key], read)
        return default if result is BAD else result

    def mapping(self, path: tuple, raw: Any, keys: Sequence[str], what: str = "a mapping") -> dict:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem(path, f"must be {what}, not {f.kind_of(raw)}")
            return {}
        for key in raw:
            if key not in keys:
                self.problem(path + (key,), f"unknown key{f.did_you_mean(key, keys)}; known keys: {', '.join(keys)}")
        return {k: v for k, v in raw.items() if k in keys}

    def items(self, path: tuple, raw: Any, what: str) -> list[tuple[tuple, Any]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.problem(path, f"must be a list of {what}, not {f.kind_of(raw)}")
            return []
        return [(path + (index,), item) for index, item in enumerate(raw)]

    def template(self, path: tuple, raw: Any, *, welcome: bool = False) -> Any:
        source = self.value(path, raw, f.string)
        if source is BAD:
            return BAD
        if not source.strip():
            self.problem(path, "must not be empty")
            return BAD
        errors = self.checker.template(source, welcome=welcome)
        for message in errors:
            self.problem(path, message)
        return BAD if errors else source

    # -- tasks

    def tasks(self, path: tuple, raw: Any) -> tuple[Task, ...]:
        if raw == []:
            self.problem(path, "must list at least one task")
        result, seen = [], set()
        for item_path, item in self.items(path, raw, "tasks"):
            data = self.mapping(item_path, item, TASK_KEYS, "a task with at least a title")
            if isinstance(item, dict) and "title" not in data:
                self.problem(item_path, "title is required but missing")
            title = self.optional(data, item_path, "title", f.text, "")
            if title and title.lower() in seen:
                self.problem(item_path + ("title",), f"this checklist already has a task titled {title!r}")
            seen.add(title.lower())
            self.task_titles.setdefault(title.lower(), title)
            action = self.action_mapping(item_path + ("action",), data["action"]) if "action" in data else None
            result.append(Task(
                title=title,
                description=self.optional(data, item_path, "description", f.text, ""),
                assignee=self.optional(data, item_path, "assignee", f.username, ""),
                due=self.optional(data, item_path, "due", lambda v: f.duration(v, low=1), None),
                action=action, location=self.doc.where(item_path)))
        return tuple(result)

    def check_task_refs(self) -> None:
        """Report task titles used by assign_task or complete_task that no task has (call after reading all)."""
        known = sorted(self.task_titles.values())
        for path, title in self.task_refs:
            if title.lower() not in self.task_titles:
                self.problem(path, f"no task titled {title!r} in this playbook's checklists or add_tasks steps"
                             + f.did_you_mean(title, known))

    # -- actions

    def unknown_action(self, path: tuple, kind: Any, extra: str = "") -> None:
        self.problem(path, f"unknown action {kind!r}{f.did_you_mean(kind, list(ACTIONS))}; "
                           f"actions: {', '.join(ACTIONS)}{extra}")

    def action_mapping(self, path: tuple, raw: Any) -> ActionCall | None:
        """An action written as a mapping with one key, like a task's `action: {post: {...}}`."""
        if not isinstance(raw, dict) or len(raw) != 1:
            self.problem(path, f"must be one action, like {{post: {{message: ...}}}}; actions: {', '.join(ACTIONS)}")
            return None
        ((kind, args),) = raw.items()
        if kind not in ACTIONS:
            self.unknown_action(path + (kind,), kind)
            return None
        return self.action(path + (kind,), kind, args)

    def action(self, path: tuple, kind: str, raw: Any) -> ActionCall | None:
        """Validate an action's arguments against the table, filling in defaults."""
        spec = ACTIONS[kind]
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            self.problem(path, f"must be a mapping of arguments ({', '.join(spec.args)}), not {f.kind_of(raw)}")
            return None
        before = len(self.problems)
        for key in raw:
            if key not in spec.args:
                self.problem(path + (key,), f"{kind} has no argument {key!r}{f.did_you_mean(key, list(spec.args))}; "
                                            f"its arguments: {', '.join(spec.args)}")
        missing = [name for name in spec.required if name not in raw]
        if missing:
            self.problem(path, f"{kind} needs {' and '.join(missing)}")
        args: dict[str, Any] = {}
        for name, arg in spec.args.items():
            if name in raw:
                value = self.argument(path + (name,), arg, raw[name])
                if value is not BAD:
                    args[name] = value
            elif arg.has_default:
                args[name] = arg.default
        if kind == "broadcast" and not args.get("channels") and len(self.problems) == before:
            if not self.broadcast:
                self.problem(path, "no channels: give `channels` here or a top-level `broadcast` list")
            args["channels"] = self.broadcast
        if len(self.problems) == before and spec.check:
            for name, message in spec.check(args):
                self.problem(path + ((name,) if name else ()), message)
        if len(self.problems) > before:
            return None
        return ActionCall(kind, freeze(args), self.doc.where(path))

    def argument(self, path: tuple, arg: Arg, raw: Any) -> Any:
        kind = arg.kind
        if kind is Kind.TEMPLATE:
            return self.template(path, raw)
        if kind in (Kind.URL, Kind.TOPIC):
            source = self.value(path, raw, f.url if kind is Kind.URL else f.topic)
            return BAD if source is BAD else self.template(path, source)
        if kind is Kind.TEMPLATES:
            items = self.value(path, raw, lambda v: f.each(v, f.string))
            if items is BAD:
                return BAD
            checked = [self.template(path + ((i,) if isinstance(raw, list) else ()), s) for i, s in enumerate(items)]
            return BAD if BAD in checked else tuple(checked)
        if kind is Kind.TEMPLATE_MAP:
            return self.template_map(path, raw)
        if kind is Kind.DATA:
            return self.data(path, raw)
        if kind is Kind.TASKS:
            if not isinstance(raw, list) or not raw:
                self.problem(path, f"must be a list of tasks, not {f.kind_of(raw)}")
                return BAD
            before = len(self.problems)
            tasks = self.tasks(path, raw)
            return BAD if len(self.problems) > before else tasks
        if kind is Kind.TASK_REF:
            ref = self.value(path, raw, f.task_ref)
            if isinstance(ref, str):
                self.task_refs.append((path, ref))
            return ref
        if kind is Kind.COMMAND:
            return self.command(path, raw)
        return self.value(path, raw, f.SIMPLE_READERS[kind](arg))

    def template_map(self, path: tuple, raw: Any) -> Any:
        if not isinstance(raw, dict):
            self.problem(path, f"must be a mapping of names to values, not {f.kind_of(raw)}")
            return BAD
        result = {}
        for key, value in raw.items():
            if self.value(path + (key,), key, f.pattern(f.MAP_KEY, "a name (letters, digits, '_', '-', '.')")) is BAD:
                return BAD
            result[str(key)] = self.template(path + (key,), value)
        return BAD if BAD in result.values() else MappingProxyType(result)

    def data(self, path: tuple, raw: Any) -> Any:
        """Any YAML value; each string in it must be a valid template."""
        if isinstance(raw, dict):
            result = {str(key): self.data(path + (key,), value) for key, value in raw.items()}
            return BAD if BAD in result.values() else result
        if isinstance(raw, list):
            items = [self.data(path + (index,), value) for index, value in enumerate(raw)]
            return BAD if BAD in items else items
        if isinstance(raw, str) and raw.strip():
            return self.template(path, raw)
        return raw

    def command(self, path: tuple, raw: Any) -> Any:
        name = self.value(path, raw, f.pattern(f.COMMAND_NAME, "a command name"))
        if name is not BAD and self.commands is not None and name not in self.commands:
            known = sorted(self.commands)
            self.problem(path, f"{name!r} is not in the bot's command allow-list"
                         + f.did_you_mean(name, known) + (f"; allowed: {', '.join(known)}" if known else ""))
            return BAD
        return name
