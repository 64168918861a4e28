"""Curating the timeline from chat: pinning a post in an incident channel (or reacting with a chosen emoji)
puts it on the timeline; unpinning (or removing the reaction) takes it off again."""
from __future__ import annotations

import logging

from bot.clock import Clock
from bot.mattermost.events import Post, ReactionEvent
from bot.store import incidents as incident_store
from bot.store.db import Database
from bot.store.timeline import record

log = logging.getLogger(__name__)

EXCERPT = 300


class TimelineCuration:
    def __init__(self, db: Database, chat, clock: Clock, *, bot_user_id: str,
                 emojis: tuple[str, ...] = ("pushpin", "memo")):
        self.db = db
        self.chat = chat
        self.clock = clock
        self.bot_user_id = bot_user_id
        self.emojis = emojis

    async def post_changed(self, post: Post) -> None:
        """A post was edited: a pin or unpin in an incident channel changes the timeline."""
        if post.user_id == self.bot_user_id:
            return   # the bot's own pins (the summary, playbook posts) are on the timeline already
        await self._mark(post, "pin", post.is_pinned, actor_id="")

    async def reaction(self, event: ReactionEvent) -> None:
        if event.emoji_name not in self.emojis:
            return
        post = await self.chat.get_post(event.post_id)
        if post is not None:
            await self._mark(post, f"reaction:{event.emoji_name}", event.added, actor_id=event.user_id)

    async def _mark(self, post: Post, reason: str, on: bool, actor_id: str) -> None:
        incident = await incident_store.incident_for_channel(self.db, post.channel_id)
        if incident is None:
            return
        existing = await self.db.fetch_one(
            "SELECT id FROM timeline WHERE incident_id = ? AND kind = 'highlight' "
            "AND json_extract(data, '$.post_id') = ? AND json_extract(data, '$.reason') = ?",
            (incident.id, post.id, reason))
        async with self.db.transaction() as conn:
            if on and existing is None:
                await record(conn, incident.id, "highlight", at=post.create_at or self.clock.now_ms(),
                             actor_id=post.user_id, text=post.message[:EXCERPT],
                             data={"post_id": post.id, "reason": reason, "by": actor_id})
            elif not on and existing is not None:
                await conn.execute("DELETE FROM timeline WHERE id = ?", (existing["id"],))
