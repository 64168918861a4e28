"""Reading a custom command's arguments from the text after its name: typed, with errors that say what to type."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Sequence

from bot.alerts.rules import parse_duration
from bot.chat.parsing import BadArguments
from bot.chatops.model import REST_OF_LINE, ArgSpec, ArgType

MAX_ARGUMENT_TEXT = 4000
_USERNAME = re.compile(r"@?([A-Za-z0-9][A-Za-z0-9._-]{0,63})")
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)")


def parse_arguments(specs: Sequence[ArgSpec], text: str) -> dict[str, Any]:
    """The arguments by name; raise BadArguments naming the first one that does not fit."""
    if len(text) > MAX_ARGUMENT_TEXT:
        raise BadArguments(f"The arguments are {len(text)} characters long; keep them under {MAX_ARGUMENT_TEXT}.")
    values: dict[str, Any] = {}
    rest = text.strip()
    for index, spec in enumerate(specs):
        if spec.type in REST_OF_LINE:
            raw, after = rest, ""
        else:
            raw, after = _next_word(rest)
        if not raw:
            if spec.required:
                raise BadArguments(f"`{spec.name}` is missing{_help(spec)}.")
            values[spec.name] = spec.default
            continue
        try:
            values[spec.name] = _read(spec, raw)
        except BadArguments:
            # An optional argument before required ones (`silence [2h] <matchers>`) may be left out.
            if spec.required or not any(later.required for later in specs[index + 1:]):
                raise
            values[spec.name] = spec.default
            continue
        rest = after
    if rest:
        raise BadArguments(f"Too many arguments: `{rest[:60]}` is left over.")
    return values


def _help(spec: ArgSpec) -> str:
    return f": {spec.help}" if spec.help else ""


def _next_word(text: str) -> tuple[str, str]:
    """The first word (a quoted phrase counts as one, without its quotes) and the rest."""
    text = text.lstrip()
    if not text:
        return "", ""
    if text[0] in "\"'":
        end = text.find(text[0], 1)
        if end < 0:
            raise BadArguments(f"A quote is not closed: `{text[:40]}`.")
        return text[1:end], text[end + 1:].lstrip()
    word, _, rest = text.partition(" ")
    return word, rest.lstrip()


def _read(spec: ArgSpec, raw: str) -> Any:
    problem = f"`{spec.name}` must be "
    if spec.type in (ArgType.WORD, ArgType.TEXT):
        return raw
    if spec.type is ArgType.INT:
        if not re.fullmatch(r"[+-]?\d{1,18}", raw):
            raise BadArguments(problem + f"a whole number, not `{raw[:40]}`.")
        return int(raw)
    if spec.type is ArgType.NUMBER:
        try:
            number = float(raw)
        except ValueError:
            raise BadArguments(problem + f"a number, not `{raw[:40]}`.") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise BadArguments(problem + "a finite number.")
        return number
    if spec.type is ArgType.DURATION:
        try:
            return timedelta(seconds=parse_duration(raw))
        except ValueError:
            raise BadArguments(problem + f"a duration like 30m or 2h, not `{raw[:40]}`.") from None
    if spec.type is ArgType.CHOICE:
        for option in spec.choices:
            if option.lower() == raw.lower():
                return option
        raise BadArguments(problem + f"one of {', '.join(spec.choices)}, not `{raw[:40]}`.")
    if spec.type is ArgType.USER:
        found = _USERNAME.fullmatch(raw)
        if not found:
            raise BadArguments(problem + f"a username like @alice, not `{raw[:40]}`.")
        return found.group(1).lower()
    return parse_matchers(raw, spec.name)


def parse_matchers(text: str, name: str = "matchers") -> list[dict[str, Any]]:
    """`alertname=HighErrorRate service=~"api|web"` as Alertmanager matchers (name, value, isRegex, isEqual)."""
    matchers = []
    rest = text.strip()
    while rest:
        found = _MATCHER.match(rest)
        if not found:
            raise BadArguments(f"`{name}` must be label matchers like `alertname=HighErrorRate service=~\"api.*\"`; "
                               f"cannot read `{rest[:40]}`.")
        label, operator = found.groups()
        value, rest = _next_word(rest[found.end():])
        if not value:
            raise BadArguments(f"`{name}`: `{label}{operator}` needs a value.")
        if "~" in operator:
            try:
                re.compile(value)
            except re.error as exc:
                raise BadArguments(f"`{name}`: `{value[:40]}` is not a valid regex ({exc.msg}).") from None
        matchers.append({"name": label, "value": value, "isRegex": "~" in operator, "isEqual": operator[0] != "!"})
    if not matchers:
        raise BadArguments(f"`{name}` needs at least one matcher, like `alertname=HighErrorRate`.")
    return matchers
