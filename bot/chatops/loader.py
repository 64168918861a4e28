"""Read custom command files (YAML next to the playbooks) into `CustomCommand`s, every problem located."""
from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Collection

from bot.chat.commands import BUILTIN_WORDS
from bot.chatops.model import REST_OF_LINE, Answer, ArgSpec, ArgType, CustomCommand
from bot.people.permissions import Entry, read_entries
from bot.people.roles import DEFAULT_ROLES, RoleSet
from bot.problems import ConfigError, Problem
from bot.workflow import fields as f
from bot.workflow.loader import MAX_FILE_BYTES, playbook_files
from bot.workflow.model import ActionCall
from bot.workflow.reader import BAD, Reader
from bot.workflow.template_check import ANY, CONTEXT_FIELDS, OPEN, TemplateChecker, sample_context
from bot.yamlsource import Location, YamlDocument, YamlSourceError, parse_yaml

log = logging.getLogger(__name__)

COMMAND_KEYS = ("name", "description", "args", "allowed", "incident_only", "answer", "confirm",
                "http", "run_command", "publish", "step", "reply", "on_resolve")
ACTION_KEYS = ("http", "run_command", "publish", "step")
ARG_KEYS = ("name", "type", "help", "required", "default", "choices")
COMMAND_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
ARG_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_ARGS = 10

# What command templates see, besides the playbook names (incident, alert, people, now).
COMMAND_FIELDS: dict[str, Any] = {**CONTEXT_FIELDS, "args": OPEN, "vars": OPEN,
                                  "user": {"username": ANY, "id": ANY}}
REPLY_FIELDS: dict[str, Any] = {**COMMAND_FIELDS, "response": {"status": ANY, "ok": ANY, "json": ANY, "text": ANY},
                                "output": {"text": ANY, "exit_code": ANY}}
UNDO_FIELDS: dict[str, Any] = {**COMMAND_FIELDS, "result": {"status": ANY, "json": ANY, "text": ANY}}


class _AnyJson(dict):
    """Sample JSON where every key exists (so `response.json.data.result` renders in a trial)."""

    def __missing__(self, key: Any) -> "_AnyJson":
        return _AnyJson()

    def __str__(self) -> str:
        return "sample"


class _AnyKey(dict):
    def __missing__(self, key: Any) -> str:
        return f"sample-{key}"


def sample_command_context() -> dict[str, Any]:
    """Values shaped like the runner's template context, for a trial render."""
    args = _AnyKey(duration=timedelta(hours=2), matchers=[{"name": "alertname", "value": "HighErrorRate",
                                                           "isRegex": False, "isEqual": True}])
    return {**sample_context(), "args": args, "vars": _AnyKey(), "user": SimpleNamespace(username="carol", id="u1"),
            "response": SimpleNamespace(status=200, ok=True, json=_AnyJson(), text="sample"),
            "output": SimpleNamespace(text="sample", exit_code=0),
            "result": SimpleNamespace(status=200, json=_AnyJson(), text="sample")}


