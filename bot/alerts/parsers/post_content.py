"""Read a post's message and Slack-style attachments defensively, as small typed values.

Alert posts often have an empty `message`: their content is in `props.attachments`. Anything of the
wrong type (attachments that are not a list, fields that are not objects, numbers where text is
expected) is skipped or stringified here, so the parsers never see garbage.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.alerts.model import AlertStatus, datetime_from_ms
from bot.mattermost.events import Post

log = logging.getLogger(__name__)

MAX_TEXT = 20_000  # Mattermost caps a post at 16383 runes; longer values are cut, never parsed whole
MAX_ATTACHMENTS = 20
MAX_FIELDS = 50
MAX_ALERTS_PER_POST = 200


def as_text(value: Any) -> str:
    """Return a string value, a number as text (field values may be numbers), else ""."""
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


@dataclass(frozen=True)
class AttachmentField:
    """One `fields[]` entry of an attachment."""

    title: str
    value: str
    short: bool = False


@dataclass(frozen=True)
class Attachment:
    """One Slack-style message attachment, with wrong-typed parts replaced by empty values."""

    fallback: str = ""
    color: str = ""
    pretext: str = ""
    author_name: str = ""
    title: str = ""
    title_link: str = ""
    text: str = ""
    footer: str = ""
    footer_icon: str = ""
    fields: tuple[AttachmentField, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Attachment":
        raw_fields = data.get("fields")
        fields: list[AttachmentField] = []
        if isinstance(raw_fields, list):
            for item in raw_fields[:MAX_FIELDS]:
                if isinstance(item, dict):
                    fields.append(AttachmentField(
                        title=as_text(item.get("title")),
                        value=as_text(item.get("value")),
                        short=item.get("short") is True,
                    ))
        return cls(
            fallback=as_text(data.get("fallback")),
            color=as_text(data.get("color")),
            pretext=as_text(data.get("pretext")),
            author_name=as_text(data.get("author_name")),
            title=as_text(data.get("title")),
            title_link=as_text(data.get("title_link")),
            text=as_text(data.get("text")),
            footer=as_text(data.get("footer")),
            footer_icon=as_text(data.get("footer_icon")),
            fields=tuple(fields),
        )

    def field_value(self, title: str) -> str:
        """Return the value of the first field with this title (case-insensitive), or ""."""
        wanted = title.lower()
        return next((f.value for f in self.fields if f.title.strip().lower() == wanted), "")

    def all_text(self) -> str:
        """Join every readable part (pretext, title, text, `title: value` fields, footer) into lines."""
        parts = [self.pretext, self.title, self.text]
        parts.extend(f"{f.title}: {f.value}" if f.title else f.value for f in self.fields)
        parts.append(self.footer)
        return "\n".join(p for p in parts if p)


# The attachments read last, with the list they were read from: each parser of `recognise` reads the same
# post's attachments in turn, so they are read once per post. Posts are never changed after they are read.
_last_read: tuple[list[Any], tuple[Attachment, ...]] = ([], ())


def attachments(post: Post) -> tuple[Attachment, ...]:
    """Return the post's attachments, skipping anything that is not an object."""
    global _last_read
    props = post.props if isinstance(post.props, Mapping) else {}
    raw = props.get("attachments")
    if not isinstance(raw, list):
        return ()
    if raw is _last_read[0]:
        return _last_read[1]
    found = tuple(Attachment.from_json(a) for a in raw[:MAX_ATTACHMENTS] if isinstance(a, dict))
    _last_read = (raw, found)
    return found


def prop_text(post: Post, key: str) -> str:
    """Return a string prop such as `override_username`, or ""."""
    props = post.props if isinstance(post.props, Mapping) else {}
    return as_text(props.get(key))


def message(post: Post) -> str:
    """Return the post's message, cut to a sane length."""
    return post.message[:MAX_TEXT] if isinstance(post.message, str) else ""


def searchable_text(post: Post) -> str:
    """Return the message and all attachment text as one string, for regex rules."""
    parts = [message(post)]
    parts.extend(a.all_text() for a in attachments(post))
    return "\n".join(p for p in parts if p)[:MAX_TEXT]


