"""Zabbix's official Mattermost media type (zabbix templates/media/mattermost/media_mattermost.yaml).

The media type posts through the REST API as a bot (`POST /api/v4/posts`, so no `from_webhook`), with
an empty message and one attachment: title = fallback = the alert subject (`Problem: <event name>`,
`Resolved in <duration>: <event name>`, `Updated problem in <age>: <event name>`), colour by severity
(`#97AAB3` ... `#E45959`, `#009900` when resolved), title_link = footer =
`<zabbix>/tr_events.php?triggerid=<trigger id>&eventid=<event id>`, and fields Host (`name [ip]`),
Event time, Severity, Opdata, Event tags, Trigger description (Details on updates).
In the default "alarm" mode the recovery edits the original post (`PUT /posts/{id}`) and updates
(acknowledgements, comments) are thread replies. The fingerprint is the event id from the link, so the
problem, its updates and its recovery all share it.
"""
from __future__ import annotations

import logging
import re

from bot.alerts.model import Alert, AlertSource, AlertStatus, normalise_severity
from bot.alerts.parsers.post_content import Attachment, attachments, times_for
from bot.mattermost.events import Post

log = logging.getLogger(__name__)

RESOLVE_COLOR = "#009900"
_EVENT_LINK_RE = re.compile(r"/tr_events\.php\?triggerid=(?P<trigger>\d{1,20})&(?:amp;)?eventid=(?P<event>\d{1,20})")
_TITLE_RE = re.compile(
    r"^(?:(?P<problem>Problem)|(?P<resolved>Resolved)(?: in [^:\n]{0,100})?|(?P<update>Updated problem)(?: in [^:\n]{0,100})?)"
    r": (?P<name>[^\n]{1,2000})$"
)
_HOST_RE = re.compile(r"^(?P<host>[^\[\n]{0,500}?)\s*\[(?P<ip>[^\]\n]{0,200})\]$")
_TAG_RE = re.compile(r"^\s*(?P<name>[^:,`\n]{1,200}):(?P<value>[^,`\n]{0,500})$")


def _event_ids(attachment: Attachment) -> tuple[str, str] | None:
    match = _EVENT_LINK_RE.search(attachment.title_link) or _EVENT_LINK_RE.search(attachment.footer)
    return (match.group("trigger"), match.group("event")) if match else None


def _tags(raw: str) -> dict[str, str]:
    """Read the Event tags field (`` `scope:availability, service:web` ``) into a dict."""
    tags: dict[str, str] = {}
    for part in raw.strip().strip("`").split(","):
        match = _TAG_RE.match(part)
        if match:
            tags.setdefault(match.group("name").strip(), match.group("value").strip())
    return tags


def _alert(post: Post, attachment: Attachment, trigger_id: str, event_id: str) -> Alert | None:
    title = attachment.title or attachment.fallback
    title_match = _TITLE_RE.match(title.strip())
    if title_match is None:
        return None
    is_update = bool(title_match.group("update"))
    resolved = bool(title_match.group("resolved")) or attachment.color.upper() == RESOLVE_COLOR.upper()
    status = AlertStatus.RESOLVED if resolved and not is_update else AlertStatus.FIRING
    severity_raw = attachment.field_value("Severity")
    labels = {"trigger_id": trigger_id, "event_id": event_id}
    host_field = attachment.field_value("Host")
    host_match = _HOST_RE.match(host_field.strip())
    if host_match:
        labels["host"] = host_match.group("host").strip()
        if host_match.group("ip").strip():
            labels["host_ip"] = host_match.group("ip").strip()
    elif host_field:
        labels["host"] = host_field.strip()
    if severity_raw:
        labels["severity"] = severity_raw
    event_tags = attachment.field_value("Event tags")
    for name, value in _tags(event_tags).items():
        labels.setdefault(name, value)
    annotations = {
        "event_time": attachment.field_value("Event time"),
        "opdata": attachment.field_value("Opdata"),
        "trigger_description": attachment.field_value("Trigger description"),
        "details": attachment.field_value("Details"),
        "event_tags": event_tags,
    }
    if is_update:
        annotations["event_update"] = "true"
    name = title_match.group("name").strip()
    starts_at, ends_at = times_for(status, post)
    return Alert(
        source=AlertSource.ZABBIX,
        fingerprint=f"zabbix:{event_id}",
        status=status,
        name=name,
        severity=normalise_severity(severity_raw),
        labels=labels,
        annotations={k: v for k, v in annotations.items() if v},
        summary=annotations["details"].splitlines()[0] if is_update and annotations["details"] else name,
        link=attachment.title_link or attachment.footer,
        group_key=f"zabbix-trigger:{trigger_id}",
        starts_at=starts_at,
        ends_at=ends_at,
        post_id=post.id,
        raw_title=title,
    )


def parse(post: Post) -> list[Alert]:
    """Read a Zabbix Mattermost media type post (problem, update reply or edited recovery); [] if not one."""
    found: list[Alert] = []
    for attachment in attachments(post):
        ids = _event_ids(attachment)
        if ids is None:
            continue
        alert = _alert(post, attachment, *ids)
        if alert is not None:
            found.append(alert)
    return found
