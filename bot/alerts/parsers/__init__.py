"""Recognise alerts in Mattermost posts: one parser per monitoring tool, tried in order.

Build the list once at start-up with `default_parsers(rules)` and pass it to `recognise`; nothing is
registered at import time.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from bot.alerts.model import Alert
from bot.alerts.parsers import alertmanager, grafana, nagios, uptime_kuma, zabbix
from bot.alerts.parsers.generic import GenericRule
from bot.mattermost.events import Post

log = logging.getLogger(__name__)

PostParse = Callable[[Post], list[Alert]]


@dataclass(frozen=True)
class AlertParser:
    """A named function from a post to the alerts in it ([] when the post is not this tool's)."""

    name: str
    parse: PostParse


@dataclass(frozen=True)
class Recognition:
    """What `recognise` found: the parser that matched and its alerts, or why the post is not an alert."""

    parser: str
    alerts: tuple[Alert, ...]
    reason: str = ""

    @property
    def is_alert(self) -> bool:
        """True when a parser found at least one alert."""
        return bool(self.alerts)

    @classmethod
    def not_an_alert(cls, reason: str) -> "Recognition":
        return cls(parser="", alerts=(), reason=reason)


def default_parsers(rules: Iterable[GenericRule] = ()) -> list[AlertParser]:
    """Return the built-in parsers, most specific first, followed by the config's generic rules."""
    parsers = [
        AlertParser("zabbix", zabbix.parse),
        AlertParser("uptime_kuma", uptime_kuma.parse),
        AlertParser("grafana", grafana.parse),
        AlertParser("alertmanager", alertmanager.parse),
        AlertParser("nagios", nagios.parse),
    ]
    parsers.extend(AlertParser(rule.parser_name, rule.parse) for rule in rules)
    return parsers


def _skip_reason(post: Post) -> str:
    if not isinstance(post, Post):
        return "not a post"
    if post.delete_at:
        return "the post is deleted"
    if isinstance(post.type, str) and post.type.startswith("system_"):
        return f"system post ({post.type})"
    props = post.props if isinstance(post.props, Mapping) else {}
    text = post.message if isinstance(post.message, str) else ""
    if not text.strip() and not props.get("attachments"):
        return "the post is empty"
    return ""


def recognise(post: Post, parsers: Sequence[AlertParser]) -> Recognition:
    """Try each parser in order; the first that finds alerts wins. Never raises on odd input."""
    reason = _skip_reason(post)
    if reason:
        return Recognition.not_an_alert(reason)
    for parser in parsers:
        try:
            alerts = parser.parse(post)
        except Exception:  # a parser bug must not stop the bot: log it and try the next parser
            log.exception("alert parser %s failed on post %s", parser.name, getattr(post, "id", "?"))
            continue
        if alerts:
            return Recognition(parser=parser.name, alerts=tuple(alerts))
    return Recognition.not_an_alert("no parser recognised the post")