class _CommandReader(Reader):
    def __init__(self, doc: YamlDocument, commands: Collection[str] | None, roles: RoleSet):
        # Each part of a command sees its own names: the reply sees the response, the undo the result.
        self.checkers = {fields: TemplateChecker(fields=names, sample=sample_command_context)
                         for fields, names in (("command", COMMAND_FIELDS), ("reply", REPLY_FIELDS),
                                               ("undo", UNDO_FIELDS))}
        super().__init__(doc, commands=commands, checker=self.checkers["command"])
        self.roles = roles

    def read(self) -> list[CustomCommand]:
        raw = self.doc.data
        if not isinstance(raw, dict) or "commands" not in raw:
            self.problem((), "a commands file is a mapping with a `commands:` list")
            return []
        self.mapping((), raw, ("commands",))
        commands, names = [], {}
        for path, item in self.items(("commands",), raw["commands"], "commands"):
            command = self.custom_command(path, item)
            if command is None:
                continue
            if command.name in names:
                self.problem(path + ("name",), f"the command {command.name!r} is already defined at line "
                                               f"{names[command.name]}")
                continue
            names[command.name] = command.location.line
            commands.append(command)
        return commands

    def custom_command(self, path: tuple, raw: Any) -> CustomCommand | None:
        data = self.mapping(path, raw, COMMAND_KEYS, "a command with name, description and an action")
        if not isinstance(raw, dict):
            return None
        before = len(self.problems)
        for key in ("name", "description"):
            if key not in data:
                self.problem(path, f"{key} is required but missing")
        name = self.optional(data, path, "name", f.pattern(COMMAND_NAME, "a command name: lowercase letters, "
                                                           "digits and '-', like prom"), "")
        self.checker = self.checkers["command"]
        args = self.arguments(path + ("args",), data.get("args"))
        in_incident = self.optional(data, path, "incident_only", f.boolean, False)
        action = self.the_action(path, data)
        if action is not None and action.kind.startswith("step:") and not in_incident:
            self.problem(path + ("step",), "a playbook step runs in an incident: add `incident_only: true`")
        confirm = self.template(path + ("confirm",), data["confirm"]) if "confirm" in data else ""
        self.checker = self.checkers["reply"]
        reply = self.template(path + ("reply",), data["reply"]) if "reply" in data else ""
        self.checker = self.checkers["undo"]
        on_resolve = self.undo(path + ("on_resolve",), data["on_resolve"]) if "on_resolve" in data else None
        if on_resolve is not None and not in_incident:
            self.problem(path + ("on_resolve",), "only a command run in an incident can undo on resolve: "
                                                 "add `incident_only: true`")
        allowed: tuple[Entry, ...] = ()
        if "allowed" in data:
            allowed, problems = read_entries(self.doc, path + ("allowed",), data["allowed"], self.roles)
            self.problems.extend(problems)
        answer = self.optional(data, path, "answer", lambda v: Answer(f.choice(v, [a.value for a in Answer])),
                               Answer.CHANNEL)
        if len(self.problems) > before or action is None:
            return None
        return CustomCommand(
            name=name, description=self.optional(data, path, "description", f.text, ""), args=args, action=action,
            reply="" if reply is BAD else reply, allowed=allowed, in_incident=in_incident, answer=answer,
            confirm="" if confirm is BAD else confirm, on_resolve=on_resolve, location=self.doc.where(path))

    def the_action(self, path: tuple, data: dict) -> ActionCall | None:
        kinds = [key for key in ACTION_KEYS if key in data]
        if len(kinds) != 1:
            where = path + (kinds[1],) if kinds else path
            self.problem(where, f"a command does one thing: give exactly one of {', '.join(ACTION_KEYS)}"
                         + (f", not {' and '.join(kinds)}" if kinds else ""))
            return None
        kind = kinds[0]
        if kind == "step":
            call = self.action_mapping(path + ("step",), data["step"])
            return None if call is None else ActionCall(f"step:{call.kind}", call.args, call.location)
        return self.action(path + (kind,), kind, data[kind])

    def undo(self, path: tuple, raw: Any) -> ActionCall | None:
        if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in ("http", "run_command", "publish"):
            self.problem(path, "must be one action: http, run_command or publish, like {http: {method: DELETE, "
                               "url: ...}}")
            return None
        ((kind, args),) = raw.items()
        return self.action(path + (kind,), kind, args)

    def arguments(self, path: tuple, raw: Any) -> tuple[ArgSpec, ...]:
        specs: list[ArgSpec] = []
        items = self.items(path, raw, "arguments")
        if len(items) > MAX_ARGS:
            self.problem(path, f"at most {MAX_ARGS} arguments")
        for index, (item_path, item) in enumerate(items):
            data = self.mapping(item_path, item, ARG_KEYS, "an argument with name and type")
            if isinstance(item, dict) and "name" not in data:
                self.problem(item_path, "name is required but missing")
            name = self.optional(data, item_path, "name", f.pattern(ARG_NAME, "an argument name: lowercase "
                                                                    "letters, digits and '_', like service"), "")
            kind = self.optional(data, item_path, "type",
                                 lambda v: ArgType(f.choice(v, [t.value for t in ArgType])), ArgType.WORD)
            choices = self.optional(data, item_path, "choices", lambda v: f.unique(f.each(v, f.text, empty_ok=False)),
                                    ())
            if kind is ArgType.CHOICE and not choices:
                self.problem(item_path, "a choice argument needs `choices`")
            if kind in REST_OF_LINE and index != len(items) - 1:
                self.problem(item_path + ("type",), f"a {kind.value} argument takes the rest of the line, "
                                                    f"so it must be the last one")
            required = self.optional(data, item_path, "required", f.boolean, "default" not in data)
            if any(name == spec.name for spec in specs):
                self.problem(item_path + ("name",), f"another argument is already named {name!r}")
            if specs and not specs[-1].required and required and specs[-1].type in (ArgType.WORD, ArgType.TEXT):
                self.problem(item_path + ("required",), f"a required argument cannot follow the optional word "
                                                        f"{specs[-1].name!r} (give it a type, like int or duration, "
                                                        f"so it can be told apart)")
            default = data.get("default")
            if default is not None and not isinstance(default, (str, int, float)):
                self.problem(item_path + ("default",), "must be a single value")
            specs.append(ArgSpec(name, kind, self.optional(data, item_path, "help", f.text, ""), required,
                                 _typed_default(kind, default), choices))
        return tuple(specs)


