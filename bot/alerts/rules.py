"""Escalation rules read from YAML and validated once, with every problem named by file, line and field.

The rule model and `evaluate` live in `bot.alerts.rule_model` and are re-exported here, so callers
import everything about rules from this module.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Callable, Sequence
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from bot.alerts.model import AlertSeverity, AlertSource
from bot.alerts.rule_model import (
    DEFAULT_GROUP_BY, DEFAULT_GROUP_WINDOW_S, Match, Rule, RuleAction, RuleMatch, TimeWindow, ValueMatcher,
    evaluate, label_value,
)
from bot.problems import ConfigError, Problem, did_you_mean, dotted, kind_of, non_empty_text
from bot.incidents.model import Severity
from bot.yamlsource import YamlDocument, YamlSourceError, load_yaml_file

__all__ = [
    "Match", "Rule", "RuleAction", "RuleMatch", "TimeWindow", "ValueMatcher", "evaluate", "label_value",
    "load_rules", "parse_duration", "rules_from_document",
]

log = logging.getLogger(__name__)

MAX_DURATION_S = 365 * 86400
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DURATION = re.compile(r"(?:\d+[smhd])+")
_DURATION_PART = re.compile(r"(\d+)([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_HOURS = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_RULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.:-]{0,99}")


def parse_duration(value: Any) -> int:
    """Read '30s', '10m', '2h', '1d' (or a sum such as '1h30m') as seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"needs a unit: write {value}s, or use m, h or d")
    if not isinstance(value, str):
        raise ValueError(f"must be a duration like 30s, 10m, 2h or 1d, not {kind_of(value)}")
    text = value.replace(" ", "").lower()
    if not _DURATION.fullmatch(text):
        raise ValueError(f"{value!r} is not a duration; write e.g. 30s, 10m, 2h or 1d")
    seconds = sum(int(n) * _UNIT_S[unit] for n, unit in _DURATION_PART.findall(text))
    if seconds > MAX_DURATION_S:
        raise ValueError(f"{value!r} is longer than 365d")
    return seconds






class _At(ValueError):
    """A problem found inside a value, at `subpath` below it."""

    def __init__(self, subpath: tuple, message: str):
        super().__init__(message)
        self.subpath = subpath


def _each(value: Any, parse: Callable[[Any], Any]) -> tuple[Any, ...]:
    """Parse one value or each item of a list, naming the bad item's index."""
    if not isinstance(value, list):
        return (parse(value),)
    if not value:
        raise ValueError("must not be an empty list")
    items = []
    for index, item in enumerate(value):
        try:
            items.append(parse(item))
        except ValueError as exc:
            raise _At((index,), str(exc)) from None
    return tuple(items)


def _choice(value: Any, choices: Sequence[str]) -> str:
    text = non_empty_text(value).lower()
    if text not in choices:
        raise ValueError(f"{text!r} is not one of {', '.join(choices)}" + did_you_mean(text, choices))
    return text


def _regex(source: str) -> re.Pattern[str]:
    try:
        return re.compile(source)
    except re.error as exc:
        raise ValueError(f"bad regex {source!r}: {exc.msg} at position {exc.pos}") from None


def _value_matcher(value: Any) -> ValueMatcher:
    if isinstance(value, bool):
        raise ValueError(f"write the value in quotes ('{str(value).lower()}'): YAML reads it as a boolean")
    text = non_empty_text(value)
    negate = text.startswith("!")
    body = text[1:] if negate else text
    if body.startswith("~"):
        return ValueMatcher(text, pattern=_regex(body[1:]), negate=negate)
    return ValueMatcher(text, expected=body, negate=negate)


def _day(word: str) -> int:
    word = word.strip().lower()
    if word in _DAYS:
        return _DAYS.index(word)
    if word in _DAY_NAMES:
        return _DAY_NAMES.index(word)
    raise ValueError(f"{word!r} is not a day (mon, tue, wed, thu, fri, sat, sun)" + did_you_mean(word, _DAYS))


def _days(value: Any) -> frozenset[int]:
    parts = [p for item in _each(value, non_empty_text) for p in item.split(",")]
    days: set[int] = set()
    for part in parts:
        first, _, last = part.partition("-")
        start = _day(first)
        stop = _day(last) if last else start
        days.update((start + i) % 7 for i in range((stop - start) % 7 + 1))
    return frozenset(days)


def _hours(value: Any) -> tuple[int, int]:
    found = _HOURS.fullmatch(non_empty_text(value))
    if not found:
        raise ValueError(f"{value!r} is not a span of hours; write e.g. 09:00-17:00")
    sh, sm, eh, em = (int(g) for g in found.groups())
    if sh > 23 or eh > 24 or sm > 59 or em > 59 or (eh == 24 and em):
        raise ValueError(f"{value!r} has a time that does not exist")
    start, end = sh * 60 + sm, eh * 60 + em
    if start == end % 1440:
        raise ValueError(f"{value!r} starts and ends at the same time; leave `hours` out for the whole day")
    return start, end


