"""Escalation rules as data, and their pure evaluation against an alert at a given time."""
from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Sequence
from zoneinfo import ZoneInfo

from bot.alerts.model import Alert, AlertSeverity, AlertSource
from bot.incidents.model import Severity
from bot.yamlsource import Location

log = logging.getLogger(__name__)

DEFAULT_GROUP_BY = ("alertname",)
DEFAULT_GROUP_WINDOW_S = 300


class RuleAction(enum.Enum):
    """What a matching rule does with the alert."""

    OPEN_INCIDENT = "open_incident"
    NOTIFY = "notify"
    IGNORE = "ignore"


@dataclass(frozen=True)
class ValueMatcher:
    """An exact value or `~regex` (anchored), negated by a leading `!`; an absent value never equals."""

    text: str
    expected: str = ""
    pattern: re.Pattern[str] | None = None
    negate: bool = False

    def matches(self, value: str | None) -> bool:
        """Say whether `value` (None when absent) satisfies the matcher."""
        if value is None:
            hit = False
        elif self.pattern is not None:
            hit = self.pattern.fullmatch(value) is not None
        else:
            hit = value == self.expected
        return hit != self.negate


@dataclass(frozen=True)
class TimeWindow:
    """Days of the week and/or a daily span of minutes, in a time zone; a span past midnight belongs to its start day."""

    days: frozenset[int] = frozenset()  # 0 is Monday; empty means every day
    start_minute: int | None = None  # None means the whole day
    end_minute: int | None = None
    zone: str = "UTC"

    def contains(self, now: datetime) -> bool:
        """Say whether `now` (naive means UTC) falls inside the window."""
        aware = now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)
        local = aware.astimezone(timezone.utc if self.zone == "UTC" else ZoneInfo(self.zone))
        minute, day = local.hour * 60 + local.minute, local.weekday()
        if self.start_minute is not None and self.end_minute is not None:
            start, end = self.start_minute, self.end_minute
            if start < end:
                if not start <= minute < end:
                    return False
            elif minute < end:
                day = (local - timedelta(days=1)).weekday()
            elif minute < start:
                return False
        return not self.days or day in self.days


@dataclass(frozen=True)
class Match:
    """The conditions of a rule; every one given must hold, and an empty Match matches every alert."""

    sources: frozenset[AlertSource] = frozenset()
    name: ValueMatcher | None = None
    severities: frozenset[AlertSeverity] = frozenset()
    labels: tuple[tuple[str, ValueMatcher], ...] = ()
    text: re.Pattern[str] | None = None
    window: TimeWindow | None = None

    def matches(self, alert: Alert, now: datetime) -> bool:
        """Say whether the alert, seen at `now`, meets every condition."""
        if self.sources and alert.source not in self.sources:
            return False
        if self.severities and alert.severity not in self.severities:
            return False
        if self.name is not None and not self.name.matches(alert.name):
            return False
        if not all(matcher.matches(label_value(alert, label)) for label, matcher in self.labels):
            return False
        if self.text is not None and not any(self.text.search(text) for text in _alert_texts(alert)):
            return False
        return self.window is None or self.window.contains(now)


@dataclass(frozen=True)
class Rule:
    """One escalation rule; durations are in seconds, `title` is Jinja2 source rendered by the caller."""

    name: str
    action: RuleAction
    match: Match = Match()
    title: str = ""
    severity: tuple[tuple[AlertSeverity, Severity], ...] = ()
    playbook: str = ""
    group_by: tuple[str, ...] = DEFAULT_GROUP_BY
    group_by_explicit: bool = False
    group_window: int = DEFAULT_GROUP_WINDOW_S
    only_after: int = 0
    throttle: int = 0
    resolve_incident: bool = False
    continue_: bool = False
    location: Location | None = field(default=None, compare=False)

    def severity_for(self, alert: Alert) -> Severity | None:
        """Return the incident severity for this alert, or None to use the caller's default."""
        return dict(self.severity).get(alert.severity)


@dataclass(frozen=True)
class RuleMatch:
    """A rule that matched an alert, with the incident severity it chose for that alert."""

    rule: Rule
    severity: Severity | None = None
    index: int = 0


def evaluate(rules: Sequence[Rule], alert: Alert, now: datetime) -> list[RuleMatch]:
    """Return the matching rules in order, stopping after the first one without `continue`."""
    matched: list[RuleMatch] = []
    for index, rule in enumerate(rules):
        if rule.match.matches(alert, now):
            matched.append(RuleMatch(rule, rule.severity_for(alert), index))
            if not rule.continue_:
                break
    return matched


def label_value(alert: Alert, label: str) -> str | None:
    """Return a label's value, with `alertname` falling back to the alert's name; None when absent."""
    value = alert.labels.get(label)
    if value is None and label == "alertname" and alert.name:
        return alert.name
    return value


def _alert_texts(alert: Alert) -> list[str]:
    return [alert.summary, alert.raw_title, *alert.annotations.values()]
