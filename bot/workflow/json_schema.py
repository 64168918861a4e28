"""The playbook format as a JSON Schema (draft 2020-12), for editors: `# yaml-language-server: $schema=...`.

The action part is generated from the table in `actions_schema`, the same one the loader validates with.
Run `python3 -m bot.workflow.json_schema > playbooks/playbook.schema.json` after changing the format.
"""
from __future__ import annotations

import json
import re
from typing import Any

from bot.workflow import fields as f
from bot.workflow.actions_schema import ACTIONS, ActionSpec, Arg, Kind
from bot.workflow.model import OnError

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_NUMBERY = ["string", "number"]  # the loader reads numbers where it wants text


def _anchored(regex: re.Pattern[str]) -> str:
    return f"^(?:{regex.pattern})$"


def _ref(name: str) -> dict:
    return {"$ref": f"#/$defs/{name}"}


def _one_or_list(item: dict, min_items: int = 0) -> dict:
    return {"anyOf": [item, {"type": "array", "items": item, "minItems": min_items}]}


def _text(description: str = "") -> dict:
    return {"type": _NUMBERY, "minLength": 1, **({"description": description} if description else {})}


def _named(regex: re.Pattern[str], description: str) -> dict:
    return {"type": "string", "pattern": _anchored(regex), "description": description}


def _choices(values: tuple) -> list:
    found: list = []
    for value in values:
        for variant in (value, str(value).lower(), str(value).upper()) if isinstance(value, str) else (value,):
            if variant not in found:
                found.append(variant)
    return found


def _kind_schema(arg: Arg) -> dict:
    """The JSON Schema of one argument kind; every Kind has an entry (a test checks)."""
    kind = arg.kind
    if kind is Kind.INT:
        return {"enum": list(arg.choices)}
    if kind is Kind.CHOICE:
        return {"enum": _choices(arg.choices)}
    return {
        Kind.TEXT: _text(),
        Kind.TEMPLATE: _ref("template"),
        Kind.URL: {"type": "string", "pattern": r"^(?:https?://|\{[{%#])"},
        Kind.TOPIC: {"type": "string", "minLength": 1},
        Kind.IMAGE: _named(f.IMAGE, "a container image, like busybox:1.36"),
        Kind.COMMAND: _named(f.COMMAND_NAME, "a command name from the bot's allow-list"),
        Kind.BOOL: {"type": "boolean"},
        Kind.DURATION: _ref("duration"),
        Kind.USER: _ref("username"),
        Kind.RECIPIENT: {"anyOf": [{"const": "commander"}, {"type": "string", "pattern": "^@"}]},
        Kind.TASK_REF: {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "minLength": 1}]},
        Kind.TEMPLATES: _one_or_list(_ref("template")),
        Kind.TEXTS: _one_or_list({"type": _NUMBERY}),
        Kind.USERS: _one_or_list(_ref("username")),
        Kind.GROUPS: _one_or_list(_named(f.GROUP_NAME, "a Mattermost custom group name")),
        Kind.CHANNELS: _one_or_list(_ref("channel")),
        Kind.TEMPLATE_MAP: {"type": "object", "propertyNames": {"pattern": _anchored(f.MAP_KEY)},
                            "additionalProperties": _ref("template")},
        Kind.STATUSES: _one_or_list({"type": "integer", "minimum": 100, "maximum": 599}, min_items=1),
        Kind.DATA: {},
        Kind.TASKS: {"type": "array", "minItems": 1, "items": _ref("task")},
    }[kind]


def action_arguments_schema(spec: ActionSpec) -> dict:
    """The schema of one action's argument mapping."""
    properties = {}
    for name, arg in spec.args.items():
        schema = dict(_kind_schema(arg))
        extra = "" if not arg.has_default or arg.default in ("", ()) or isinstance(arg.default, dict) else \
            f" (default {arg.default if arg.kind is not Kind.DURATION else f'{arg.default}s'})"
        schema["description"] = arg.doc + extra
        properties[name] = schema
    schema: dict[str, Any] = {"type": "object" if spec.required else ["object", "null"], "description": spec.doc,
                              "properties": properties, "additionalProperties": False}
    if spec.required:
        schema["required"] = list(spec.required)
    return schema


def _step_schema() -> dict:
    options = {
        "id": _named(f.STEP_ID, "a unique name for the step; default step-<number>"),
        "when": {"type": "string", "minLength": 1,
                 "description": "a Jinja expression; the step runs only when it is true"},
        "after": {**_ref("duration"), "description": "wait this long from the incident start (or the previous step)"},
        "after_previous": {"type": "boolean", "description": "count `after` from the previous step, not the start"},
        "on_error": {"enum": [e.value for e in OnError], "description": "what to do when the action fails"},
        "retries": {"type": "integer", "minimum": 1, "maximum": f.MAX_RETRIES,
                    "description": "how many times to retry, with on_error: retry (default 3)"},
    }
    properties = {**options, **{name: _ref(f"action_{name}") for name in ACTIONS}}
    return {"type": "object", "description": "one action, with options",
            "properties": properties, "additionalProperties": False,
            "oneOf": [{"required": [name]} for name in ACTIONS]}


