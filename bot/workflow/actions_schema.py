"""The actions a playbook step (or a task) can run, and their arguments: one table for the loader and the JSON Schema."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping


class Kind(enum.Enum):
    """The type of an action argument; the loader and the JSON Schema each handle every kind."""

    TEXT = "text"              # a plain, non-empty string
    TEMPLATE = "template"      # a Jinja template, checked at load time
    URL = "url"                # a template that must start with http:// or https://
    TOPIC = "topic"            # an MQTT topic template, without the + and # wildcards
    IMAGE = "image"            # a container image reference
    COMMAND = "command"        # a command name from the bot's allow-list
    BOOL = "bool"
    INT = "int"                # one of `choices`
    CHOICE = "choice"          # one of `choices` (strings, any letter case)
    DURATION = "duration"      # '30s', '10m', '1h'; read as seconds, within min_s..max_s
    USER = "user"              # '@alice'; read as 'alice'
    RECIPIENT = "recipient"    # '@alice' or 'commander'
    TASK_REF = "task_ref"      # a task number (from 1) or a task title
    TEMPLATES = "templates"    # a list of templates
    TEXTS = "texts"            # a list of plain strings
    USERS = "users"            # a list of '@alice'
    GROUPS = "groups"          # a list of Mattermost custom group names
    CHANNELS = "channels"      # a list of channel names
    TEMPLATE_MAP = "template_map"  # a mapping of names to templates (headers, environment)
    STATUSES = "statuses"      # a list of HTTP status codes
    DATA = "data"              # any YAML value; templates inside its strings are rendered
    TASKS = "tasks"            # a list of checklist tasks


_NO_DEFAULT = object()


@dataclass(frozen=True)
class Arg:
    """One argument of an action; an optional argument without a default is left out of `ActionCall.args`."""

    kind: Kind
    doc: str
    required: bool = False
    default: Any = _NO_DEFAULT
    choices: tuple[Any, ...] = ()
    min_s: int = 1
    max_s: int | None = None

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT


Check = Callable[[Mapping[str, Any]], list[tuple[str, str]]]


@dataclass(frozen=True)
class ActionSpec:
    """An action: what it does, its arguments, and any rule across arguments (returns (argument, message) pairs)."""

    name: str
    doc: str
    args: Mapping[str, Arg]
    check: Check | None = field(default=None, compare=False)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name, arg in self.args.items() if arg.required)


def _post_check(args: Mapping[str, Any]) -> list[tuple[str, str]]:
    if args.get("thread") and args.get("channel"):
        return [("thread", "`thread: true` replies in the incident channel's summary thread; leave out `channel`")]
    return []


def _invite_check(args: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [] if args.get("users") or args.get("groups") else [("", "needs users, groups or both")]


def _http_check(args: Mapping[str, Any]) -> list[tuple[str, str]]:
    if "json" in args and args.get("method") in ("GET", "DELETE"):
        return [("method", f"a {args['method']} request carries no body; use method: POST (or PUT, PATCH) with json")]
    return []


def _spec(name: str, doc: str, check: Check | None = None, /, **args: Arg) -> ActionSpec:
    return ActionSpec(name, doc, MappingProxyType(args), check)


_TIMEOUT_DOC = "how long to wait before counting it as failed"

ACTIONS: Mapping[str, ActionSpec] = MappingProxyType({spec.name: spec for spec in (
    _spec("post", "Post a message (to the incident channel unless `channel` says otherwise).", _post_check,
          message=Arg(Kind.TEMPLATE, "the message (Markdown, a template)", required=True),
          channel=Arg(Kind.TEMPLATE, "a channel name, or @user for a direct message; default the incident channel",
                      default=""),
          thread=Arg(Kind.BOOL, "reply in the incident's summary thread", default=False),
          pin=Arg(Kind.BOOL, "pin the post", default=False)),
    _spec("rename_channel", "Change the incident channel's display name.",
          display_name=Arg(Kind.TEMPLATE, "the new display name (a template)", required=True)),
    _spec("set_header", "Set the incident channel's header.",
          text=Arg(Kind.TEMPLATE, "the header (Markdown, a template)", required=True)),
    _spec("set_purpose", "Set the incident channel's purpose.",
          text=Arg(Kind.TEMPLATE, "the purpose (a template)", required=True)),
    _spec("invite", "Add people to the incident channel.", _invite_check,
          users=Arg(Kind.USERS, "usernames, like @alice", default=()),
          groups=Arg(Kind.GROUPS, "Mattermost custom group names", default=())),
    _spec("add_tasks", "Add tasks to a checklist (created when it does not exist).",
          checklist=Arg(Kind.TEXT, "the checklist's title", required=True),
          tasks=Arg(Kind.TASKS, "the tasks, written as in `checklists`", required=True)),
    _spec("assign_task", "Give a task to someone.",
          task=Arg(Kind.TASK_REF, "the task's number (from 1, across checklists) or its title", required=True),
          user=Arg(Kind.USER, "who gets it, like @alice", required=True)),
    _spec("complete_task", "Mark a task done.",
          task=Arg(Kind.TASK_REF, "the task's number (from 1, across checklists) or its title", required=True)),
    _spec("wait", "Pause the steps that follow.",
          **{"for": Arg(Kind.DURATION, "how long, like 5m", required=True, max_s=7 * 86400)}),
    _spec("remind", "Remind someone later.",
          message=Arg(Kind.TEMPLATE, "the reminder (a template)", required=True),
          after=Arg(Kind.DURATION, "how long from now, like 30m", required=True, max_s=7 * 86400),
          to=Arg(Kind.RECIPIENT, "@user, or commander for the incident commander", default="commander")),
    _spec("http", "Call an HTTP endpoint (a ticketing system, a status page).", _http_check,
          method=Arg(Kind.CHOICE, "the HTTP method", default="GET",
                     choices=("GET", "POST", "PUT", "PATCH", "DELETE")),
          url=Arg(Kind.URL, "http:// or https:// address (a template)", required=True),
          headers=Arg(Kind.TEMPLATE_MAP, "request headers (values are templates)", default=MappingProxyType({})),
          json=Arg(Kind.DATA, "a JSON body; templates inside strings are rendered"),
          timeout=Arg(Kind.DURATION, _TIMEOUT_DOC + " (at most 60s)", default=10, max_s=60),
          expect=Arg(Kind.STATUSES, "status codes that count as success; default any 2xx", default=())),
    _spec("run_command", "Run a command from the bot's allow-list and post its output.",
          command=Arg(Kind.COMMAND, "the command's name in the bot configuration", required=True),
          args=Arg(Kind.TEMPLATES, "arguments (templates)", default=()),
          timeout=Arg(Kind.DURATION, _TIMEOUT_DOC + " (at most 300s)", default=30, max_s=300)),
    _spec("broadcast", "Post to the stakeholder channels.",
          message=Arg(Kind.TEMPLATE, "the message (a template)", required=True),
          channels=Arg(Kind.CHANNELS, "channel names; default the playbook's `broadcast` list", default=())),
    _spec("meeting", "Start a video call and post its link.",
          provider=Arg(Kind.CHOICE, "jitsi or zoom", default="jitsi", choices=("jitsi", "zoom")),
          topic=Arg(Kind.TEMPLATE, "the meeting's title (a template)", default="{{ incident.key }}: {{ incident.title }}")),
    _spec("container", "Start a container (diagnostics, evidence capture).",
          image=Arg(Kind.IMAGE, "the image, like busybox:1.36", required=True),
          name=Arg(Kind.TEMPLATE, "the container's name (a template); default from the incident", default=""),
          env=Arg(Kind.TEMPLATE_MAP, "environment variables (values are templates)", default=MappingProxyType({})),
          command=Arg(Kind.TEXTS, "the command and its arguments", default=())),
    _spec("publish", "Publish an MQTT message.",
          topic=Arg(Kind.TOPIC, "the topic, without + or # (a template)", required=True),
          payload=Arg(Kind.DATA, "the message: text or data sent as JSON; templates inside strings are rendered",
                      default=""),
          qos=Arg(Kind.INT, "MQTT quality of service", default=0, choices=(0, 1))),
)})
