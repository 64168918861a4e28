"""The running bot: reads Mattermost events, handles each post once, and keeps its channels in sync."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from bot.alerts.service import AlertService
from bot.chat.context import CommandContext, Reply
from bot.chat.parsing import command_text
from bot.chat.router import CommandRouter
from bot.clock import Clock
from bot.incidents.curation import TimelineCuration
from bot.incidents.related import RelatedActivity
from bot.incidents.service import IncidentService, Team
from bot.mattermost.errors import MattermostError
from bot.mattermost.events import Connected, Event, MembershipEvent, Post, PostChange, PostEvent, ReactionEvent
from bot.mattermost.rest import MattermostRest
from bot.mattermost.websocket import WebsocketListener
from bot.store import incidents as incident_store
from bot.store import posts as post_store
from bot.store.db import Database
from bot.users import UserDirectory
from bot.workflow.engine import PlaybookEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """Who the bot is on the server, and where it works."""

    user_id: str
    username: str
    team: Team
    watched_channel_ids: tuple[str, ...]


class Bot:
    """Reads events, handles posts once each, and keeps its channels in sync after reconnects."""

    def __init__(self, *, db: Database, rest: MattermostRest, listener: WebsocketListener, identity: Identity,
                 router: CommandRouter, incidents: IncidentService, alerts: AlertService, users: UserDirectory,
                 clock: Clock, engine: PlaybookEngine | None = None,
                 services: dict[str, Callable[[], Awaitable[None]]] | None = None):
        self.db = db
        self.rest = rest
        self.listener = listener
        self.identity = identity
        self.router = router
        self.incidents = incidents
        self.alerts = alerts
        self.users = users
        self.clock = clock
        self.services = services or {}
        self.engine = engine
        self.curation: TimelineCuration | None = None
        self.related: RelatedActivity | None = None   # posts in its channels go there too
        self.started_at = clock.now_ms()
        self.synced = asyncio.Event()
        self.http_url = ""
        self._channel_is_direct: dict[str, bool] = {}
        self._cursors: dict[str, int] = {}
        self._followed: set[str] = set()   # channels whose cursor is in the database

    async def run(self) -> None:
        """Run the websocket reader, the event handler and the other inputs until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.listener.run(), name="websocket")
            group.create_task(self._handle_events(), name="events")
            group.create_task(self.alerts.run_background(), name="alert-upkeep")
            group.create_task(self._keep_cursors(), name="cursors")
            for name, service in self.services.items():
                group.create_task(service(), name=name)

    async def _handle_events(self) -> None:
        while True:
            event = await self.listener.events.get()
            try:
                await self.handle(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("failed to handle %s", type(event).__name__)

    async def handle(self, event: Event) -> None:
        if isinstance(event, Connected):
            if not event.resumed:
                await self.catch_up()
            self.synced.set()
        elif isinstance(event, PostEvent) and event.change is PostChange.POSTED:
            if event.channel_type:
                self._channel_is_direct[event.post.channel_id] = event.channel_type == "D"
            if event.sender_name.startswith("@"):
                self.users.remember(event.post.user_id, event.sender_name[1:])
            await self.handle_post(event.post)
        elif isinstance(event, PostEvent) and event.change is PostChange.EDITED:
            await self.handle_edit(event.post)
            if self.curation is not None:
                await self.curation.post_changed(event.post)
        elif isinstance(event, ReactionEvent) and self.curation is not None:
            await self.curation.reaction(event)
        elif isinstance(event, MembershipEvent) and event.added and self.engine is not None:
            incident = await incident_store.incident_for_channel(self.db, event.channel_id)
            if incident is not None:
                await self.engine.welcome(incident, event.user_id)

    async def handle_edit(self, post: Post) -> None:
        """An edited post in a watched channel may carry a new alert state (Zabbix edits its post on recovery)."""
        if post.channel_id in self.identity.watched_channel_ids and post.edit_at and not post.delete_at \
                and not self._is_own(post):
            await self.alerts.handle_post(post)

    async def catch_up(self) -> None:
        """Handle posts that arrived while the websocket was down (or the bot was stopped)."""
        await self._finish_interrupted_setups()
        await self.save_cursors()
        cursors = await post_store.cursors(self.db)
        self._followed.update(cursors)
        channels = set(cursors) | set(self.identity.watched_channel_ids)
        channels |= set(await incident_store.incident_channel_ids(self.db))
        if self.related is not None:
            channels |= set(self.related.channel_ids)
        try:
            channels |= {c["id"] for c in await self.rest.get_my_channels(self.identity.team.id)}
        except MattermostError as exc:
            log.warning("could not list the bot's channels: %s", exc)
        # A channel without a cursor of its own is read from the last moment the bot saw anything at all
        # (posts made there while the bot was down are meant for it), or from this start on a first run.
        default_since = cursors.pop(post_store.ANY_CHANNEL, self.started_at)
        channels.discard(post_store.ANY_CHANNEL)
        for channel_id in sorted(channels):
            since = cursors.get(channel_id, default_since)
            try:
                posts = await self.rest.get_posts_since(channel_id, since)
            except MattermostError as exc:
                log.warning("could not catch up channel %s: %s", channel_id, exc)
                continue
            new_posts = [p for p in posts if p.create_at > since and not p.delete_at]
            if new_posts:
                log.info("catching up %d post(s) in channel %s", len(new_posts), channel_id)
            for post in new_posts:
                await self.handle_post(post)
                if post.edit_at:
                    await self.handle_edit(post)
            for post in posts:
                if post.create_at <= since and post.edit_at > since:
                    await self.handle_edit(post)
            if channel_id not in cursors:
                self._cursors.setdefault(channel_id, since)

    async def _finish_interrupted_setups(self) -> None:
        for incident in await incident_store.unfinished_setups(self.db):
            log.info("finishing the interrupted setup of %s", incident.key)
            try:
                await self.incidents.complete_setup(incident)
            except MattermostError as exc:
                log.warning("could not finish the setup of %s yet: %s", incident.key, exc)

    async def handle_post(self, post: Post) -> None:
        """Handle one post exactly once: commands get answered, alert posts go to the alert pipeline.

        Commands are de-duplicated by the handled-posts table, alert posts by the alert pipeline's own
        record; other posts need nothing. Every post moves its channel's catch-up cursor once it is
        handled (or queued by the alert pipeline, which holds the cursor back until it is saved).
        """
        try:
            await self._handle_post_once(post)
        except Exception:        # a failed post is not retried; a cancelled one (a stop) must be read again
            await self._seen(post)
            raise
        await self._seen(post)

    async def _handle_post_once(self, post: Post) -> None:
        if self._is_own(post) or post.type.startswith("system_"):
            return
        command = command_text(post.message, self.identity.username, await self._is_direct(post.channel_id))
        if command is None:
            if post.channel_id in self.identity.watched_channel_ids:
                await self.alerts.handle_post(post)
            if self.related is not None:
                await self.related.on_post(post)
            return
        if await post_store.is_handled(self.db, post.id):
            return
        replies = await self._run_command(post, command)
        async with self.db.transaction() as conn:
            await post_store.mark_handled(conn, post.id, post.channel_id, self.clock.now_ms())
        for reply in replies:
            await self._send(post, reply)

    async def _seen(self, post: Post) -> None:
        """Move the channel's cursor; the first post seen in a channel is written at once, later ones in batches."""
        update_at = max(post.update_at, post.create_at)
        if update_at > self._cursors.get(post.channel_id, 0):
            self._cursors[post.channel_id] = update_at
        if post.channel_id not in self._followed:
            await self.save_cursors()

    async def save_cursors(self) -> None:
        """Write the channels' catch-up cursors (batched: a crash re-reads at most a moment of posts).

        A cursor stops short of any alert post the alert pipeline has not saved yet; the rest waits for a later save.
        """
        cursors, self._cursors = self._cursors, {}
        for channel_id, update_at in list(cursors.items()):
            limit = self.alerts.cursor_limit(channel_id)   # an alert post there is not saved yet
            if limit is not None and update_at > limit:
                cursors[channel_id] = limit
                self._cursors[channel_id] = max(update_at, self._cursors.get(channel_id, 0))   # saved later
        self._followed.update(cursors)
        if cursors:
            async with self.db.transaction() as conn:
                for channel_id, update_at in cursors.items():
                    await post_store.advance_cursor(conn, channel_id, update_at)
                await post_store.advance_cursor(conn, post_store.ANY_CHANNEL, max(cursors.values()))

    async def _keep_cursors(self, interval: float = 0.5) -> None:
        try:
            while True:
                await asyncio.sleep(interval)
                await self.save_cursors()
        finally:
            await asyncio.shield(self.save_cursors())

    def _is_own(self, post: Post) -> bool:
        """The bot's own posts; a webhook the bot account owns posts for others, so those count as theirs."""
        return post.user_id == self.identity.user_id and post.props.get("from_webhook") != "true"

    async def _run_command(self, post: Post, command) -> list[Reply]:
        ctx = CommandContext(
            actor_id=post.user_id, actor_username=await self.users.username(post.user_id),
            channel_id=post.channel_id, post_id=post.id, thread_id=post.thread_id,
            is_direct=await self._is_direct(post.channel_id),
            incident=await incident_store.incident_for_channel(self.db, post.channel_id),
            now=self.clock.now_ms())
        try:
            return await self.router.dispatch(ctx, command)
        except MattermostError as exc:
            log.warning("command %r in post %s failed: %s", command.verb, post.id, exc)
            return [Reply(f":x: I could not finish `{command.verb}`: Mattermost answered {exc}. "
                          "I will retry what was left undone when the connection is back.")]
        except Exception:
            log.exception("command %r in post %s failed", command.verb, post.id)
            return [Reply(f":x: Something went wrong while handling `{command.verb}`; the details are in my log.")]

    async def send_to_channel(self, channel_id: str, reply: Reply) -> None:
        """Post a reply that answers no post (a slash command's)."""
        await self.deliver(reply, channel_id=reply.channel_id or channel_id, root_id="", user_id="")

    async def _send(self, post: Post, reply: Reply) -> None:
        channel_id = reply.channel_id or post.channel_id
        root_id = post.thread_id if reply.in_thread and channel_id == post.channel_id else ""
        await self.deliver(reply, channel_id=channel_id, root_id=root_id, user_id=post.user_id)

    async def deliver(self, reply: Reply, *, channel_id: str, root_id: str, user_id: str) -> None:
        """Post a reply; an ephemeral one is shown to `user_id` only."""
        try:
            if reply.ephemeral and user_id and not reply.files:
                await self.rest.show_privately(user_id, channel_id, reply.text, root_id=root_id,
                                               props=dict(reply.props or {}), bot_user_id=self.identity.user_id)
                return
            file_ids = [await self.rest.upload_file(channel_id, name, data) for name, data in reply.files]
            await self.rest.create_post(channel_id, reply.text, root_id=root_id, file_ids=file_ids,
                                        props=dict(reply.props) if reply.props else None)
        except MattermostError as exc:
            log.warning("could not post a reply in %s: %s", channel_id, exc)

    async def _is_direct(self, channel_id: str) -> bool:
        if channel_id not in self._channel_is_direct:
            channel = await self.rest.get_channel(channel_id)
            self._channel_is_direct[channel_id] = bool(channel) and channel.get("type") == "D"
        return self._channel_is_direct[channel_id]
