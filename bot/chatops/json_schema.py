"""The custom command file format as a JSON Schema (draft 2020-12), for editors.

The action parts come from the same table the loader validates with. Write it with
`incident-bot schema --commands --out playbooks/commands/commands.schema.json`.
"""
from __future__ import annotations

from typing import Any

from bot.chatops.loader import ARG_NAME, COMMAND_NAME
from bot.chatops.model import Answer, ArgType
from bot.people.permissions import KEYWORDS
from bot.workflow.actions_schema import ACTIONS
from bot.workflow.json_schema import DRAFT, action_definitions

UNDO_ACTIONS = ("http", "run_command", "publish")


def _template(description: str) -> dict:
    return {"type": ["string", "number"], "minLength": 1, "description": description}


def _argument_schema() -> dict:
    return {
        "type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": f"^(?:{ARG_NAME.pattern})$", "description": "like service"},
            "type": {"enum": [t.value for t in ArgType], "description": "how it is read (default word); text and "
                                                                        "matchers take the rest of the line"},
            "help": {"type": "string", "description": "shown when it is missing and in `help <command>`"},
            "required": {"type": "boolean", "description": "default: true unless there is a default"},
            "default": {"type": ["string", "number"], "description": "the value when it is left out"},
            "choices": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                        "description": "the words a choice argument takes"},
        }}


def commands_json_schema() -> dict:
    """The whole commands file format as a JSON Schema document."""
    one_action = {name: {"$ref": f"#/$defs/action_{name}"} for name in ACTIONS}
    entry = {"type": "string", "description": f"{', '.join(KEYWORDS)}, a role, \"@username\" or \"group:name\""}
    command = {
        "type": "object", "required": ["name", "description"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": f"^(?:{COMMAND_NAME.pattern})$",
                     "description": "the word after @incident-bot or /incident, like prom"},
            "description": {"type": "string", "minLength": 1, "description": "one line for help"},
            "args": {"type": "array", "items": {"$ref": "#/$defs/argument"}, "maxItems": 10},
            "allowed": {"anyOf": [entry, {"type": "array", "items": entry, "minItems": 1}],
                        "description": "who may run it; default: the `run` permission (the team)"},
            "incident_only": {"type": "boolean", "description": "only in an incident channel"},
            "answer": {"enum": [a.value for a in Answer], "description": "channel (default) or ephemeral"},
            "confirm": _template("ask this with Confirm/Cancel buttons before running"),
            "reply": _template("the answer; sees response (http) or output (run_command)"),
            **{name: {"$ref": f"#/$defs/action_{name}"} for name in UNDO_ACTIONS},
            "step": {"type": "object", "minProperties": 1, "maxProperties": 1, "properties": one_action,
                     "additionalProperties": False, "description": "one playbook action, run in the incident"},
            "on_resolve": {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
                           "properties": {name: {"$ref": f"#/$defs/action_{name}"} for name in UNDO_ACTIONS},
                           "description": "run when the incident resolves; sees result (the first answer)"},
        },
        "oneOf": [{"required": [name]} for name in (*UNDO_ACTIONS, "step")],
    }
    defs: dict[str, Any] = {**action_definitions(), "argument": _argument_schema(), "command": command}
    return {"$schema": DRAFT, "title": "incident-bot commands", "type": "object", "required": ["commands"],
            "additionalProperties": False,
            "properties": {"commands": {"type": "array", "items": {"$ref": "#/$defs/command"}}}, "$defs": defs}
