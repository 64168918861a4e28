"""Post-mortem drafts and follow-ups: when an incident is resolved (or on `postmortem`), the bot drafts the
post-mortem from the timeline and posts it as a file; follow-up actions are recorded and listed in it."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from bot.clock import Clock
from bot.incidents.model import Action, Incident
from bot.people.roles import DEFAULT_ROLES, RoleSet, incident_roles
from bot.reports.redaction import Redactor
from bot.store import alerts as alert_store
from bot.store import incidents as incident_store
from bot.store.db import Database
from bot.store.tasks import TaskStore
from bot.store.timeline import entries as timeline_entries
from bot.store.timeline import record
from bot.templates import Templates
from bot.users import UserDirectory
from bot.workflow.integrations.http_call import http_request
from bot.workflow.timers import Timers

log = logging.getLogger(__name__)

KEY_EVENTS = ("created", "acknowledged", "severity_changed", "role_assigned", "highlight", "note", "escalated",
              "alert_received", "alert_resolved", "command", "linked_post", "resolved")


@dataclass(frozen=True)
class Followup:
    id: int
    text: str
    owner: str
    ticket: str


class Postmortems:
    def __init__(self, db: Database, chat, templates: Templates, clock: Clock, users: UserDirectory, tasks: TaskStore,
                 timers: Timers, *, bot_user_id: str, redactor: Redactor, roles: RoleSet = DEFAULT_ROLES, followup_webhook: str = "",
                 archive_on_resolve: bool = False):
        self.db = db
        self.chat = chat
        self.templates = templates
        self.clock = clock
        self.users = users
        self.tasks = tasks
        self.timers = timers
        self.bot_user_id = bot_user_id
        self.redactor = redactor
        self.roles = roles
        self.followup_webhook = followup_webhook
        self.archive_on_resolve = archive_on_resolve
        self.library = None   # the PlaybookLibrary: a playbook may bring its own post-mortem template

    async def on_change(self, incident: Incident, action: Action, text: str, actor_id: str) -> None:
        """A resolved incident gets its post-mortem draft a moment later, after the resolve is announced."""
        if action is Action.RESOLVE:
            self.timers.after(f"postmortem:{incident.id}", 1.0, self.after_resolve, incident.id, actor_id)

    async def after_resolve(self, incident_id: int, actor_id: str) -> None:
        """Draft the post-mortem (then archive the channel, if configured)."""
        incident = await incident_store.get_incident(self.db, incident_id)
        if incident is None:
            return
        await self.draft(incident, actor_id)
        playbook = self.library.get(incident.playbook) if self.library and incident.playbook else None
        if self.archive_on_resolve or (playbook is not None and playbook.archive_on_resolve):
            await self.chat.archive_channel(incident.channel_id)
            async with self.db.transaction() as conn:
                await record(conn, incident.id, "channel_archived", at=self.clock.now_ms(), actor_id=self.bot_user_id)

    async def draft(self, incident: Incident, actor_id: str) -> str:
        """Render the draft, post it as a file in the incident channel, and record it; returns the post id."""
        incident = await incident_store.get_incident(self.db, incident.id) or incident
        context = await self._context(incident)
        playbook = self.library.get(incident.playbook) if self.library and incident.playbook else None
        rendered = (self.templates.render_string(playbook.postmortem, **context) if playbook and playbook.postmortem
                    else self.templates.render("postmortem", **context))
        text, counts = self.redactor.redact(rendered)
        file_id = await self.chat.upload_file(incident.channel_id, f"postmortem-{incident.key}.md", text.encode())
        redacted = f" ({sum(counts.values())} redaction(s))" if counts else ""
        post = await self.chat.create_post(incident.channel_id, f":page_facing_up: The post-mortem draft of "
                                                                f"{incident.key}{redacted}. Edit it and share it.",
                                           file_ids=[file_id])
        async with self.db.transaction() as conn:
            await record(conn, incident.id, "postmortem_drafted", at=self.clock.now_ms(), actor_id=actor_id,
                         data={"post_id": post.id, "redactions": dict(counts)})
        return post.id

    async def add_followup(self, incident: Incident, text: str, owner_id: str, actor_id: str) -> Followup:
        """Record a follow-up action (and send it to the ticketing webhook, when there is one)."""
        now = self.clock.now_ms()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO followups (incident_id, text, owner_id, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
                (incident.id, text, owner_id, actor_id, now))
            followup_id = cursor.lastrowid
            await record(conn, incident.id, "followup_added", at=now, actor_id=actor_id, text=text,
                         data={"followup": followup_id, "owner": owner_id})
        ticket = ""
        if self.followup_webhook:
            outcome = await http_request("POST", self.followup_webhook, json_body={
                "incident": incident.key, "title": incident.title, "followup": text,
                "owner": await self.users.username(owner_id) if owner_id else ""},
                headers={"Idempotency-Key": f"{incident.key}:followup:{followup_id}"})
            ticket = f"sent ({outcome.status})" if outcome.ok else f"not sent: {outcome.error}"
            async with self.db.transaction() as conn:
                await conn.execute("UPDATE followups SET ticket = ? WHERE id = ?", (ticket, followup_id))
        owner = await self.users.username(owner_id) if owner_id else ""
        return Followup(followup_id, text, owner, ticket)

    async def followups(self, incident: Incident) -> list[Followup]:
        rows = await self.db.fetch_all("SELECT * FROM followups WHERE incident_id = ? ORDER BY id", (incident.id,))
        return [Followup(r["id"], r["text"], await self.users.username(r["owner_id"]) if r["owner_id"] else "",
                         r["ticket"]) for r in rows]

    async def _context(self, incident: Incident) -> dict[str, Any]:
        timeline = await timeline_entries(self.db, incident.id)
        events = [SimpleNamespace(at=e.at, kind=e.kind, text=e.text, actor=await self.users.username(e.actor_id))
                  for e in timeline if e.kind in KEY_EVENTS]
        updates = [SimpleNamespace(at=e.at, text=e.text, actor=await self.users.username(e.actor_id))
                   for e in timeline if e.kind == "status_update"]
        people = [SimpleNamespace(role=role.title, name=await self.users.username(user_id))
                  for role, user_id in incident_roles(incident, self.roles).assignments() if user_id]
        participants = sorted({await self.users.username(e.actor_id) for e in timeline
                               if e.actor_id and e.actor_id != self.bot_user_id})
        return {
            "incident": incident, "events": events, "updates": updates, "people": people,
            "participants": participants, "tasks": await self.tasks.list(incident.id),
            "followups": await self.followups(incident), "alerts": await alert_store.incident_alerts(self.db, incident.id),
            "now": self.clock.now_ms(),
        }