def _zone(value: Any) -> str:
    name = non_empty_text(value)
    if name == "UTC":
        return name
    try:
        ZoneInfo(name)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"{name!r} is not a known time zone; use a name like Europe/Berlin or UTC") from None
    return name


def _incident_severity(value: Any) -> Severity:
    severity = Severity.parse(non_empty_text(value))
    if severity is None:
        raise ValueError(f"{value!r} is not an incident severity (sev1, sev2, sev3, sev4)")
    return severity


RULE_KEYS = ("name", "match", "action", "title", "severity", "playbook", "group_by", "group_window",
             "only_after", "throttle", "resolve_incident", "continue")
MATCH_KEYS = ("source", "alertname", "name", "severity", "labels", "text", "time")
TIME_KEYS = ("days", "hours", "timezone")
_UNUSED_WITH = {
    RuleAction.IGNORE: ("title", "severity", "playbook", "group_by", "group_window", "only_after", "throttle",
                        "resolve_incident"),
    RuleAction.NOTIFY: ("playbook", "group_window", "resolve_incident"),
}
_BAD = object()


class _RuleReader:
    """Read a list of rules from a parsed document, collecting every problem instead of stopping at the first."""

    def __init__(self, doc: YamlDocument):
        self.doc = doc
        self.problems: list[Problem] = []
        self.env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)

    def problem(self, path: tuple, message: str) -> None:
        self.problems.append(Problem(self.doc.where(path), dotted(path), message))

    def value(self, path: tuple, raw: Any, parse: Callable[[Any], Any]) -> Any:
        try:
            return parse(raw)
        except ValueError as exc:
            self.problem(path + getattr(exc, "subpath", ()), str(exc))
            return _BAD

    def mapping(self, path: tuple, raw: Any, keys: Sequence[str]) -> dict:
        if not isinstance(raw, dict):
            self.problem(path, f"must be a mapping, not {kind_of(raw)}")
            return {}
        for key in raw:
            if key not in keys:
                self.problem(path + (key,), "unknown key" + did_you_mean(key, keys))
        return {k: v for k, v in raw.items() if k in keys}

    def rules(self, path: tuple, raw: Any) -> tuple[Rule, ...]:
        if not isinstance(raw, list):
            self.problem(path, f"must be a list of rules, not {kind_of(raw)}")
            return ()
        rules, seen = [], {}
        for index, item in enumerate(raw):
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and name.strip() in seen:
                self.problem(path + (index, "name"), f"duplicate rule name {name!r} (also {dotted(seen[name.strip()])})")
            elif isinstance(name, str):
                seen[name.strip()] = path + (index,)
            rule = self.rule(path + (index,), item)
            if rule is not None:
                rules.append(rule)
        return tuple(rules)

    def rule(self, path: tuple, raw: Any) -> Rule | None:
        before = len(self.problems)
        data = self.mapping(path, raw, RULE_KEYS)
        if not data and not isinstance(raw, dict):
            return None
        for key in ("name", "action"):
            if key not in data:
                self.problem(path, f"{key} is required but missing")
        name = self.value(path + ("name",), data["name"], self.rule_name) if "name" in data else _BAD
        action = _BAD
        if "action" in data:
            action = self.value(path + ("action",), data["action"],
                                lambda v: RuleAction(_choice(v, [a.value for a in RuleAction])))
        if action is not _BAD:
            for key in _UNUSED_WITH.get(action, ()):
                if key in data:
                    self.problem(path + (key,), f"has no effect with action: {action.value}")
        options: dict[str, Any] = {}
        parsers: dict[str, Callable[[Any], Any]] = {
            "title": self.template, "severity": self.severity_map, "playbook": non_empty_text,
            "group_by": lambda v: _each(v, non_empty_text) if v != [] else (),
            "group_window": parse_duration, "only_after": parse_duration, "throttle": parse_duration,
            "resolve_incident": _boolean, "continue": _boolean,
        }
        for key, parse in parsers.items():
            if key in data:
                options[key] = self.value(path + (key,), data[key], parse)
        match = self.match(path + ("match",), data["match"]) if "match" in data else Match()
        if len(self.problems) > before:
            return None
        return Rule(
            name=name, action=action, match=match, title=options.get("title", ""),
            severity=options.get("severity", ()), playbook=options.get("playbook", ""),
            group_by=options.get("group_by", DEFAULT_GROUP_BY), group_by_explicit="group_by" in options,
            group_window=options.get("group_window", DEFAULT_GROUP_WINDOW_S),
            only_after=options.get("only_after", 0), throttle=options.get("throttle", 0),
            resolve_incident=options.get("resolve_incident", False), continue_=options.get("continue", False),
            location=self.doc.where(path),
        )

    def rule_name(self, value: Any) -> str:
        name = non_empty_text(value)
        if not _RULE_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a rule name: up to 100 letters, digits, spaces and _ . : -")
        return name

    def template(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"must be a template string, not {kind_of(value)}")
        if not value.strip():
            raise ValueError("must not be empty")
        try:
            self.env.from_string(value)
        except TemplateSyntaxError as exc:
            raise ValueError(f"template does not compile: {exc.message} (template line {exc.lineno})") from None
        return value

    def severity_map(self, value: Any) -> tuple[tuple[AlertSeverity, Severity], ...]:
        if not isinstance(value, dict):
            chosen = _incident_severity(value)
            return tuple((s, chosen) for s in AlertSeverity)
        alert_words = [s.value for s in AlertSeverity]
        pairs = []
        for key, raw in value.items():
            if key not in alert_words:
                raise _At((key,), f"{key!r} is not an alert severity ({', '.join(alert_words)})"
                          + did_you_mean(key, alert_words))
            try:
                pairs.append((AlertSeverity(key), _incident_severity(raw)))
            except ValueError as exc:
                raise _At((key,), str(exc)) from None
        return tuple(pairs)

    def match(self, path: tuple, raw: Any) -> Match:
        if raw is None:
            return Match()
        data = self.mapping(path, raw, MATCH_KEYS)
        if "alertname" in data and "name" in data:
            self.problem(path + ("name",), "give either alertname or name, not both")
        found: dict[str, Any] = {}
        sources = [a.value for a in AlertSource]
        severities = [s.value for s in AlertSeverity]
        simple: dict[str, Callable[[Any], Any]] = {
            "source": lambda v: frozenset(_each(v, lambda x: AlertSource(_choice(x, sources)))),
            "severity": lambda v: frozenset(_each(v, lambda x: AlertSeverity(_choice(x, severities)))),
            "alertname": _value_matcher, "name": _value_matcher, "text": lambda v: _regex(non_empty_text(v)),
        }
        for key, parse in simple.items():
            if key in data:
                found[key] = self.value(path + (key,), data[key], parse)
        labels = self.labels(path + ("labels",), data["labels"]) if "labels" in data else ()
        window = self.window(path + ("time",), data["time"]) if "time" in data else None
        name = found.get("alertname", found.get("name"))
        if any(v is _BAD for v in found.values()) or labels is _BAD or window is _BAD:
            return Match()
        return Match(sources=found.get("source", frozenset()), name=name,
                     severities=found.get("severity", frozenset()), labels=labels,
                     text=found.get("text"), window=window)

    def labels(self, path: tuple, raw: Any) -> Any:
        if not isinstance(raw, dict):
            self.problem(path, f"must be a mapping of label to value, not {kind_of(raw)}")
            return _BAD
        pairs = [(str(label), self.value(path + (label,), value, _value_matcher)) for label, value in raw.items()]
        return _BAD if any(m is _BAD for _, m in pairs) else tuple(pairs)

    def window(self, path: tuple, raw: Any) -> Any:
        data = self.mapping(path, raw, TIME_KEYS)
        if isinstance(raw, dict) and not ("days" in data or "hours" in data):
            self.problem(path, "needs days, hours or both")
        days = self.value(path + ("days",), data["days"], _days) if "days" in data else frozenset()
        hours = self.value(path + ("hours",), data["hours"], _hours) if "hours" in data else (None, None)
        zone = self.value(path + ("timezone",), data["timezone"], _zone) if "timezone" in data else "UTC"
        if any(v is _BAD for v in (days, hours, zone)) or not isinstance(raw, dict):
            return _BAD
        return TimeWindow(days=days, start_minute=hours[0], end_minute=hours[1], zone=zone)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r}")
    return value


