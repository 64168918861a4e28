"""Grafana unified alerting notifications through the Slack contact point (a Mattermost incoming webhook).

grafana/alerting `receivers/slack` posts one attachment: title `default.title` =
`[FIRING:1] <group values> (<common values>)` (or `[FIRING:1, RESOLVED:1] ...`, `[RESOLVED] ...`),
fallback = title, colour `#D63232` firing / `#36a64f` resolved, footer `Grafana v<version>` with the
Grafana icon, title_link the rule's URL, and text `default.message`: `**Firing**` / `**Resolved**`
sections listing `Value:`, `Labels:`, `Annotations:`, `Source:`, `Silence:`, `Dashboard:`, `Panel:`.
"""
from __future__ import annotations

import logging

from bot.alerts.model import Alert, AlertSource
from bot.alerts.parsers.alertmanager import alerts_from_notification, looks_like_grafana, parse_subject
from bot.alerts.parsers.post_content import attachments
from bot.mattermost.events import Post

log = logging.getLogger(__name__)


def parse(post: Post) -> list[Alert]:
    """Read a Grafana alerting notification post; [] when it is not one."""
    found: list[Alert] = []
    for attachment in attachments(post):
        subject = parse_subject(attachment.title)
        if subject is None:
            continue
        if not looks_like_grafana(attachment.footer, attachment.footer_icon, attachment.title_link, attachment.text):
            continue
        found.extend(alerts_from_notification(
            AlertSource.GRAFANA, post, subject, attachment.text, attachment.title_link, attachment.title,
        ))
    return found
