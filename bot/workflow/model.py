"""Playbooks as data: what the loader produces and the engine runs; every part knows where it was written."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from bot.alerts.rule_model import ValueMatcher
from bot.incidents.model import Severity
from bot.yamlsource import Location

_NOWHERE = Location("", 0, 0)


class OnError(enum.Enum):
    """What the engine does when a step's action fails."""

    STOP = "stop"
    CONTINUE = "continue"
    RETRY = "retry"


@dataclass(frozen=True)
class ActionCall:
    """One action and its validated arguments.

    `args` holds every argument the action knows, defaults filled in: durations as seconds, templates as
    their (already validated) source, lists as tuples and mappings as read-only mappings; `thaw` turns
    `json`/`payload` data back into plain dicts and lists.
    """

    kind: str
    args: Mapping[str, Any]
    location: Location = field(default=_NOWHERE, compare=False)


@dataclass(frozen=True)
class Task:
    """A checklist item; `due` is seconds after the incident start, `action` runs when it is marked done."""

    title: str
    description: str = ""
    assignee: str = ""  # username without '@'; "" for nobody
    due: int | None = None
    action: ActionCall | None = None
    location: Location = field(default=_NOWHERE, compare=False)


@dataclass(frozen=True)
class Checklist:
    title: str
    tasks: tuple[Task, ...]
    location: Location = field(default=_NOWHERE, compare=False)


@dataclass(frozen=True)
class Step:
    """One automated step: run `action` `after` seconds from the incident start (or from the previous step)."""

    id: str
    action: ActionCall
    when: str = ""  # Jinja expression source; "" means always
    after: int = 0
    after_previous: bool = False
    on_error: OnError = OnError.STOP
    retries: int = 0  # only with OnError.RETRY
    location: Location = field(default=_NOWHERE, compare=False)


@dataclass(frozen=True)
class AppliesTo:
    """When an incident picks this playbook by itself; every condition given must hold."""

    rules: frozenset[str] = frozenset()
    severities: frozenset[Severity] = frozenset()
    labels: tuple[tuple[str, ValueMatcher], ...] = ()

    def matches(self, *, rule_name: str | None, severity: Severity | None, labels: Mapping[str, str]) -> bool:
        """Say whether an incident started by `rule_name` (None: by hand) with this severity and labels fits."""
        if self.rules and rule_name not in self.rules:
            return False
        if self.severities and severity not in self.severities:
            return False
        return all(matcher.matches(labels.get(label)) for label, matcher in self.labels)


@dataclass(frozen=True)
class Defaults:
    """Settings for a new incident; `channel_name` is a template the bot slugifies."""

    severity: Severity | None = None
    channel_name: str = ""
    private: bool = False
    commander: str = ""  # username without '@'


@dataclass(frozen=True)
class Invite:
    """Who joins the incident channel when it opens (usernames without '@')."""

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    oncall: tuple[str, ...] = ()


@dataclass(frozen=True)
class Playbook:
    """A team's procedure for one kind of incident, read from `file`.

    `status_updates` maps a severity to the reminder cadence in seconds, 0 meaning off; a severity that is
    not listed uses the bot's default.
    """

    name: str
    file: str
    title: str = ""
    description: str = ""
    applies_to: AppliesTo | None = None
    defaults: Defaults = Defaults()
    invite: Invite = Invite()
    welcome: str = ""
    postmortem: str = ""   # a post-mortem template replacing the bot's own ("" keeps it)
    archive_on_resolve: bool = False   # archive the incident channel once the incident is resolved
    checklists: tuple[Checklist, ...] = ()
    status_updates: Mapping[Severity, int] = field(default_factory=lambda: MappingProxyType({}))
    broadcast: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    location: Location = field(default=_NOWHERE, compare=False)

    @property
    def display_title(self) -> str:
        """The title, or the name when there is none."""
        return self.title or self.name


def freeze(value: Any) -> Any:
    """Copy plain data into read-only form: dicts to read-only mappings, lists to tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """Copy frozen data back into dicts and lists (for JSON encoding)."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    return value
