"""Small readers for single playbook values; each returns the clean value or raises ValueError saying what is wrong."""
from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from bot.alerts.rule_model import ValueMatcher
from bot.alerts.rules import parse_duration
from bot.incidents.model import Severity
from bot.workflow.actions_schema import Arg, Kind
from bot.problems import did_you_mean, dotted, kind_of  # noqa: F401 - the readers use them as f.dotted, f.kind_of...
from bot.problems import non_empty_text as text

PLAYBOOK_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
STEP_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
USERNAME = re.compile(r"@?[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CHANNEL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
GROUP_NAME = re.compile(r"@?[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
COMMAND_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
IMAGE = re.compile(r"[a-z0-9][A-Za-z0-9._/:@-]{0,254}")
OFF_WORDS = ("off", "none", "never")
MAP_KEY = re.compile(r"[A-Za-z0-9_.-]{1,128}")
TEMPLATE_START = re.compile(r"\{[{%#]")
MAX_RETRIES = 10


class At(ValueError):
    """A problem found inside a value, at `subpath` below it."""

    def __init__(self, subpath: tuple, message: str):
        super().__init__(message)
        self.subpath = subpath










def string(value: Any) -> str:
    """A string, numbers allowed; booleans are refused since YAML may have read 'yes' or 'on' as one."""
    if isinstance(value, bool):
        raise ValueError(f"write the value in quotes ('{str(value).lower()}'): YAML reads it as true/false")
    if not isinstance(value, (str, int, float)):
        raise ValueError(f"must be a string, not {kind_of(value)}")
    return str(value)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r}")
    return value


def pattern(regex: re.Pattern[str], what: str) -> Callable[[Any], str]:
    """A reader for a string matching `regex`, described as `what` in the error."""
    def read(value: Any) -> str:
        result = text(value)
        if not regex.fullmatch(result):
            raise ValueError(f"{result!r} is not {what}")
        return result
    return read


def username(value: Any) -> str:
    """'@alice' or 'alice' read as 'alice'."""
    result = text(value)
    if not USERNAME.fullmatch(result):
        raise ValueError(f"{result!r} is not a username; write it like @alice")
    return result.removeprefix("@").lower()


def choice(value: Any, choices: Sequence[str]) -> str:
    """One of `choices`, in any letter case; returns the choice as listed."""
    word = text(value)
    for option in choices:
        if option.lower() == word.lower():
            return option
    raise ValueError(f"{word!r} is not one of {', '.join(choices)}" + did_you_mean(word, choices))


def duration(value: Any, *, low: int = 0, high: int | None = None) -> int:
    """Seconds from '30s', '10m', '1h30m'; between `low` and `high` seconds."""
    seconds = parse_duration(value)
    if seconds < low:
        raise ValueError("must be longer than 0s" if low == 1 else f"must be at least {low}s")
    if high is not None and seconds > high:
        raise ValueError(f"{value!r} is longer than the limit of {_plain(high)}")
    return seconds


def _plain(seconds: int) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def cadence(value: Any) -> int:
    """A reminder interval in seconds, or 0 for off (YAML reads a bare `off` as false)."""
    if value is False or (isinstance(value, str) and value.strip().lower() in OFF_WORDS):
        return 0
    return duration(value, low=60)


def severity(value: Any) -> Severity:
    found = Severity.parse(text(value))
    if found is None:
        raise ValueError(f"{value!r} is not a severity (sev1, sev2, sev3, sev4)")
    return found


def value_matcher(value: Any) -> ValueMatcher:
    """A label condition as alert rules write it: exact, ~regex, !value, !~regex."""
    source = string(value).strip()
    if not source:
        raise ValueError("must not be empty")
    negate = source.startswith("!")
    body = source[1:] if negate else source
    if body.startswith("~"):
        try:
            return ValueMatcher(source, pattern=re.compile(body[1:]), negate=negate)
        except re.error as exc:
            raise ValueError(f"bad regex {body[1:]!r}: {exc.msg} at position {exc.pos}") from None
    return ValueMatcher(source, expected=body, negate=negate)


def each(value: Any, read: Callable[[Any], Any], *, empty_ok: bool = True) -> tuple[Any, ...]:
    """Read a list item by item, naming the bad item's index; a single value counts as a list of one."""
    items = value if isinstance(value, list) else [value]
    if not items and not empty_ok:
        raise ValueError("must not be an empty list")
    result = []
    for index, item in enumerate(items):
        try:
            result.append(read(item))
        except At as exc:
            raise At((index,) + exc.subpath if isinstance(value, list) else exc.subpath, str(exc)) from None
        except ValueError as exc:
            if not isinstance(value, list):
                raise
            raise At((index,), str(exc)) from None
    return tuple(result)


def unique(values: tuple[str, ...]) -> tuple[str, ...]:
    """The values, refusing repeats (naming the index of the second)."""
    seen: set[str] = set()
    for index, item in enumerate(values):
        if item in seen:
            raise At((index,), f"{item!r} is listed twice")
        seen.add(item)
    return values


def channel(value: Any) -> str:
    """A Mattermost channel name, like leadership."""
    return pattern(CHANNEL_NAME, "a channel name (lowercase letters, digits, '-' and '_', like leadership)")(value)


def group(value: Any) -> str:
    """A custom group name, 'sre' or '@sre', read as 'sre'."""
    return pattern(GROUP_NAME, "a group name, like sre")(value).removeprefix("@")


def retries(value: Any) -> int:
    """How many times to retry a step: 1 to MAX_RETRIES."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RETRIES:
        raise ValueError(f"must be a whole number from 1 to {MAX_RETRIES}, not {value!r}")
    return value


def task_ref(value: Any) -> int | str:
    """A task's number (from 1) or its title."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError("task numbers start at 1")
        return value
    return text(value)


def url(value: Any) -> str:
    """An http(s) address template; one that starts with a template expression is checked when rendered."""
    source = text(value)
    if not TEMPLATE_START.match(source) and not re.match(r"https?://[^/\s]", source):
        raise ValueError(f"{source!r} is not an http:// or https:// address")
    return source


def topic(value: Any) -> str:
    """An MQTT topic template to publish to: no wildcards outside the template expressions."""
    source = text(value)
    literal = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", source)
    if "+" in literal or "#" in literal:
        raise ValueError("a topic to publish to cannot contain the wildcards + or #")
    return source


def int_choice(arg: Arg) -> Callable[[Any], int]:
    """A reader for a whole number among the argument's choices."""
    def read(value: Any) -> int:
        if isinstance(value, bool) or value not in arg.choices:
            raise ValueError(f"must be one of {', '.join(map(str, arg.choices))}, not {value!r}")
        return value
    return read


def statuses(value: Any) -> tuple[int, ...]:
    """HTTP status codes, like [200, 201]."""
    def status(item: Any) -> int:
        if isinstance(item, bool) or not isinstance(item, int) or not 100 <= item <= 599:
            raise ValueError(f"{item!r} is not an HTTP status code (100-599)")
        return item
    return each(value, status, empty_ok=False)


def recipient(value: Any) -> str:
    """'commander', or a user written '@alice' (kept with the '@' so the two cannot be confused)."""
    word = text(value)
    if word.lower() == "commander":
        return "commander"
    if not word.startswith("@"):
        raise ValueError(f"write a user as @{word}, or use commander")
    return "@" + username(word)


# The argument kinds read by a plain value reader; the others need the Reader (templates, tasks, allow-list).
SIMPLE_READERS: dict[Kind, Callable[[Arg], Callable[[Any], Any]]] = {
    Kind.TEXT: lambda arg: text,
    Kind.IMAGE: lambda arg: pattern(IMAGE, "a container image, like busybox:1.36"),
    Kind.BOOL: lambda arg: boolean,
    Kind.INT: int_choice,
    Kind.CHOICE: lambda arg: lambda v: choice(v, arg.choices),
    Kind.DURATION: lambda arg: lambda v: duration(v, low=arg.min_s, high=arg.max_s),
    Kind.USER: lambda arg: username,
    Kind.RECIPIENT: lambda arg: recipient,
    Kind.TEXTS: lambda arg: lambda v: each(v, string),
    Kind.USERS: lambda arg: lambda v: unique(each(v, username)),
    Kind.GROUPS: lambda arg: lambda v: unique(each(v, group)),
    Kind.CHANNELS: lambda arg: lambda v: unique(each(v, channel)),
    Kind.STATUSES: lambda arg: statuses,
}