def rules_from_document(doc: YamlDocument, path_prefix: tuple = ("rules",)) -> tuple[Rule, ...]:
    """Validate the list of rules at `path_prefix` in a parsed document; raise ConfigError listing every problem."""
    data: Any = doc.data
    for part in path_prefix:
        if not isinstance(data, dict) or part not in data:
            return ()
        data = data[part]
    reader = _RuleReader(doc)
    rules = reader.rules(tuple(path_prefix), [] if data is None else data)
    if reader.problems:
        raise ConfigError(sorted(reader.problems, key=lambda p: (p.location.line, p.location.column)))
    return rules


def load_rules(path: Path | str) -> tuple[Rule, ...]:
    """Read and validate a rules file: a mapping with one key, `rules`, holding the list of rules."""
    try:
        doc = load_yaml_file(Path(path))
    except YamlSourceError as exc:
        raise ConfigError([Problem(exc.location, "", exc.message)]) from None
    if not isinstance(doc.data, dict) or "rules" not in doc.data:
        raise ConfigError([Problem(doc.where(()), "", "a rules file must be a mapping with a `rules:` list")])
    unknown = [Problem(doc.where((key,)), str(key), "unknown key" + did_you_mean(key, ["rules"]))
               for key in doc.data if key != "rules"]
    try:
        rules = rules_from_document(doc, ("rules",))
    except ConfigError as exc:
        raise ConfigError(unknown + exc.problems) from None
    if unknown:
        raise ConfigError(unknown)
    return rules
