"""Prometheus Alertmanager notifications posted through `slack_configs` or `mattermost_configs`.

The default title (template/default.tmpl, `__subject`) is
`[FIRING:2] <group label values> (<other common label values>)` or `[RESOLVED] ...`, colour
`danger`/`good`, title_link `<externalURL>/#/alerts?receiver=...`, and the default Slack text is empty.
When the text lists alerts in the `__text_alert_list` shape (`Labels:` / ` - name = value`), one Alert
per listed alert is returned, with Alertmanager's own label fingerprint; otherwise one Alert per group.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bot.alerts.model import (
    Alert, AlertSource, AlertStatus, hashed_fingerprint, normalise_severity, prometheus_fingerprint,
)
from bot.alerts.parsers.post_content import (
    ListedAlert, attachments, first_link, listed_alerts, message, times_for,
)
from bot.mattermost.events import Post

log = logging.getLogger(__name__)

_SUBJECT_RE = re.compile(
    r"^\s{0,8}\[(?P<status>FIRING|RESOLVED)(?::(?P<firing>\d{1,6}))?(?:,\s?RESOLVED:(?P<resolved>\d{1,6}))?\]"
    r"[ \t]{0,8}(?P<rest>[^\n]{0,2000})$",
    re.IGNORECASE,
)
_GROUP_RE = re.compile(r"^(?P<group>[^\n]*?)\s*(?:\((?P<common>[^()\n]*)\))?\s*$")
_FOR_JOB_RE = re.compile(r"^(?P<name>\S{1,500}) for (?P<job>\S[^\n]{0,500})$")
_SEVERITY_WORDS = frozenset({"critical", "warning", "info", "page", "high", "low", "error", "major", "minor"})


@dataclass(frozen=True)
class Subject:
    """What an Alertmanager-style title says: status, counts, group label values, alert name."""

    status: AlertStatus
    firing_count: int
    resolved_count: int
    group: str
    common: str
    name: str
    job: str = ""

    @property
    def group_key(self) -> str:
        """The group's identity: its group label values (stable while alerts come and go)."""
        return self.group or self.common


def parse_subject(title: str) -> Subject | None:
    """Read `[FIRING:2] HighLatency api (prod critical)` (or `[RESOLVED] ...`); None if it is not one."""
    match = _SUBJECT_RE.match(title)
    if not match:
        return None
    status = AlertStatus(match.group("status").lower())
    firing = int(match.group("firing") or 0)
    resolved = int(match.group("resolved") or 0)
    rest = match.group("rest").strip()
    for_job = _FOR_JOB_RE.match(rest)
    if for_job:
        name = for_job.group("name")
        return Subject(status, firing, resolved, group=rest, common="", name=name, job=for_job.group("job").strip())
    grouped = _GROUP_RE.match(rest)
    group = grouped.group("group").strip() if grouped else rest
    common = (grouped.group("common") or "").strip() if grouped else ""
    words = (group or common).split()
    return Subject(status, firing, resolved, group=group, common=common, name=words[0] if words else "")


def _severity_word(subject: Subject) -> str:
    """Find a severity value among the title's label values ('' if none)."""
    for word in f"{subject.group} {subject.common}".split():
        if word.lower() in _SEVERITY_WORDS:
            return word
    return ""


def _summary_of(annotations: dict[str, str], fallback: str) -> str:
    return annotations.get("summary") or annotations.get("description") or annotations.get("message") or fallback


def alert_from_listing(
    source: AlertSource, post: Post, subject: Subject, listed: ListedAlert, link: str, raw_title: str
) -> Alert:
    """Build the Alert for one alert listed in a notification's text."""
    status = listed.status or subject.status
    labels = dict(listed.labels)
    name = labels.get("alertname") or subject.name or "unnamed alert"
    annotations = dict(listed.annotations)
    for key in ("value", "silence", "dashboard", "panel"):
        if listed.links.get(key):
            annotations.setdefault(f"{key}_url" if key != "value" else "value", listed.links[key])
    starts_at, ends_at = times_for(status, post)
    return Alert(
        source=source,
        fingerprint=prometheus_fingerprint(labels),
        status=status,
        name=name,
        severity=normalise_severity(labels.get("severity", "")),
        labels=labels,
        annotations=annotations,
        summary=_summary_of(annotations, raw_title),
        link=listed.links.get("source") or link,
        group_key=subject.group_key,
        starts_at=starts_at,
        ends_at=ends_at,
        post_id=post.id,
        raw_title=raw_title,
    )


def alert_for_group(source: AlertSource, post: Post, subject: Subject, text: str, link: str, raw_title: str) -> Alert:
    """Build one Alert standing for a whole notification group (when the text does not list alerts)."""
    labels = {"alertname": subject.name} if subject.name else {}
    if subject.job:
        labels["job"] = subject.job
    severity_word = _severity_word(subject)
    if severity_word:
        labels["severity"] = severity_word
    annotations = {"group_labels": subject.group, "common_labels": subject.common}
    if subject.status is AlertStatus.FIRING:
        annotations["firing_count"] = str(subject.firing_count or 1)
    if subject.resolved_count:
        annotations["resolved_count"] = str(subject.resolved_count)
    first_text_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    starts_at, ends_at = times_for(subject.status, post)
    return Alert(
        source=source,
        fingerprint=hashed_fingerprint(source, subject.group_key),
        status=subject.status,
        name=subject.name,
        severity=normalise_severity(severity_word),
        labels=labels,
        annotations={k: v for k, v in annotations.items() if v},
        summary=first_text_line or raw_title.strip(),
        link=link or first_link(text),
        group_key=subject.group_key,
        starts_at=starts_at,
        ends_at=ends_at,
        post_id=post.id,
        raw_title=raw_title,
    )


def alerts_from_notification(
    source: AlertSource, post: Post, subject: Subject, text: str, link: str, raw_title: str
) -> list[Alert]:
    """Return one Alert per alert listed in `text`, or one for the group when none are listed."""
    listed = listed_alerts(text)
    if listed:
        return [alert_from_listing(source, post, subject, item, link, raw_title) for item in listed]
    if not subject.name:
        return []  # a bare "[FIRING]" with nothing after it names no alert
    return [alert_for_group(source, post, subject, text, link, raw_title)]


def looks_like_grafana(footer: str, footer_icon: str, title_link: str, text: str) -> bool:
    """Tell Grafana's Slack notifications (same title shape) from Alertmanager's."""
    return (
        footer.startswith("Grafana")
        or "grafana" in footer_icon.lower()
        or "/alerting/" in title_link
        or ("\nValue: " in text and ("**Firing**" in text or "**Resolved**" in text))
    )


def parse(post: Post) -> list[Alert]:
    """Read an Alertmanager notification post; [] when it is not one."""
    found: list[Alert] = []
    for attachment in attachments(post):
        subject = parse_subject(attachment.title)
        if subject is None:
            continue
        if looks_like_grafana(attachment.footer, attachment.footer_icon, attachment.title_link, attachment.text):
            continue
        found.extend(alerts_from_notification(
            AlertSource.ALERTMANAGER, post, subject, attachment.text, attachment.title_link, attachment.title,
        ))
    if found:
        return found
    text = message(post)
    first_line, _, rest = text.lstrip().partition("\n")
    subject = parse_subject(first_line)
    if subject is None or looks_like_grafana("", "", "", rest):
        return []
    return alerts_from_notification(AlertSource.ALERTMANAGER, post, subject, rest, first_link(first_line), first_line)
