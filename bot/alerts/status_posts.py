"""Each incident's alerts post: the list of its alerts in its channel, posted once and then edited.

In a storm an incident's alerts change many times a second; the post is edited at most once every
STATUS_POST_INTERVAL_S, and one post per call of `refresh`, so these edits stay a small share of the
bot's write budget.
"""
from __future__ import annotations

import asyncio
import logging

from bot.incidents.service import ChatAPI
from bot.mattermost.errors import MattermostError
from bot.store import alerts as alert_store
from bot.store import incidents as incident_store
from bot.store.db import Database
from bot.templates import Templates

log = logging.getLogger(__name__)

STATUS_POST_INTERVAL_S = 5.0   # an incident's alerts post is edited at most this often


class AlertsPosts:
    """Keeps the alerts post of each incident up to date with the alerts saved for it."""

    def __init__(self, db: Database, chat: ChatAPI, templates: Templates):
        self.db = db
        self.chat = chat
        self.templates = templates
        self._due: dict[int, float] = {}   # incident id -> since when its post is out of date (loop time)
        self._last_refresh: dict[int, float] = {}

    def changed(self, incident_ids: set[int]) -> None:
        """Note that these incidents' alerts changed (call once the change is committed)."""
        now = asyncio.get_running_loop().time()
        for incident_id in incident_ids:
            self._due.setdefault(incident_id, now)

    async def refresh(self, force: bool = False) -> None:
        """Refresh the alerts post of the incident whose turn it is (every out-of-date one if `force`)."""
        now = asyncio.get_running_loop().time()
        due = sorted((max(noted, self._last_refresh.get(i, 0.0) + STATUS_POST_INTERVAL_S), i)
                     for i, noted in self._due.items())
        for when, incident_id in due if force else due[:1]:
            if when > now and not force:
                break
            noted = self._due.pop(incident_id)   # alerts noted during the refresh schedule another
            try:
                done = await self._refresh_one(incident_id)
                if done:
                    self._last_refresh[incident_id] = now
            except MattermostError as exc:
                log.warning("could not refresh the alerts post of INC-%s: %s", incident_id, exc)
                self._last_refresh[incident_id] = now
                done = False
            if not done:
                self._due.setdefault(incident_id, noted)

    async def _refresh_one(self, incident_id: int) -> bool:
        """Post or edit the list of an incident's alerts; False while its channel is not there yet."""
        incident = await incident_store.get_incident(self.db, incident_id)
        if incident is None:
            return True
        if not incident.setup_done:
            return False
        text = self.templates.render("alerts_status", incident=incident,
                                     alerts=await alert_store.incident_alerts(self.db, incident_id))
        if incident.alerts_post_id:
            await self.chat.patch_post(incident.alerts_post_id, message=text)
            return True
        created = await self.chat.create_post(incident.channel_id, text,
                                              props={"incident_bot": {"incident": incident.id, "role": "alerts"}})
        async with self.db.transaction() as conn:
            await incident_store.update_fields(conn, incident.id, {"alerts_post_id": created.id})
        return True