def _task_schema() -> dict:
    properties = {
        "title": _text("what to do"),
        "description": _text("more detail"),
        "assignee": _ref("username"),
        "due": {**_ref("duration"), "description": "due this long after the incident start"},
        "action": {"type": "object", "minProperties": 1, "maxProperties": 1,
                   "description": "an action run when the task is marked done",
                   "properties": {name: _ref(f"action_{name}") for name in ACTIONS}, "additionalProperties": False},
    }
    return {"type": "object", "required": ["title"], "properties": properties, "additionalProperties": False}


def _object(properties: dict, **extra: Any) -> dict:
    return {"type": "object", "properties": properties, "additionalProperties": False, **extra}


SEVERITY = {"anyOf": [{"type": "string", "pattern": r"^\s*(?:[sS][eE][vV])?[1-4]\s*$"},
                      {"type": "integer", "minimum": 1, "maximum": 4}]}


def action_definitions() -> dict[str, Any]:
    """The `$defs` every action's arguments refer to, and the actions (`action_<name>`) themselves."""
    return {
        "duration": {"type": "string", "pattern": r"^\s*(?:\d+\s*[smhdSMHD]\s*)+$",
                     "description": "a duration: 30s, 10m, 2h, 1d or a sum such as 1h30m"},
        "template": {"type": _NUMBERY, "minLength": 1,
                     "description": "text with Jinja templating, such as {{ incident.key }}"},
        "username": {"type": "string", "pattern": _anchored(f.USERNAME), "description": "a username, like @alice"},
        "channel": _named(f.CHANNEL_NAME, "a channel name, like leadership"),
        "severity": SEVERITY,
        "task": _task_schema(),
        "step": _step_schema(),
        **{f"action_{name}": action_arguments_schema(spec) for name, spec in ACTIONS.items()},
    }


def playbook_json_schema() -> dict:
    """The whole playbook format as a JSON Schema document."""
    severity = SEVERITY
    defs = action_definitions()
    label_value = {"type": _NUMBERY, "description": "exact value, ~regex, !value or !~regex"}
    applies_to = _object({
        "rules": _one_or_list(_text("an alert rule name"), min_items=1),
        "severities": _one_or_list(_ref("severity"), min_items=1),
        "labels": {"type": "object", "minProperties": 1, "additionalProperties": label_value},
    }, minProperties=1, description="when an incident picks this playbook by itself")
    defaults = _object({
        "severity": _ref("severity"),
        "channel_name": {**_ref("template"), "description": "the channel name (a template; the bot slugifies it)"},
        "private": {"type": "boolean"},
        "commander": _ref("username"),
    })
    invite = _object({
        "users": _one_or_list(_ref("username")),
        "groups": _one_or_list(_named(f.GROUP_NAME, "a Mattermost custom group name")),
        "oncall": _one_or_list(_text("an on-call schedule name")),
    })
    checklist = _object({"title": _text("the checklist's title"),
                         "tasks": {"type": "array", "minItems": 1, "items": _ref("task")}},
                        required=["title", "tasks"])
    cadence = {"anyOf": [_ref("duration"), {"enum": ["off", "none", "never", False]}]}
    properties = {
        "name": _named(f.PLAYBOOK_NAME, "how chat refers to the playbook, like service-outage"),
        "title": _text("a display name"),
        "description": _text("what the playbook is for"),
        "applies_to": applies_to,
        "defaults": defaults,
        "invite": invite,
        "welcome": {**_ref("template"), "description": "posted to each person who joins; can use {{ user.username }}"},
        "checklists": {"type": "array", "items": checklist},
        "status_updates": {"type": "object", "propertyNames": severity, "additionalProperties": cadence,
                           "description": "status-update reminder interval per severity; off for none"},
        "broadcast": _one_or_list(_ref("channel")),
        "steps": {"type": "array", "items": _ref("step")},
        "postmortem": {"type": "string", "description": "a Markdown/Jinja2 template for the post-mortem draft "
                                                        "(see bot/templates/postmortem.md.j2 for what it can use)"},
        "archive_on_resolve": {"type": "boolean", "description": "archive the incident channel once it is resolved"},
    }
    return {"$schema": DRAFT, "title": "incident-bot playbook",
            **_object(properties, required=["name"]), "$defs": defs}


if __name__ == "__main__":
    print(json.dumps(playbook_json_schema(), indent=2))
