"""Websocket events: the broadcast envelope and the per-recipient rendering of a frame."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


def compact(value: Any) -> str:
    """Serialise value as Go's json.Marshal does (no spaces), for fields sent as JSON strings."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Event:
    """A server event and who it is broadcast to (model.WebSocketEvent + WebsocketBroadcast)."""

    name: str
    data: dict = field(default_factory=dict)
    user_id: str = ""
    channel_id: str = ""
    team_id: str = ""
    omit_users: frozenset[str] = frozenset()
    connection_id: str = ""
    omit_connection_id: str = ""
    sanitized: bool = False          # contains_sanitized_data: only non-admins receive it
    sensitive: bool = False          # contains_sensitive_data: only admins receive it
    mentions: frozenset[str] = frozenset()   # add_mentions broadcast hook: who gets data.mentions

    def broadcast_json(self) -> dict:
        """Return the broadcast object as sent (hooks stripped, omitempty flags only when true)."""
        broadcast: dict[str, Any] = {
            "omit_users": {u: True for u in sorted(self.omit_users)} or None,
            "user_id": self.user_id, "channel_id": self.channel_id, "team_id": self.team_id,
            "connection_id": self.connection_id, "omit_connection_id": self.omit_connection_id,
        }
        if self.sanitized:
            broadcast["contains_sanitized_data"] = True
        if self.sensitive:
            broadcast["contains_sensitive_data"] = True
        return broadcast

    def frame_for(self, recipient_id: str) -> dict:
        """Return the frame (without seq) one recipient gets, after the per-connection hooks."""
        data = dict(self.data)
        if recipient_id in self.mentions:
            data["mentions"] = compact([recipient_id])
        return {"event": self.name, "data": data, "broadcast": self.broadcast_json()}


def hello_event(user_id: str, connection_id: str, server_version: str) -> Event:
    """Return the hello event a newly registered connection receives first."""
    return Event("hello", {"server_version": server_version, "connection_id": connection_id,
                           "server_hostname": "sandbox"}, user_id=user_id)