def _typed_default(kind: ArgType, default: Any) -> Any:
    if default is None or kind is not ArgType.DURATION:
        return default
    try:
        return timedelta(seconds=f.duration(default, low=1))
    except ValueError:
        return None


def commands_from_document(doc: YamlDocument, *, allow_list: Collection[str] | None = None,
                           roles: RoleSet = DEFAULT_ROLES) -> list[CustomCommand]:
    """Validate one parsed commands file; raise ConfigError listing every problem."""
    reader = _CommandReader(doc, allow_list, roles)
    commands = reader.read()
    if reader.problems:
        raise ConfigError(sorted(reader.problems, key=lambda p: (p.location.line, p.location.column)))
    return commands


def load_command_file(path: Path, *, allow_list: Collection[str] | None = None,
                      roles: RoleSet = DEFAULT_ROLES) -> list[CustomCommand]:
    where = Location(str(path), 1, 1)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError([Problem(where, "", f"the file is too large; at most {MAX_FILE_BYTES // 1024} KiB")])
        doc = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(where, "", f"cannot read file: {exc}")]) from None
    except YamlSourceError as exc:
        raise ConfigError([Problem(exc.location, "", exc.message)]) from None
    return commands_from_document(doc, allow_list=allow_list, roles=roles)


def load_commands(directory: Path, *, allow_list: Collection[str] | None = None, roles: RoleSet = DEFAULT_ROLES,
                  reserved: Collection[str] = BUILTIN_WORDS) -> tuple[dict[str, CustomCommand], list[Problem]]:
    """Every command in a folder's YAML files; a broken file is reported and skipped, the others load.

    `reserved` are the built-in command words, which a custom command may not take.
    """
    if not directory.is_dir():
        return {}, []
    loaded: list[list[CustomCommand]] = []
    problems: list[Problem] = []
    for path in playbook_files(directory):
        try:
            loaded.append(load_command_file(path, allow_list=allow_list, roles=roles))
        except ConfigError as exc:
            problems.extend(exc.problems)
    commands, clashes = merge_commands(loaded, reserved)
    log.info("loaded %d custom command(s) from %s with %d problem(s)", len(commands), directory,
             len(problems) + len(clashes))
    return commands, problems + clashes


def merge_commands(files: list[list[CustomCommand]],
                   reserved: Collection[str]) -> tuple[dict[str, CustomCommand], list[Problem]]:
    """The commands of several files by name, refusing built-in words and names defined twice (first wins)."""
    commands: dict[str, CustomCommand] = {}
    problems: list[Problem] = []
    for command in (command for loaded in files for command in loaded):
        if command.name in reserved:
            problems.append(Problem(command.location, "name", f"{command.name!r} is a built-in command; "
                                                              f"choose another name"))
        elif command.name in commands:
            first = Path(commands[command.name].location.file).name
            problems.append(Problem(command.location, "name", f"{command.name!r} is already defined in {first}"))
        else:
            commands[command.name] = command
    return commands, problems
