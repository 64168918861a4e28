"""The `funnel` config section: rules that bring related posts and alerts into an open incident's channel."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from bot.alerts.rules import parse_duration
from bot.problems import Problem, did_you_mean, dotted, kind_of
from bot.yamlsource import YamlDocument

DEFAULT_COALESCE_S = 30
MIN_COALESCE_S = 1
MAX_COALESCE_S = 3600
SECTION_KEYS = ("coalesce", "rules")
RULE_KEYS = ("name", "channels", "from", "labels", "alerts")
_CHANNEL = re.compile(r"^[a-z0-9]+([a-z\-_0-9]+|(__)?)[a-z0-9]*$")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class FunnelRule:
    """Posts in `channels` (by `senders`, if given), or alerts when `alerts`, related by `labels`."""

    name: str
    labels: tuple[str, ...]
    channels: tuple[str, ...] = ()       # channel URL names
    senders: tuple[str, ...] = ()        # usernames, lowercase, without "@"; empty: anyone
    alerts: bool = False


@dataclass(frozen=True)
class FunnelConfig:
    rules: tuple[FunnelRule, ...] = ()
    coalesce: int = DEFAULT_COALESCE_S   # seconds related items gather before one digest post

    @property
    def channels(self) -> tuple[str, ...]:
        """Every channel a rule watches, each once, in order."""
        return tuple(dict.fromkeys(name for rule in self.rules for name in rule.channels))


class _Bad(ValueError):
    """A problem at `subpath` below the rule."""

    def __init__(self, subpath: tuple, message: str):
        super().__init__(message)
        self.subpath = subpath


def funnel_from_document(doc: YamlDocument, section: Any,
                         path: tuple = ("funnel",)) -> tuple[FunnelConfig, list[Problem]]:
    """Read the (interpolated) section; return the config and every problem found, each located."""
    problems: list[Problem] = []

    def problem(at: tuple, message: str) -> None:
        problems.append(Problem(doc.where(path + at), dotted(path + at), message))

    if section is None:
        return FunnelConfig(), problems
    if not isinstance(section, dict):
        problem((), f"must be a mapping with coalesce and rules, not {kind_of(section)}")
        return FunnelConfig(), problems
    for key in section:
        if key not in SECTION_KEYS:
            problem((key,), "unknown key" + did_you_mean(key, SECTION_KEYS))
    coalesce = DEFAULT_COALESCE_S
    if "coalesce" in section:
        try:
            coalesce = _coalesce(section["coalesce"])
        except ValueError as exc:
            problem(("coalesce",), str(exc))
    raw_rules = section.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        problem(("rules",), "must be a non-empty list of rules (name, channels or alerts: true, labels)")
        return FunnelConfig(coalesce=coalesce), problems
    rules: list[FunnelRule] = []
    for index, raw in enumerate(raw_rules):
        try:
            rule = _rule(raw)
        except _Bad as exc:
            problem(("rules", index) + exc.subpath, str(exc))
            continue
        if any(r.name == rule.name for r in rules):
            problem(("rules", index, "name"), f"another rule is named {rule.name!r} already")
            continue
        rules.append(rule)
    return FunnelConfig(rules=tuple(rules), coalesce=coalesce), problems


def _coalesce(value: Any) -> int:
    seconds = parse_duration(value)
    if not MIN_COALESCE_S <= seconds <= MAX_COALESCE_S:
        raise ValueError(f"must be between {MIN_COALESCE_S}s and {MAX_COALESCE_S // 60}m, not {value!r}")
    return seconds


def _rule(raw: Any) -> FunnelRule:
    if not isinstance(raw, dict):
        raise _Bad((), f"must be a mapping with name, channels (or alerts: true) and labels, not {kind_of(raw)}")
    for key in raw:
        if key not in RULE_KEYS:
            raise _Bad((key,), "unknown key" + did_you_mean(key, RULE_KEYS))
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Bad(("name",) if "name" in raw else (), "name is required: a short word naming the rule")
    alerts = raw.get("alerts", False)
    if not isinstance(alerts, bool):
        raise _Bad(("alerts",), f"must be true or false, not {kind_of(alerts)}")
    if alerts and "channels" in raw:
        raise _Bad(("channels",), "a rule takes either channels (posts) or alerts: true, not both")
    if not alerts and "channels" not in raw:
        raise _Bad((), "needs channels (posts to watch) or alerts: true")
    if alerts and "from" in raw:
        raise _Bad(("from",), "from applies to posts in channels, not to alerts")
    if "labels" not in raw:
        raise _Bad((), "labels is required: which incident labels (like service) relate an item to an incident")
    channels = _names(raw["channels"], "channels", _CHANNEL,
                      "is not a channel name (the URL name: lowercase letters, digits, - and _)") if not alerts else ()
    senders = _names(raw["from"], "from", _USERNAME, "is not a username", _username) if "from" in raw else ()
    labels = _names(raw["labels"], "labels", _LABEL, "is not a label name (like service or cluster)")
    return FunnelRule(name=name.strip(), labels=labels, channels=channels, senders=senders, alerts=alerts)


def _username(text: str) -> str:
    return text.strip().lstrip("@").lower()


def _names(value: Any, key: str, pattern: re.Pattern, wrong: str,
           normal: Callable[[str], str] = str.strip) -> tuple[str, ...]:
    """A non-empty list of names matching `pattern` (after `normal`), each once."""
    if not isinstance(value, list):
        raise _Bad((key,), f"must be a list, not {kind_of(value)}")
    if not value:
        raise _Bad((key,), "must not be empty")
    names: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not pattern.match(normal(item)):
            raise _Bad((key, index), f"{item!r} {wrong}")
        if normal(item) not in names:
            names.append(normal(item))
    return tuple(names)
