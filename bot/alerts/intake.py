"""The alert pipeline's queue: what waits to be decided, and what is accepted but not saved yet.

Posts from watched channels and alerts from MQTT or HTTP are queued in arrival order and taken in
batches (see `AlertService`). Until a post's batch is committed its version is in flight: a second
copy of it (a catch-up re-read) is not queued again, and its channel's catch-up cursor is held just
before it (`cursor_limit`), so a crash before the commit re-reads it.
"""
from __future__ import annotations

import asyncio
from collections import Counter, deque
from dataclasses import dataclass

from bot.alerts.model import Alert
from bot.mattermost.events import Post


@dataclass(frozen=True)
class Work:
    """One thing to handle: a version of a post in a watched channel, or alerts from MQTT or HTTP."""

    post: Post | None = None
    alerts: tuple[Alert, ...] = ()
    done: asyncio.Future[None] | None = None   # resolved once its writes are committed (MQTT and HTTP wait)

    @property
    def version(self) -> tuple[str, int]:
        """The post version this work is about: (post id, edit_at)."""
        assert self.post is not None
        return self.post.id, self.post.edit_at


def catch_up_mark(post: Post) -> int:
    """The time a catch-up must read from (exclusive) to see this version again: its creation, or its edit."""
    return post.edit_at or post.create_at


class AlertQueue:
    """Work in arrival order, with the post versions in flight and the catch-up marks they hold."""

    def __init__(self) -> None:
        self._waiting: deque[Work] = deque()
        self._arrived = asyncio.Event()
        self._in_flight: set[tuple[str, int]] = set()
        self._marks: dict[str, Counter[int]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def offer_post(self, post: Post) -> bool:
        """Queue a post version unless it is queued or being handled already; False when it was."""
        key = (post.id, post.edit_at)
        if key in self._in_flight:
            return False
        self._in_flight.add(key)
        self._marks.setdefault(post.channel_id, Counter())[catch_up_mark(post)] += 1
        self.put(Work(post=post))
        return True

    def put(self, work: Work) -> None:
        self._waiting.append(work)
        self._arrived.set()

    async def take(self, limit: int) -> list[Work]:
        """Wait for work, then take what is waiting, oldest first, up to `limit` items."""
        while not self._waiting:
            self._arrived.clear()
            await self._arrived.wait()
        return [self._waiting.popleft() for _ in range(min(limit, len(self._waiting)))]

    def finish(self, work: Work, error: BaseException | None = None) -> None:
        """Forget handled work (saved, or failed for good) and tell whoever waits for it."""
        if work.post is not None:
            self._in_flight.discard(work.version)
            marks = self._marks.get(work.post.channel_id)
            if marks is not None:
                mark = catch_up_mark(work.post)
                marks[mark] -= 1
                if marks[mark] <= 0:
                    del marks[mark]
                if not marks:
                    del self._marks[work.post.channel_id]
        if work.done is not None and not work.done.done():
            if error is None:
                work.done.set_result(None)
            else:
                work.done.set_exception(error)

    def cursor_limit(self, channel_id: str) -> int | None:
        """The furthest a channel's catch-up cursor may be saved: just before its oldest post in flight."""
        marks = self._marks.get(channel_id)
        return min(marks) - 1 if marks else None
