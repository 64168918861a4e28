"""What a command handler gets (the context) and gives back (replies)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from bot.incidents.model import Incident


@dataclass(frozen=True)
class CommandContext:
    """Who said what, where; and the incident of the channel, if it is an incident channel."""

    actor_id: str
    actor_username: str
    channel_id: str
    post_id: str
    thread_id: str
    is_direct: bool
    incident: Incident | None
    now: int


@dataclass(frozen=True)
class Reply:
    """A message to post. By default it goes to the command's thread; `channel_id` sends it elsewhere."""

    text: str
    channel_id: str = ""
    in_thread: bool = True
    files: tuple[tuple[str, bytes], ...] = ()   # (file name, content) attached to the message
    props: Mapping[str, Any] | None = None      # post props, like attachments with buttons
    ephemeral: bool = False                     # shown only to the person who asked
