"""Alerts from any tool, through a rule built from config: a regex with named groups.

The regex is searched in the post's message and attachment text (pretext, title, text, `title: value`
fields, footer), joined by newlines. Named groups fill the Alert:
`name`, `status`, `severity`, `summary`, `fingerprint`, `link`, `group_key`; every other named group
becomes a label of the same name. The `status` group's value is looked up (case-insensitively) in
`firing_values` / `resolved_values`; a value in neither means the rule does not apply. Without a
`status` group every match is firing. Without a `name` group, `alert_name` is used.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Mapping

from bot.alerts.model import (
    Alert, AlertSeverity, AlertSource, AlertStatus, hashed_fingerprint, normalise_severity,
)
from bot.alerts.parsers.post_content import first_link, searchable_text, times_for
from bot.mattermost.events import Post

log = logging.getLogger(__name__)

ALERT_FIELD_GROUPS = frozenset({"name", "status", "severity", "summary", "fingerprint", "link", "group_key"})
DEFAULT_FIRING_VALUES = ("firing", "problem", "alert", "alerting", "triggered", "down", "critical", "warning")
DEFAULT_RESOLVED_VALUES = ("resolved", "recovery", "recovered", "ok", "up", "cleared")


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:500] if lines else ""


class GenericRuleError(ValueError):
    """A generic alert rule from config is invalid; the message names the rule and the problem."""


@dataclass(frozen=True)
class GenericRule:
    """A config-defined alert pattern. Validated (and the regex compiled) once, at construction."""

    rule_name: str
    pattern: str
    alert_name: str = ""
    firing_values: tuple[str, ...] = DEFAULT_FIRING_VALUES
    resolved_values: tuple[str, ...] = DEFAULT_RESOLVED_VALUES
    default_severity: AlertSeverity = AlertSeverity.WARNING
    static_labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    ignore_case: bool = True
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        where = f"alert rule {self.rule_name!r}"
        if not isinstance(self.rule_name, str) or not self.rule_name.strip():
            raise GenericRuleError("alert rule: `rule_name` must be a non-empty string")
        if not isinstance(self.pattern, str) or not self.pattern:
            raise GenericRuleError(f"{where}: `pattern` must be a non-empty regular expression")
        try:
            regex = re.compile(self.pattern, re.IGNORECASE if self.ignore_case else 0)
        except re.error as exc:
            position = f" at position {exc.pos}" if exc.pos is not None else ""
            raise GenericRuleError(f"{where}: `pattern` is not a valid regular expression: {exc.msg}{position}") from None
        groups = set(regex.groupindex)
        if "name" not in groups and not self.alert_name.strip():
            raise GenericRuleError(f"{where}: `pattern` needs a (?P<name>...) group, or set `alert_name`")
        firing = tuple(v.strip().lower() for v in self.firing_values)
        resolved = tuple(v.strip().lower() for v in self.resolved_values)
        if "status" in groups and not (firing or resolved):
            raise GenericRuleError(f"{where}: a (?P<status>...) group needs `firing_values` or `resolved_values`")
        overlap = set(firing) & set(resolved)
        if overlap:
            raise GenericRuleError(f"{where}: values in both `firing_values` and `resolved_values`: {sorted(overlap)}")
        object.__setattr__(self, "firing_values", firing)
        object.__setattr__(self, "resolved_values", resolved)
        object.__setattr__(self, "static_labels", dict(self.static_labels))
        object.__setattr__(self, "_regex", regex)

    @property
    def parser_name(self) -> str:
        """The name `recognise` reports when this rule matched."""
        return f"generic:{self.rule_name}"

    def _status(self, value: str | None) -> AlertStatus | None:
        if value is None:
            return AlertStatus.FIRING
        word = value.strip().lower()
        if word in self.firing_values:
            return AlertStatus.FIRING
        if word in self.resolved_values:
            return AlertStatus.RESOLVED
        return None

    def parse(self, post: Post) -> list[Alert]:
        """Return the alert this rule finds in the post, or [] when the pattern does not match."""
        text = searchable_text(post)
        match = self._regex.search(text) if text else None
        if match is None:
            return []
        groups = {k: (v or "").strip() for k, v in match.groupdict().items() if v is not None}
        status = self._status(groups.get("status") if "status" in self._regex.groupindex else None)
        if status is None:
            return []
        name = groups.get("name") or self.alert_name.strip()
        if not name:
            return []
        labels = dict(self.static_labels)
        labels.update({k: v for k, v in groups.items() if k not in ALERT_FIELD_GROUPS})
        severity_raw = groups.get("severity", "")
        if severity_raw:
            labels["severity"] = severity_raw
        starts_at, ends_at = times_for(status, post)
        return [Alert(
            source=AlertSource.GENERIC,
            fingerprint=groups.get("fingerprint") or hashed_fingerprint(AlertSource.GENERIC, name, {
                "rule": self.rule_name, **{k: v for k, v in labels.items() if k != "severity"},
            }),
            status=status,
            name=name,
            severity=normalise_severity(severity_raw, self.default_severity),
            labels=labels,
            annotations={"rule": self.rule_name},
            summary=groups.get("summary") or _first_line(match.group(0)),
            link=groups.get("link") or first_link(text),
            group_key=groups.get("group_key", ""),
            starts_at=starts_at,
            ends_at=ends_at,
            post_id=post.id,
            raw_title=_first_line(match.group(0)),
        )]
