"""Related activity: posts and alerts that relate to an open incident are noted, then posted to its channel as
one digest per coalesce window, and recorded on its timeline.

Noting is idempotent (one row per incident and item), so catch-up re-reads and restarts add nothing twice;
items not digested yet survive a restart and are digested after it.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.alerts.model import Alert
from bot.clock import Clock
from bot.incidents.funnel import (
    RelatedItem, alert_item, digest, incidents_for_alert, incidents_for_post, is_due, post_item,
)
from bot.incidents.funnel_config import FunnelConfig
from bot.incidents.model import Status
from bot.incidents.service import Team
from bot.mattermost.errors import MattermostError
from bot.mattermost.events import Post
from bot.store import incidents as incident_store
from bot.store import related as related_store
from bot.store.db import Database
from bot.store.timeline import record
from bot.templates import Templates
from bot.users import UserDirectory

log = logging.getLogger(__name__)

IDLE_S = 1.0            # the longest the flusher sleeps between looks at pending items
RETRY_S = 10.0          # after Mattermost refused a digest, wait this long before the next try
TIMELINE_ITEMS = 50     # at most this many items are listed in a digest's timeline entry
TIMELINE_TEXT = 300


class RelatedActivity:
    """Notes related posts and alerts on open incidents, and posts one digest per incident per window."""

    def __init__(self, db: Database, chat: Any, users: UserDirectory, templates: Templates, clock: Clock, *,
                 config: FunnelConfig, team: Team, site_url: str, bot_user_id: str):
        self.db = db
        self.chat = chat
        self.users = users
        self.templates = templates
        self.clock = clock
        self.config = config
        self.team = team
        self.site_url = site_url.rstrip("/")
        self.bot_user_id = bot_user_id
        self.channel_ids: dict[str, str] = {}      # id -> name of the channels the rules watch
        self._channel_names: dict[str, str] = {}   # other channels' names, looked up once
        self._wake = asyncio.Event()
        self._retry_at: dict[int, float] = {}

    async def connect(self) -> None:
        """Find the rules' channels and join them; a channel the bot cannot see is logged and skipped."""
        for name in self.config.channels:
            try:
                channel = await self.chat.get_channel_by_name(self.team.id, name)
                if channel is not None:
                    await self.chat.add_channel_member(channel["id"], self.bot_user_id)
            except MattermostError as exc:
                log.warning("funnel: could not join channel %r (%s); skipping it", name, exc)
                continue
            if channel is None:
                log.warning("funnel: no channel %r in team %s that the bot can see; skipping it", name, self.team.name)
                continue
            self.channel_ids[channel["id"]] = name

    def permalink(self, post_id: str) -> str:
        return f"{self.site_url}/{self.team.name}/pl/{post_id}"

    # ------------------------------------------------------------------ inputs
    async def on_post(self, post: Post) -> None:
        """A post in a watched channel: note it on the open incidents it relates to. Never raises."""
        channel_name = self.channel_ids.get(post.channel_id)
        if channel_name is None:
            return
        try:
            author = await self.author(post)
            found = incidents_for_post(self.config.rules, post, channel_name=channel_name,
                                       authors=frozenset({author, await self.users.username(post.user_id)}),
                                       incidents=await related_store.open_incidents(self.db),
                                       bot_user_id=self.bot_user_id)
            await self._note([(incident.id, post_item(rule, post, channel_name=channel_name, author=author,
                                                      permalink=self.permalink(post.id)))
                              for incident, rule in found])
        except Exception:
            log.exception("funnel: could not handle post %s", post.id)

    async def on_alert(self, alert: Alert, post: Post | None, own: set[int]) -> None:
        """An alert from any source: note it on the open incidents whose labels it shares. Never raises."""
        if not any(rule.alerts for rule in self.config.rules):
            return
        try:
            found = incidents_for_alert(self.config.rules, alert, incidents=await related_store.open_incidents(self.db),
                                        own=frozenset(own))
            if not found:
                return
            channel_name = await self._channel_name(post.channel_id) if post else ""
            permalink = self.permalink(post.id) if post else ""
            now = self.clock.now_ms()
            await self._note([(incident.id, alert_item(rule, alert, at=post.create_at if post else now, post=post,
                                                       channel_name=channel_name, permalink=permalink))
                              for incident, rule in found])
        except Exception:
            log.exception("funnel: could not handle alert %s", alert.fingerprint)

    async def author(self, post: Post) -> str:
        """Who a post is from: a webhook's override name, else its account's username."""
        override = post.props.get("override_username")
        if post.props.get("from_webhook") == "true" and isinstance(override, str) and override.strip():
            return override.strip().lower()
        return await self.users.username(post.user_id)

    async def _channel_name(self, channel_id: str) -> str:
        if channel_id in self.channel_ids:
            return self.channel_ids[channel_id]
        if channel_id not in self._channel_names:
            channel = await self.chat.get_channel(channel_id)
            self._channel_names[channel_id] = (channel or {}).get("name", "")
        return self._channel_names[channel_id]

    async def _note(self, found: list[tuple[int, RelatedItem]]) -> None:
        if not found:
            return
        now = self.clock.now_ms()
        async with self.db.transaction() as conn:
            added = [await related_store.add_item(conn, incident_id, item, now) for incident_id, item in found]
        if any(added):
            self._wake.set()

    # ------------------------------------------------------------------ digests
    async def run(self) -> None:
        """Post digests as their windows close, until cancelled."""
        while True:
            self._wake.clear()
            try:
                delay = await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("funnel: posting digests failed")
                delay = IDLE_S
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass

    async def flush(self) -> float:
        """Digest every incident whose window has closed; return how long until the next one may."""
        now, loop_now = self.clock.now_ms(), asyncio.get_running_loop().time()
        next_in = IDLE_S
        for incident_id, first in (await related_store.pending_incidents(self.db)).items():
            if is_due(first, now, self.config.coalesce) and self._retry_at.get(incident_id, 0.0) <= loop_now:
                await self._digest(incident_id)
            else:
                next_in = min(next_in, (first + self.config.coalesce * 1000 - now) / 1000)
        return max(0.05, next_in)

    async def _digest(self, incident_id: int) -> None:
        """Post one digest of the incident's pending items and record it; a resolved incident's are only recorded."""
        incident = await incident_store.get_incident(self.db, incident_id)
        rows = await related_store.pending_items(self.db, incident_id)
        if incident is None or not rows:
            return
        resolved = incident.status is Status.RESOLVED
        if not resolved and not incident.setup_done:
            return   # its channel is not ready yet; the items wait
        ids, items = [row_id for row_id, _ in rows], [item for _, item in rows]
        post_id = ""
        if not resolved:
            text = self.templates.render("related_activity", incident=incident, digest=digest(items))
            try:
                posted = await self.chat.create_post(incident.channel_id, text,
                                                     pending_post_id=f"{self.bot_user_id}:rel{incident.id}:{ids[-1]}")
            except MattermostError as exc:
                log.warning("funnel: could not post the digest of %s (%s); retrying in %.0fs",
                            incident.key, exc, RETRY_S)
                self._retry_at[incident_id] = asyncio.get_running_loop().time() + RETRY_S
                return
            post_id = posted.id
        async with self.db.transaction() as conn:
            await related_store.mark_digested(conn, ids)
            await record(conn, incident.id, "related_activity", at=self.clock.now_ms(), text=_summary(items),
                         data={"count": len(items), "post_id": post_id, "items": [
                             {"author": i.author, "channel": i.channel_name, "excerpt": i.excerpt,
                              "link": i.permalink, "key": i.key} for i in items[:TIMELINE_ITEMS]]})


def _summary(items: list[RelatedItem]) -> str:
    """The timeline text of a digest: how many, then the first few, cut to TIMELINE_TEXT characters."""
    parts = [f"{i.author}{' in ~' + i.channel_name if i.channel_name else ''}: {i.excerpt}" for i in items[:5]]
    text = f"{len(items)} related: " + "; ".join(parts)
    return text if len(text) <= TIMELINE_TEXT else text[:TIMELINE_TEXT - 1] + "…"
