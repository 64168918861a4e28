"""Fakes and builders for the informing tests: a chat that records posts, timers that record what is armed,
and incidents and tasks written to a real SQLite file through the bot's own store functions."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bot.incidents.model import Incident, Severity, Status
from bot.mattermost.events import Post
from bot.store.db import Database
from bot.store.incidents import insert_incident

USERS = {"u-alice": "alice", "u-bob": "bob", "u-carol": "carol"}


def utc_ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp() * 1000)


@dataclass
class RecordingChat:
    """The two calls the digest makes, recorded."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    async def create_post(self, channel_id: str, message: str, *, root_id: str = "", props: dict | None = None,
                          pending_post_id: str | None = None) -> Post:
        post = Post(id=f"post-{next(self._ids)}", channel_id=channel_id, user_id="u-bot", message=message,
                    props=props or {})
        self.posts.append({"channel_id": channel_id, "message": message, "props": props or {}, "id": post.id})
        return post

    async def get_user(self, user_id: str) -> dict | None:
        return {"id": user_id, "username": USERS[user_id]} if user_id in USERS else None


class RecordingTimers:
    """Timers as a table of what is armed; a test fires a job by awaiting `fire`."""

    def __init__(self) -> None:
        self.jobs: dict[str, tuple[int, Any, tuple]] = {}

    def at(self, job_id: str, when_ms: int, func, *args) -> None:
        self.jobs[job_id] = (when_ms, func, args)

    def cancel(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    def due(self, job_id: str) -> int:
        return self.jobs[job_id][0]

    async def fire(self, job_id: str) -> None:
        _, func, args = self.jobs[job_id]
        await func(*args)


class Names:
    async def username(self, user_id: str) -> str:
        return USERS.get(user_id, "unknown")


async def add_incident(db: Database, title: str, *, severity: Severity = Severity.SEV2, status: Status = Status.OPEN,
                       created_at: int, commander_id: str = "u-alice", **fields: Any) -> Incident:
    async with db.transaction() as conn:
        return await insert_incident(conn, Incident(
            id=0, title=title, severity=severity, status=status, reporter_id="u-bob", commander_id=commander_id,
            created_at=created_at, updated_at=created_at, channel_id=f"ch-{title[:8].lower().replace(' ', '-')}",
            channel_name=f"inc-{title.lower().replace(' ', '-')}", **fields))
