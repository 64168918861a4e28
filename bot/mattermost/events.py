"""Typed events: what the Mattermost adapter hands to the rest of the bot.

Only this module and the websocket/REST adapters know Mattermost's wire shapes (for example that
`data.post` is a JSON string). Everything past them sees these frozen dataclasses.
"""
from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

log = logging.getLogger(__name__)


class PostChange(enum.Enum):
    """What happened to a post."""

    POSTED = "posted"
    EDITED = "post_edited"
    DELETED = "post_deleted"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True)
class Post:
    """A Mattermost post, with wrong-typed fields replaced by empty values."""

    id: str
    channel_id: str
    user_id: str
    message: str = ""
    root_id: str = ""
    type: str = ""
    create_at: int = 0
    update_at: int = 0
    edit_at: int = 0
    delete_at: int = 0
    is_pinned: bool = False
    props: Mapping[str, Any] = field(default_factory=dict)
    file_ids: tuple[str, ...] = ()

    @property
    def thread_id(self) -> str:
        """The id of the thread's root: replies go there."""
        return self.root_id or self.id

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Post":
        props = data.get("props")
        file_ids = data.get("file_ids")
        return cls(
            id=_text(data.get("id")),
            channel_id=_text(data.get("channel_id")),
            user_id=_text(data.get("user_id")),
            message=_text(data.get("message")),
            root_id=_text(data.get("root_id")),
            type=_text(data.get("type")),
            create_at=_number(data.get("create_at")),
            update_at=_number(data.get("update_at")),
            edit_at=_number(data.get("edit_at")),
            delete_at=_number(data.get("delete_at")),
            is_pinned=data.get("is_pinned") is True,
            props=props if isinstance(props, dict) else {},
            file_ids=tuple(f for f in file_ids if isinstance(f, str)) if isinstance(file_ids, list) else (),
        )


@dataclass(frozen=True)
class PostEvent:
    """A post was created, edited or deleted (live from the websocket, or found by a REST catch-up)."""

    change: PostChange
    post: Post
    channel_type: str = ""
    channel_name: str = ""
    team_id: str = ""
    sender_name: str = ""
    mentions: tuple[str, ...] = ()
    caught_up: bool = False


@dataclass(frozen=True)
class ReactionEvent:
    """A reaction was added to or removed from a post."""

    added: bool
    user_id: str
    post_id: str
    emoji_name: str
    channel_id: str = ""


@dataclass(frozen=True)
class MembershipEvent:
    """A user was added to or removed from a channel."""

    added: bool
    user_id: str
    channel_id: str
    team_id: str = ""


@dataclass(frozen=True)
class ChannelEvent:
    """A channel was created, updated or deleted."""

    kind: str
    channel_id: str
    team_id: str = ""


@dataclass(frozen=True)
class Connected:
    """The websocket is (re)connected; `resumed` is False when events may have been lost."""

    connection_id: str
    user_id: str
    resumed: bool


Event = PostEvent | ReactionEvent | MembershipEvent | ChannelEvent | Connected


def _json_field(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Decode a field that Mattermost sends as a JSON string (tolerating an object)."""
    raw = data.get(key)
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def _mentions(data: Mapping[str, Any]) -> tuple[str, ...]:
    raw = data.get("mentions")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return ()
    return tuple(m for m in raw if isinstance(m, str)) if isinstance(raw, list) else ()


def event_from_frame(frame: Mapping[str, Any]) -> Event | None:
    """Turn one websocket event frame into a typed event, or None for events the bot ignores."""
    name = frame.get("event")
    data = frame.get("data")
    if not isinstance(data, dict):
        data = {}
    broadcast = frame.get("broadcast")
    if not isinstance(broadcast, dict):
        broadcast = {}
    if name in ("posted", "post_edited", "post_deleted"):
        post = Post.from_json(_json_field(data, "post"))
        if not post.id:
            return None
        return PostEvent(
            change=PostChange(name),
            post=post,
            channel_type=_text(data.get("channel_type")),
            channel_name=_text(data.get("channel_name")),
            team_id=_text(data.get("team_id")),
            sender_name=_text(data.get("sender_name")),
            mentions=_mentions(data),
        )
    if name in ("reaction_added", "reaction_removed"):
        reaction = _json_field(data, "reaction")
        return ReactionEvent(
            added=name == "reaction_added",
            user_id=_text(reaction.get("user_id")),
            post_id=_text(reaction.get("post_id")),
            emoji_name=_text(reaction.get("emoji_name")),
            channel_id=_text(reaction.get("channel_id")) or _text(broadcast.get("channel_id")),
        )
    if name in ("user_added", "user_removed"):
        return MembershipEvent(
            added=name == "user_added",
            user_id=_text(data.get("user_id")) or _text(broadcast.get("user_id")),
            channel_id=_text(broadcast.get("channel_id")) or _text(data.get("channel_id")),
            team_id=_text(data.get("team_id")),
        )
    if name in ("channel_created", "channel_updated", "channel_deleted"):
        channel = _json_field(data, "channel")
        return ChannelEvent(
            kind=name,
            channel_id=_text(data.get("channel_id")) or _text(channel.get("id")),
            team_id=_text(data.get("team_id")) or _text(channel.get("team_id")),
        )
    return None