def post_time(post: Post) -> datetime | None:
    """When the post was created."""
    return datetime_from_ms(post.create_at)


def post_changed_time(post: Post) -> datetime | None:
    """When the post last changed (its edit, else its creation): when an edited-to-resolved alert ended."""
    return datetime_from_ms(post.edit_at) or datetime_from_ms(post.update_at) or datetime_from_ms(post.create_at)


def times_for(status: AlertStatus, post: Post) -> tuple[datetime | None, datetime | None]:
    """Fall back on the post's own time: (starts_at, ends_at) for a tool that gives no aware time."""
    if status is AlertStatus.FIRING:
        return post_time(post), None
    return None, post_changed_time(post)


_MARKDOWN_LINK_RE = re.compile(r"\[(?P<text>[^\]\n]{0,500})\]\((?P<url>https?://[^)\s]{1,2000})\)")
_BARE_URL_RE = re.compile(r"https?://[^\s)\]>|]{1,2000}")


def first_link(text: str) -> str:
    """Return the first URL in markdown `[text](url)` or bare form, or ""."""
    match = _MARKDOWN_LINK_RE.search(text)
    if match:
        return match.group("url")
    match = _BARE_URL_RE.search(text)
    return match.group(0) if match else ""


# --- the "Labels: / Annotations:" alert lists of Alertmanager's and Grafana's default templates ---

_SECTION_RE = re.compile(
    r"^\W{0,4}(?:alerts\s+)?(?P<status>firing|resolved)(?:\s+alerts)?\W{0,4}:?\W{0,2}$", re.IGNORECASE
)
_PAIR_RE = re.compile(r"^\s{0,4}-\s(?P<name>[^=\n]{1,200}?) = (?P<value>.{0,4000})$")
_BULLET_PAIR_RE = re.compile(r"^\s{0,8}[•*-]\s{0,2}\*(?P<name>[A-Za-z_][A-Za-z0-9_]{0,100}):\*\s{0,4}`?(?P<value>[^`\n]{0,4000})`?\s*$")
_KEYWORD_RE = re.compile(r"^\s{0,4}\*{0,2}(?P<key>Value|Source|Silence|Dashboard|Panel)\*{0,2}:\s?(?P<rest>.{0,4000})$")


@dataclass
class ListedAlert:
    """One alert as listed in a notification's text (labels, annotations and links)."""

    status: AlertStatus | None
    labels: dict[str, str]
    annotations: dict[str, str]
    links: dict[str, str]


def listed_alerts(text: str) -> list[ListedAlert]:
    """Read the per-alert blocks (`Labels:` / ` - name = value` / `Annotations:` / `Source: url`) in a text."""
    if "Labels:" not in text and "*Details:*" not in text:
        return []
    found: list[ListedAlert] = []
    status: AlertStatus | None = None
    current: ListedAlert | None = None
    section = ""

    def flush() -> None:
        nonlocal current
        if current is not None and current.labels and len(found) < MAX_ALERTS_PER_POST:
            found.append(current)
        current = None

    for line in text.splitlines():
        stripped = line.strip()
        section_match = _SECTION_RE.match(stripped) if len(stripped) < 40 else None
        if section_match:
            flush()
            status = AlertStatus(section_match.group("status").lower())
            section = ""
            continue
        keyword = _KEYWORD_RE.match(line)
        if keyword:
            key = keyword.group("key").lower()
            if key == "value":
                flush()
                current = ListedAlert(status, {}, {}, {"value": keyword.group("rest").strip()})
            elif current is not None:
                current.links[key] = first_link(keyword.group("rest")) or keyword.group("rest").strip()
            section = ""
            continue
        if stripped in ("Labels:", "*Details:*"):
            if current is None or current.labels or current.annotations:
                flush()
                current = ListedAlert(status, {}, {}, {})
            section = "labels"
            continue
        if stripped == "Annotations:":
            if current is None:
                current = ListedAlert(status, {}, {}, {})
            section = "annotations"
            continue
        pair = _PAIR_RE.match(line) or _BULLET_PAIR_RE.match(line)
        if pair and current is not None and section:
            target = current.labels if section == "labels" else current.annotations
            target[pair.group("name").strip()] = pair.group("value").strip()
    flush()
    return found

