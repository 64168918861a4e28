"""Interactive message attachments as the server stores them: typed, with action ids, integrations hidden.

Mirrors model.Post.Attachments/GenerateActionIds/StripActionIntegrations/GetAction (server/public/model/post.go,
integration_action.go) and the JSON shape of model.MessageAttachment and model.PostAction.
"""
from __future__ import annotations

import copy
import logging
from typing import Any

from .ids import new_id
from .slack import slack_bool

log = logging.getLogger(__name__)

ATTACHMENT_STRINGS = ("fallback", "color", "pretext", "author_name", "author_link", "author_icon", "title",
                      "title_link", "text")
ATTACHMENT_TAIL_STRINGS = ("image_url", "thumb_url", "footer", "footer_icon")
ACTION_STRINGS = ("id", "type", "name", "style", "data_source", "default_option", "cookie")


class Undecodable(Exception):
    """A value that Go's json.Unmarshal refuses for the field's type (the attachment is then dropped)."""


def _string(value: Any) -> str:
    """Decode a Go string field: a JSON string, or null for ""."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Undecodable(value)
    return value


def _int64(value: Any) -> int:
    """Decode a Go int64 field: an integral JSON number, or null for 0."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise Undecodable(value)
    return value


def _object(value: Any) -> dict | None:
    """Decode a pointer-to-struct or map field: an object, or null."""
    if value is not None and not isinstance(value, dict):
        raise Undecodable(value)
    return value


def _list(value: Any) -> list | None:
    """Decode a slice field: an array, or null."""
    if value is not None and not isinstance(value, list):
        raise Undecodable(value)
    return value


def _field(raw: dict) -> dict:
    """Decode a MessageAttachmentField (title, value as sent, short as a SlackCompatibleBool)."""
    short = raw.get("short")
    if short is not None and not isinstance(short, (bool, str)):
        raise Undecodable(short)
    return {"title": _string(raw.get("title")), "value": raw.get("value"), "short": slack_bool(short)}


def _action(raw: dict) -> dict:
    """Decode a PostAction; every key is omitempty, so only set ones are kept."""
    action: dict[str, Any] = {}
    for key in ACTION_STRINGS[:3]:
        if value := _string(raw.get(key)):
            action[key] = value
    disabled = raw.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise Undecodable(disabled)
    if disabled:
        action["disabled"] = True
    for key in ACTION_STRINGS[3:5]:
        if value := _string(raw.get(key)):
            action[key] = value
    options = []
    for option in _list(raw.get("options")) or []:
        option = _object(option)
        options.append(None if option is None else
                       {"text": _string(option.get("text")), "value": _string(option.get("value"))})
    if options:
        action["options"] = options
    if value := _string(raw.get("default_option")):
        action["default_option"] = value
    integration = _object(raw.get("integration"))
    if integration is not None:
        typed: dict[str, Any] = {}
        if url := _string(integration.get("url")):
            typed["url"] = url
        if context := _object(integration.get("context")):
            typed["context"] = copy.deepcopy(context)
        action["integration"] = typed
    if value := _string(raw.get("cookie")):
        action["cookie"] = value
    return action


def _attachment(raw: dict | None) -> dict:
    """Decode one MessageAttachment (a null element decodes to the zero attachment)."""
    raw = raw or {}
    att: dict[str, Any] = {"id": _int64(raw.get("id"))}
    for key in ATTACHMENT_STRINGS:
        att[key] = _string(raw.get(key))
    fields = _list(raw.get("fields"))
    att["fields"] = None if fields is None else [_field(f) for f in map(_object, fields) if f is not None]
    for key in ATTACHMENT_TAIL_STRINGS:
        att[key] = _string(raw.get(key))
    att["ts"] = copy.deepcopy(raw.get("ts"))
    actions = [_action(a) for a in map(_object, _list(raw.get("actions")) or []) if a is not None]
    if actions:
        att["actions"] = actions
    return att


def typed_attachments(raw: list) -> list[dict]:
    """Return Post.Attachments(): each element round-tripped through MessageAttachment; undecodable ones dropped."""
    typed = []
    for element in raw:
        try:
            typed.append(_attachment(_object(element)))
        except Undecodable:
            log.debug("dropping an attachment Go could not decode: %.200r", element)
    return typed


def generate_action_ids(props: dict) -> None:
    """Type props.attachments in place and give every action without an id a new one (Post.PreCommit).

    The server also turns a non-list `attachments` into null; the sandbox leaves such values alone.
    """
    raw = props.get("attachments")
    if not isinstance(raw, list):
        return
    props["attachments"] = typed_attachments(raw)
    for attachment in props["attachments"]:
        for action in attachment.get("actions", []):
            if not action.get("id"):
                action["id"] = new_id()


def strip_integrations(props: dict) -> None:
    """Remove every action's integration in place (Post.StripActionIntegrations, applied to all client JSON)."""
    attachments = props.get("attachments")
    for attachment in attachments if isinstance(attachments, list) else []:
        for action in attachment.get("actions", []) if isinstance(attachment, dict) else []:
            if isinstance(action, dict):
                action.pop("integration", None)


def find_action(props: dict, action_id: str) -> dict | None:
    """Return the stored action with that id (Post.GetAction), or None."""
    attachments = props.get("attachments")
    for attachment in attachments if isinstance(attachments, list) else []:
        for action in attachment.get("actions", []) if isinstance(attachment, dict) else []:
            if isinstance(action, dict) and action.get("id") == action_id:
                return action
    return None


def comparable(attachments: Any) -> Any:
    """Return attachments in the form MessageAttachment.Equals compares (an action's style and disabled ignored)."""
    if not isinstance(attachments, list):
        return attachments
    out = copy.deepcopy(attachments)
    for attachment in out:
        for action in attachment.get("actions", []) if isinstance(attachment, dict) else []:
            if isinstance(action, dict):
                action.pop("style", None)
                action.pop("disabled", None)
    return out
