"""Nagios and Icinga 2 notifications from the common Mattermost notification scripts.

Three shapes are read:
- NDrive/nagios-mattermost `mattermost.py` (incoming webhook, username "Nagios"):
  `:fire:__PROBLEM__ web01 at 10.0.0.5/HTTP is CRITICAL\\n<output> [View :link:](<cgi url>)`,
  host form `__PROBLEM__ web01 is DOWN\\n<output>`.
- Yoda-BZH/icinga2-mattermost `mattermost.py` (incoming webhook, username "Icinga"):
  `:fire:__PROBLEM__ web01/HTTP is CRITICAL - <output>`, host form `__PROBLEM__ web01 is DOWN - <output>`.
- ibrewster/icinga-mattermost `mattermost-notification.py` (REST API as a bot): message
  `PROBLEM: HTTP on web01 is CRITICAL - <output> @channel` or `PROBLEM: Host web01 is DOWN - <output>`,
  plus an attachment coloured by state.
Only PROBLEM (firing) and RECOVERY (resolved) notifications are alerts; acknowledgements, downtime and
flapping notifications are not.
"""
from __future__ import annotations

import logging
import re

from bot.alerts.model import Alert, AlertSource, AlertStatus, hashed_fingerprint, normalise_severity
from bot.alerts.parsers.post_content import attachments, first_link, message, prop_text, times_for
from bot.mattermost.events import Post

log = logging.getLogger(__name__)

_STATES = r"OK|WARNING|CRITICAL|UNKNOWN|UP|DOWN|UNREACHABLE"
_STATUS_BY_TYPE = {"PROBLEM": AlertStatus.FIRING, "RECOVERY": AlertStatus.RESOLVED}

_SCRIPT_RE = re.compile(
    r"^\s{0,4}(?::[a-z0-9_+-]{1,40}:)?\s?__(?P<type>[A-Z]{2,30})__ (?P<subject>[^\n]{1,1000}?) is "
    rf"(?P<state>{_STATES})(?:(?P<sep> - |\n)(?P<output>.*))?$",
    re.DOTALL,
)
_SUBJECT_WITH_ADDRESS_RE = re.compile(r"^(?P<host>[^\n]+?) at (?P<address>\S+?)/(?P<service>[^\n]+)$")
_VIEW_LINK_RE = re.compile(r"\s?\[View :link:\]\((?P<url>[^)\s]{1,2000})\)\s*$")
_ICINGA_BOT_RE = re.compile(
    r"^\s{0,4}(?P<type>[A-Z]{2,30}): (?:Host (?P<host>[^\n]{1,500}?)|(?P<service>[^\n]{1,500}?) on (?P<service_host>[^\n]{1,500}?))"
    rf" is (?P<state>{_STATES}) - (?P<output>[^\n]{{0,8000}}?)(?: @channel)?\s*$"
)


def _alert(
    source: AlertSource, post: Post, kind: str, host: str, service: str, state: str, output: str,
    address: str = "", link: str = "", raw_title: str = "",
) -> list[Alert]:
    status = _STATUS_BY_TYPE.get(kind)
    if status is None:
        return []
    name = f"{host}/{service}" if service else host
    labels = {"host": host, "state": state, "severity": state, "notification_type": kind}
    if service:
        labels["service"] = service
    if address:
        labels["address"] = address
    output = output.strip()
    starts_at, ends_at = times_for(status, post)
    return [Alert(
        source=source,
        fingerprint=hashed_fingerprint(source, name, {"host": host, "service": service}),
        status=status,
        name=name,
        severity=normalise_severity(state),
        labels=labels,
        annotations={"output": output} if output else {},
        summary=output.splitlines()[0] if output else f"{name} is {state}",
        link=link,
        group_key=host,
        starts_at=starts_at,
        ends_at=ends_at,
        post_id=post.id,
        raw_title=raw_title,
    )]


def _source_named(post: Post, default: AlertSource) -> AlertSource:
    """Prefer the username the script posted as, when the server kept it."""
    username = prop_text(post, "override_username").lower()
    if "icinga" in username:
        return AlertSource.ICINGA
    if "nagios" in username:
        return AlertSource.NAGIOS
    return default


def _from_script(post: Post, text: str) -> list[Alert]:
    match = _SCRIPT_RE.match(text)
    if not match:
        return []
    subject, output = match.group("subject"), match.group("output") or ""
    link = ""
    view = _VIEW_LINK_RE.search(output)
    if view:
        link, output = view.group("url"), output[: view.start()]
    with_address = _SUBJECT_WITH_ADDRESS_RE.match(subject)
    if with_address:
        host, address, service = with_address.group("host", "address", "service")
        default = AlertSource.NAGIOS
    elif "/" in subject:
        host, _, service = subject.partition("/")
        address, default = "", AlertSource.ICINGA
    else:
        host, service, address = subject, "", ""
        default = AlertSource.ICINGA if match.group("sep") == " - " else AlertSource.NAGIOS
    first_line = text.splitlines()[0] if text else ""
    return _alert(
        _source_named(post, default), post, match.group("type"), host.strip(), service.strip(),
        match.group("state"), output, address, link, first_line,
    )


def _from_icinga_bot(post: Post, text: str) -> list[Alert]:
    match = _ICINGA_BOT_RE.match(text.splitlines()[0] if text else "")
    if not match:
        return []
    host = match.group("host") or match.group("service_host") or ""
    link = next((first_link(a.text) for a in attachments(post) if "View in Icinga" in a.text), "")
    return _alert(
        AlertSource.ICINGA, post, match.group("type"), host.strip(), (match.group("service") or "").strip(),
        match.group("state"), match.group("output"), link=link, raw_title=match.group(0).strip(),
    )


def parse(post: Post) -> list[Alert]:
    """Read a Nagios or Icinga notification post; [] when it is not one."""
    text = message(post)
    if not text:
        return []
    if "__" in text:
        found = _from_script(post, text.lstrip())
        if found:
            return found
    return _from_icinga_bot(post, text.lstrip())
