"""Uptime Kuma's Mattermost notifier (louislam/uptime-kuma server/notification-providers/mattermost.js).

It posts to an incoming webhook, username `<monitor> Uptime Kuma`, one attachment: title
`<monitor> service went down.` (colour `#FF0000`, field `Error`) or `<monitor> service went up!`
(colour `#32CD32`, field `Ping` = `<n>ms`), fallback `Your <monitor> service went ...`, title_link the
monitor's URL, and a short field `Time (UTC)` = `YYYY-MM-DD HH:mm:ss.SSS`. Test messages and certificate
warnings are plain text without attachments and are not alerts.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timezone

from bot.alerts.model import Alert, AlertSeverity, AlertSource, AlertStatus, hashed_fingerprint
from bot.alerts.parsers.post_content import attachments, times_for
from bot.mattermost.events import Post

log = logging.getLogger(__name__)

_TITLE_RE = re.compile(r"^(?P<monitor>[^\n]{1,1000}?) service went (?P<state>down|up)[.!]?$")
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?$")


def _utc_time(raw: str) -> datetime | None:
    """Read the `Time (UTC)` field as an aware UTC datetime."""
    raw = raw.strip()
    if not _TIME_RE.match(raw):
        return None
    try:
        return datetime.fromisoformat(raw.replace(" ", "T")).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def parse(post: Post) -> list[Alert]:
    """Read an Uptime Kuma up/down post; [] when it is not one."""
    found: list[Alert] = []
    for attachment in attachments(post):
        match = _TITLE_RE.match(attachment.title.strip())
        if match is None or not attachment.field_value("Time (UTC)"):
            continue
        monitor = match.group("monitor").strip()
        down = match.group("state") == "down"
        status = AlertStatus.FIRING if down else AlertStatus.RESOLVED
        starts_at, ends_at = times_for(status, post)
        heartbeat_time = _utc_time(attachment.field_value("Time (UTC)"))
        if heartbeat_time is not None:
            starts_at, ends_at = (heartbeat_time, None) if down else (None, heartbeat_time)
        error = attachment.field_value("Error")
        ping = attachment.field_value("Ping")
        annotations = {"error": error} if down and error else ({"ping": ping} if ping else {})
        found.append(Alert(
            source=AlertSource.UPTIME_KUMA,
            fingerprint=hashed_fingerprint(AlertSource.UPTIME_KUMA, monitor),
            status=status,
            name=monitor,
            severity=AlertSeverity.CRITICAL if down else AlertSeverity.INFO,
            labels={"monitor": monitor, "severity": "down" if down else "up"},
            annotations=annotations,
            summary=(error or attachment.title.strip()) if down else attachment.title.strip(),
            link=attachment.title_link,
            group_key=monitor,
            starts_at=starts_at,
            ends_at=ends_at,
            post_id=post.id,
            raw_title=attachment.title,
        ))
    return found
