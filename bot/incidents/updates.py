"""Keeping people informed: status-update reminders on the playbook's cadence, snoozing them, and
sending each status update to the stakeholder channels and the incident's followers."""
from __future__ import annotations

import logging

from bot.clock import Clock, format_duration
from bot.incidents.model import Action, Incident, Status
from bot.mattermost.errors import MattermostError
from bot.store import incidents as incident_store
from bot.store.db import Database
from bot.store.timeline import record
from bot.users import UserDirectory
from bot.workflow.library import PlaybookLibrary
from bot.workflow.timers import Timers

log = logging.getLogger(__name__)


class StatusUpdates:
    def __init__(self, db: Database, chat, library: PlaybookLibrary, timers: Timers, clock: Clock,
                 users: UserDirectory, *, team_id: str, bot_user_id: str):
        self.db = db
        self.chat = chat
        self.library = library
        self.timers = timers
        self.clock = clock
        self.users = users
        self.team_id = team_id
        self.bot_user_id = bot_user_id

    def cadence_s(self, incident: Incident) -> int:
        """Seconds between status updates for this incident's severity; 0 when its playbook asks for none."""
        playbook = self.library.get(incident.playbook) if incident.playbook else None
        return playbook.status_updates.get(incident.severity, 0) if playbook else 0

    async def resume(self) -> None:
        """Re-arm the reminders of open incidents after a restart."""
        for incident in await incident_store.list_incidents(self.db):
            if incident.update_due_at and incident.status is not Status.RESOLVED:
                self._arm(incident.id, incident.update_due_at)

    async def start(self, incident: Incident) -> None:
        """The first reminder comes one interval after the incident opened."""
        interval = self.cadence_s(incident)
        if interval and incident.update_due_at is None:
            await self._due(incident, incident.created_at + interval * 1000)

    async def snooze(self, incident: Incident, seconds: int, actor_id: str) -> int:
        """Put the next reminder off; returns when it is due."""
        due = self.clock.now_ms() + seconds * 1000
        await self._due(incident, due)
        async with self.db.transaction() as conn:
            await record(conn, incident.id, "reminder_snoozed", at=self.clock.now_ms(), actor_id=actor_id,
                         text=format_duration(seconds * 1000))
        return due

    async def on_change(self, incident: Incident, action: Action, text: str, actor_id: str) -> None:
        """After an update: the next reminder moves, and the update goes to stakeholders and followers."""
        if action is Action.RESOLVE:
            self.timers.cancel(f"status:{incident.id}")
        if action is Action.UPDATE:
            interval = self.cadence_s(incident)
            if interval:
                await self._due(incident, self.clock.now_ms() + interval * 1000)
        if action in (Action.UPDATE, Action.RESOLVE):
            await self._broadcast(incident, action, text, actor_id)

    async def remind(self, incident_id: int) -> None:
        """The timer fired: remind the commander if no update came in time, then wait another interval."""
        incident = await incident_store.get_incident(self.db, incident_id)
        if incident is None or incident.status is Status.RESOLVED or not incident.update_due_at:
            return
        now = self.clock.now_ms()
        if incident.update_due_at > now:
            self._arm(incident.id, incident.update_due_at)
            return
        interval = self.cadence_s(incident) or 1800
        commander = await self.users.username(incident.commander_id)
        await self.chat.create_post(incident.channel_id, (
            f":hourglass: @{commander}, {incident.key} is due a status update. Post one with "
            f"`@incident-bot update <what changed>`, or put this off with `@incident-bot snooze 30m`."))
        async with self.db.transaction() as conn:
            await record(conn, incident.id, "update_reminder", at=now, actor_id=self.bot_user_id, text=f"@{commander}")
        await self._due(incident, now + interval * 1000)

    async def follow(self, incident: Incident, user_id: str, following: bool) -> bool:
        """Start or stop sending someone the incident's updates; False when nothing changed."""
        async with self.db.transaction() as conn:
            if following:
                cursor = await conn.execute("INSERT OR IGNORE INTO incident_followers VALUES (?, ?)",
                                            (incident.id, user_id))
            else:
                cursor = await conn.execute("DELETE FROM incident_followers WHERE incident_id = ? AND user_id = ?",
                                            (incident.id, user_id))
            changed = cursor.rowcount == 1
            if changed:
                await record(conn, incident.id, "followed" if following else "unfollowed", at=self.clock.now_ms(),
                             actor_id=user_id)
        return changed

    async def _broadcast(self, incident: Incident, action: Action, text: str, actor_id: str) -> None:
        actor = await self.users.username(actor_id)
        what = "Status update" if action is Action.UPDATE else "Resolved"
        message = f"**{what} on {incident.key}: {incident.title}** ({incident.severity.label}) by @{actor}:\n> {text}"
        playbook = self.library.get(incident.playbook) if incident.playbook else None
        for name in playbook.broadcast if playbook else ():
            channel = await self.chat.get_channel_by_name(self.team_id, name)
            if channel is None:
                log.warning("%s: no broadcast channel %r", incident.key, name)
                continue
            await self._send(channel["id"], message)
        rows = await self.db.fetch_all("SELECT user_id FROM incident_followers WHERE incident_id = ?", (incident.id,))
        for row in rows:
            if row["user_id"] != actor_id:
                direct = await self.chat.create_direct_channel(self.bot_user_id, row["user_id"])
                await self._send(direct["id"], message)

    async def _send(self, channel_id: str, message: str) -> None:
        try:
            await self.chat.create_post(channel_id, message)
        except MattermostError as exc:
            if exc.status == 403:   # a public channel the bot is not in yet: join and try again
                await self.chat.add_channel_member(channel_id, self.bot_user_id)
                await self.chat.create_post(channel_id, message)
            else:
                raise

    async def _due(self, incident: Incident, due: int) -> None:
        async with self.db.transaction() as conn:
            await incident_store.update_fields(conn, incident.id, {"update_due_at": due})
        self._arm(incident.id, due)

    def _arm(self, incident_id: int, due: int) -> None:
        self.timers.at(f"status:{incident_id}", due, self.remind, incident_id)
