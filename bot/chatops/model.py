"""Custom commands as data: what the loader produces and the runner executes."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from bot.people.permissions import Entry
from bot.workflow.model import ActionCall
from bot.yamlsource import Location

_NOWHERE = Location("", 0, 0)


class ArgType(enum.Enum):
    """How one argument is read from the command line."""

    WORD = "word"            # one word (or a "quoted phrase")
    TEXT = "text"            # the rest of the line, as written (only last)
    INT = "int"
    NUMBER = "number"
    DURATION = "duration"    # 30s, 10m, 2h; templates see a timedelta
    CHOICE = "choice"        # one of `choices`
    USER = "user"            # @alice; templates see 'alice'
    MATCHERS = "matchers"    # label matchers: name=value name!=value name=~regex name!~regex (only last)


REST_OF_LINE = (ArgType.TEXT, ArgType.MATCHERS)


@dataclass(frozen=True)
class ArgSpec:
    name: str
    type: ArgType
    help: str = ""
    required: bool = True
    default: Any = None
    choices: tuple[str, ...] = ()

    @property
    def usage(self) -> str:
        shown = "|".join(self.choices) if self.type is ArgType.CHOICE else self.name
        return f"<{shown}>" if self.required else f"[{shown}]"


class Answer(enum.Enum):
    """Where a command's answer goes."""

    CHANNEL = "channel"        # the command's thread (a mention) or the channel (a slash command)
    EPHEMERAL = "ephemeral"    # only the person who ran it sees it


@dataclass(frozen=True)
class CustomCommand:
    """One operator-defined command: its arguments, who may run it, what it does and how it answers."""

    name: str
    description: str
    args: tuple[ArgSpec, ...]
    action: ActionCall               # http, run_command, publish, or a playbook step (kind "step:<action>")
    reply: str = ""                  # a template for the answer; default: the action's own summary/output
    allowed: tuple[Entry, ...] = ()  # empty: the `run` rule of the permissions config (default: the team)
    in_incident: bool = False        # only in an incident channel
    answer: Answer = Answer.CHANNEL
    confirm: str = ""                # a template: ask this with Confirm/Cancel buttons before running
    on_resolve: ActionCall | None = None   # run when the incident resolves (undo: expire a silence)
    location: Location = field(default=_NOWHERE, compare=False)

    @property
    def usage(self) -> str:
        return " ".join([self.name, *(arg.usage for arg in self.args)])
