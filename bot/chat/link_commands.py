"""`link <post link>`: put a post from any channel on the incident's timeline by hand."""
from __future__ import annotations

import re
from typing import Any, Protocol

from bot.alerts.parsers.post_content import searchable_text
from bot.chat.commands import CommandSpec
from bot.chat.context import CommandContext, Reply
from bot.chat.parsing import BadArguments
from bot.clock import Clock
from bot.incidents.funnel import excerpt, quiet
from bot.mattermost.errors import MattermostError
from bot.mattermost.events import Post
from bot.store.db import Database
from bot.store.timeline import record
from bot.users import UserDirectory

_POST_ID = re.compile(r"[a-z0-9]{26}")
_PERMALINK = re.compile(r"https?://[^\s/]+(?:/[^\s?#]*)?/pl/(?P<id>[a-z0-9]{26})(?:[/?#]\S*)?")
TIMELINE_TEXT = 300


class PostReader(Protocol):
    async def get_post_data(self, post_id: str) -> dict[str, Any] | None: ...
    async def get_channel(self, channel_id: str) -> dict[str, Any] | None: ...
    async def is_channel_member(self, channel_id: str, user_id: str) -> bool: ...


def post_id_from(text: str) -> str | None:
    """The post id in a permalink (`https://host/<team>/pl/<id>`, maybe with a query) or a bare id; else None."""
    text = text.strip().strip("<>")
    if _POST_ID.fullmatch(text):
        return text
    match = _PERMALINK.fullmatch(text)
    return match.group("id") if match else None


class LinkCommands:
    def __init__(self, db: Database, chat: PostReader, users: UserDirectory, clock: Clock, *, site_url: str,
                 team_name: str, bot_username: str):
        self.db = db
        self.chat = chat
        self.users = users
        self.clock = clock
        self.site_url = site_url.rstrip("/")
        self.team_name = team_name
        self.bot_username = bot_username
        self.specs = [
            CommandSpec("link", "link <post link or post id>",
                        "Add a post from any channel (and the size of its thread) to the timeline.", self.link,
                        in_incident=True),
        ]

    async def link(self, ctx: CommandContext, args: str) -> list[Reply]:
        post_id = post_id_from(args)
        if post_id is None:
            raise BadArguments("Give me a post's link (the post's ⋯ menu → Copy Link) or its 26-character id.")
        try:
            data = await self.chat.get_post_data(post_id)
        except MattermostError as exc:
            if exc.status not in (401, 403):
                raise
            data = None
        if data is None:
            return [Reply(f":warning: I cannot read that post: it was deleted, or it is in a channel I am not in. "
                          f"Add me to that channel (`/invite @{self.bot_username}`) and link it again.")]
        post = Post.from_json(data)
        if not await self._may_read(post.channel_id, ctx.actor_id):
            # The bot reads more than the person asking: never copy a private conversation into the incident.
            return [Reply(":no_entry_sign: That post is in a private channel or conversation you are not in, so "
                          "I will not copy it here.")]
        incident = ctx.incident
        linked = await self.db.fetch_one(
            "SELECT 1 FROM timeline WHERE incident_id = ? AND kind = 'linked_post' "
            "AND json_extract(data, '$.post_id') = ?", (incident.id, post.id))
        if linked is not None:
            return [Reply(f"That post is on {incident.key}'s timeline already.")]
        author, channel = await self._author(post), await self._channel(post.channel_id)
        replies = data.get("reply_count") if isinstance(data.get("reply_count"), int) else 0
        thread = replies + 1 if post.root_id or replies else 0   # a root or a reply: its whole thread
        text = excerpt(searchable_text(post), TIMELINE_TEXT) or "(no text)"
        permalink = f"{self.site_url}/{self.team_name}/pl/{post.id}"
        async with self.db.transaction() as conn:
            await record(conn, incident.id, "linked_post", at=self.clock.now_ms(), actor_id=ctx.actor_id,
                         text=f"{author} in {channel}: {text}",
                         data={"post_id": post.id, "channel_id": post.channel_id, "channel": channel,
                               "author": author, "author_id": post.user_id, "permalink": permalink,
                               "posted_at": post.create_at, "thread_size": thread, "by": ctx.actor_username})
        in_thread = f", in a thread of {thread} posts" if thread else ""
        return [Reply(f":link: Linked {quiet(author)}'s post in {channel}{in_thread} to {incident.key}'s timeline: "
                      f"[{quiet(excerpt(text, 80))}]({permalink})")]

    async def _may_read(self, channel_id: str, user_id: str) -> bool:
        """Anyone in the team may read a public channel; other channels only their members."""
        try:
            channel = await self.chat.get_channel(channel_id) or {}
            return channel.get("type") == "O" or await self.chat.is_channel_member(channel_id, user_id)
        except MattermostError:
            return False

    async def _author(self, post: Post) -> str:
        override = post.props.get("override_username")
        if post.props.get("from_webhook") == "true" and isinstance(override, str) and override.strip():
            return override.strip()
        return await self.users.username(post.user_id)

    async def _channel(self, channel_id: str) -> str:
        """`~name` for a channel, or what kind of conversation it is."""
        try:
            channel = await self.chat.get_channel(channel_id) or {}
        except MattermostError:
            channel = {}
        if channel.get("type") in ("D", "G"):
            return "a direct message"
        return f"~{channel['name']}" if channel.get("name") else "another channel"
