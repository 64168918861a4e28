"""Slack-compatible webhook payloads: link conversion and typed MessageAttachments."""
from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

log = logging.getLogger(__name__)

SLACK_LINK = re.compile(r"<([^<\|>]+)\|([^>]+)>")
ANNOUNCEMENTS = (("<!channel>", "@channel"), ("<!here>", "@here"), ("<!all>", "@all"))
ATTACHMENT_STRINGS = ("fallback", "color", "pretext", "author_name", "author_link", "author_icon", "title",
                      "title_link", "text", "image_url", "thumb_url", "footer", "footer_icon")


def slack_text(text: str) -> str:
    """Convert Slack markup to Mattermost markdown: <!channel> to @channel and <url|text> to [text](url)."""
    for slack, markdown in ANNOUNCEMENTS:
        text = text.replace(slack, markdown)
    return SLACK_LINK.sub(r"[\2](\1)", text)


def go_value_string(value: Any) -> str:
    """Format a decoded JSON value the way Go's fmt %v prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value)


def slack_bool(value: Any) -> bool:
    """Read a SlackCompatibleBool: true, or the strings "true"/"TRUE"."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.lower() == "true"


def typed_field(raw: Any) -> dict | None:
    """Return a SlackAttachmentField with its value stringified, or None for a non-object."""
    if not isinstance(raw, dict):
        return None
    value = raw.get("value")
    field = {"title": raw.get("title") if isinstance(raw.get("title"), str) else "",
             "value": slack_text(go_value_string(value)) if value is not None else None,
             "short": slack_bool(raw.get("short", False))}
    return field


def typed_attachment(raw: Any) -> dict | None:
    """Return a model.MessageAttachment: known fields only, every one serialised, links converted."""
    if not isinstance(raw, dict):
        return None
    att: dict[str, Any] = {"id": raw.get("id") if isinstance(raw.get("id"), int) else 0}
    for key in ATTACHMENT_STRINGS:
        value = raw.get(key)
        att[key] = value if isinstance(value, str) else ""
    for key in ("pretext", "text"):
        att[key] = slack_text(att[key])
    fields = raw.get("fields")
    att["fields"] = [f for f in map(typed_field, fields) if f is not None] if isinstance(fields, list) else None
    att["ts"] = raw.get("ts")
    actions = raw.get("actions")
    if isinstance(actions, list) and actions:
        att["actions"] = actions
    return att


def typed_attachments(raw: Any) -> list[dict]:
    """Return the typed attachments of a payload's attachments list."""
    if not isinstance(raw, list):
        return []
    return [a for a in map(typed_attachment, raw) if a is not None]
