"""Paging and escalation: when an incident opens, page the first level of the escalation policy; if nobody
acknowledges in time, page the next, up to the last. Every page is on the timeline with who and why.

The level reached and the time the next one is due are kept on the incident row, so a restart re-arms the
escalation timer and each level is paged once.
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone
from typing import Any

from bot.alerts.buttons import ACTIONS_PATH, ActionLinks
from bot.clock import Clock
from bot.config import EscalationLevel, EscalationPolicy, PageLimit
from bot.incidents.model import Action, Incident, Status, TransitionRefused
from bot.oncall.paging import PagingError
from bot.oncall.people import resolve_emails
from bot.oncall.providers import PagingProvider
from bot.oncall.rotation_model import Schedule
from bot.oncall.rotations import add_override, next_on_call, on_call
from bot.store import incidents as incident_store
from bot.store.db import Database
from bot.store.timeline import record
from bot.users import UserDirectory
from bot.workflow.timers import Timers

log = logging.getLogger(__name__)

PAGE_ACTION = "pageack"


class Paging:
    def __init__(self, db: Database, chat, timers: Timers, clock: Clock, users: UserDirectory, *,
                 schedules: tuple[Schedule, ...], levels: tuple[EscalationLevel, ...], bot_user_id: str,
                 alerts_channel_id: str = "", policies: tuple[EscalationPolicy, ...] = (),
                 limit: PageLimit = PageLimit(), providers: tuple[PagingProvider, ...] = (), poll: int = 30,
                 skip_unavailable: bool = False):
        self.db = db
        self.chat = chat
        self.timers = timers
        self.clock = clock
        self.users = users
        self.schedules = {schedule.name: schedule for schedule in schedules}
        self.levels = levels
        self.policies = policies
        self.limit = limit
        self.providers = {provider.name: provider for provider in providers}
        self.poll = poll
        self.skip_unavailable = skip_unavailable
        self._sent: dict[str, list[int]] = {}          # person -> times of recent pages (ms)
        self._held: dict[str, list[str]] = {}          # person -> incidents not paged because of the limit
        self.bot_user_id = bot_user_id
        self.alerts_channel_id = alerts_channel_id
        self.links: ActionLinks | None = None   # set when the HTTP server listens: where clicks go, and the secret
        self.incidents: Any = None  # the IncidentService, to acknowledge from a button

    # ------------------------------------------------------------------ who
    def on_call_now(self, name: str) -> tuple[str | None, ...]:
        schedule = self.schedules.get(name)
        return on_call(schedule, self._now()).layers if schedule else ()

    async def targets(self, level: EscalationLevel) -> tuple[list[str], str]:
        """The usernames a level pages (or ["@channel"]), and why, for the timeline."""
        if level.to in ("pagerduty", "opsgenie"):
            return await self._provider_people(level.to)
        if level.to == "channel":
            return ["@channel"], "everyone in the alerts channel"
        if level.to.startswith("@"):
            return [level.to[1:].lower()], "named in the escalation policy"
        name, _, layer = level.to[len("schedule:"):].partition(":")
        layers = self.on_call_now(name)
        index = int(layer or 1) - 1
        person = layers[index] if index < len(layers) else None
        role = {0: "primary", 1: "secondary"}.get(index, f"layer {index + 1}")
        return ([person] if person else []), f"{role} on call for {name}"

    async def load_overrides(self) -> None:
        """Apply the shift overrides people made from chat (they survive restarts)."""
        for row in await self.db.fetch_all("SELECT * FROM oncall_overrides WHERE end_ms > ? ORDER BY id",
                                           (self.clock.now_ms(),)):
            schedule = self.schedules.get(row["schedule"])
            if schedule is not None:
                self.schedules[schedule.name] = add_override(
                    schedule, row["username"], _utc(row["start_ms"]), _utc(row["end_ms"]), layer=row["layer"])

    async def override(self, name: str, username: str, seconds: int, created_by: str) -> datetime:
        """Put someone on call for a schedule's first layer from now for `seconds`; returns the end."""
        schedule = self.schedules[name]
        start = self.clock.now_ms()
        end = start + seconds * 1000
        self.schedules[name] = add_override(schedule, username, _utc(start), _utc(end))
        async with self.db.transaction() as conn:
            await conn.execute("INSERT INTO oncall_overrides (schedule, username, start_ms, end_ms, layer, created_by) "
                               "VALUES (?, ?, ?, ?, 1, ?)", (name, username, start, end, created_by))
        return _utc(end)

    def describe(self, name: str) -> tuple[tuple[str | None, ...], tuple[str | None, ...], datetime]:
        """Who is on call now (per layer), who is next, and from when."""
        schedule = self.schedules[name]
        now = on_call(schedule, self._now())
        upcoming, start = next_on_call(schedule, self._now())
        return now.layers, upcoming, start

    def levels_for(self, incident: Incident) -> tuple[EscalationLevel, ...]:
        """The first policy matching the incident's severity and alert labels, else the default levels."""
        labels = json.loads(incident.alert).get("labels", {}) if incident.alert else {}
        for policy in self.policies:
            if (not policy.severities or incident.severity.value in policy.severities) and \
                    all(labels.get(key) == value for key, value in policy.labels):
                return policy.levels
        return self.levels

    async def _provider_people(self, name: str) -> tuple[list[str], str]:
        """Who the paging service says is on call, as Mattermost usernames (matched by e-mail)."""
        provider = self.providers.get(name)
        if provider is None:
            return [], f"{name} is not configured"
        try:
            emails = await provider.on_call_emails()
        except PagingError as exc:
            return [], f"{name} did not answer: {exc}"
        found, missing = await resolve_emails(emails[:1], self.chat.get_user_by_email)
        if missing:
            log.warning("no Mattermost user has the e-mail(s) %s from %s", ", ".join(missing), name)
        return [user["username"] for user in found.values()], f"on call in {name}"

    # ------------------------------------------------------------------ escalation
    async def start(self, incident: Incident) -> None:
        """Page the first level (once), trigger the paging services, and arm the timer for the next level."""
        if incident.page_level > 0 or incident.status is not Status.OPEN:
            return
        for provider in self.providers.values():
            try:
                await provider.trigger(incident.key, f"{incident.key}: {incident.title}", incident.severity.value,
                                       details={"channel": incident.channel_name})
                outcome = "triggered"
            except PagingError as exc:
                outcome = f"failed: {exc}"
            async with self.db.transaction() as conn:
                await record(conn, incident.id, "service_paged", at=self.clock.now_ms(), actor_id=self.bot_user_id,
                             text=f"{provider.name} {outcome}", data={"service": provider.name, "key": incident.key})
        if self.levels_for(incident):
            await self._page_level(incident, 0)

    async def watch_services(self) -> None:
        """Ask the paging services, every `poll` seconds, whether someone acknowledged there."""
        while True:
            await asyncio.sleep(self.poll)
            try:
                await self._check_services()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("asking the paging services for acknowledgements failed")

    async def _check_services(self) -> None:
        for incident in await incident_store.list_incidents(self.db):
            if incident.status is not Status.OPEN or not incident.page_level:
                continue
            for provider in self.providers.values():
                try:
                    acknowledged = await provider.acknowledged(incident.key)
                except PagingError as exc:
                    log.warning("%s: could not ask %s: %s", incident.key, provider.name, exc)
                    continue
                if acknowledged:
                    try:
                        await self.incidents.change(incident, Action.ACKNOWLEDGE, actor_id=self.bot_user_id,
                                                    text=f"acknowledged in {provider.name}")
                    except TransitionRefused:
                        pass
                    await self.chat.create_post(incident.channel_id, f":eyes: {incident.key} was acknowledged "
                                                                     f"in {provider.name}.")
                    break

    async def resume(self) -> None:
        for incident in await incident_store.list_incidents(self.db):
            if incident.page_due_at and incident.status is Status.OPEN:
                self.timers.at(f"escalate:{incident.id}", incident.page_due_at, self.escalate, incident.id)

    async def escalate(self, incident_id: int) -> None:
        """The timer fired: nobody acknowledged, so page the next level."""
        incident = await incident_store.get_incident(self.db, incident_id)
        if incident is None or incident.status is not Status.OPEN or \
                incident.page_level >= len(self.levels_for(incident)):
            return
        if incident.page_due_at and incident.page_due_at > self.clock.now_ms():
            self.timers.at(f"escalate:{incident.id}", incident.page_due_at, self.escalate, incident.id)
            return
        await self._page_level(incident, incident.page_level)

    async def on_change(self, incident: Incident, action: Action, text: str, actor_id: str) -> None:
        """An acknowledgement (or a resolve) stops the escalation, here and in the paging services."""
        for provider in self.providers.values():
            try:
                if action is Action.ACKNOWLEDGE:
                    await provider.acknowledge(incident.key)
                elif action is Action.RESOLVE:
                    await provider.resolve(incident.key)
            except PagingError as exc:
                log.warning("%s: could not tell %s: %s", incident.key, provider.name, exc)
        if action in (Action.ACKNOWLEDGE, Action.RESOLVE) and incident.page_due_at:
            self.timers.cancel(f"escalate:{incident.id}")
            async with self.db.transaction() as conn:
                await incident_store.update_fields(conn, incident.id, {"page_due_at": None})
                await record(conn, incident.id, "escalation_stopped", at=self.clock.now_ms(), actor_id=actor_id,
                             text=f"after level {incident.page_level}")

    async def _page_level(self, incident: Incident, index: int) -> None:
        levels = self.levels_for(incident)
        level = levels[index]
        people, why = await self.targets(level)
        following = levels[index + 1] if index + 1 < len(levels) else None
        due = incident.created_at + following.after * 1000 if following else None
        if due is not None:
            due = max(due, self.clock.now_ms())
        # The level is recorded before anyone is paged: after a crash it is not paged again.
        async with self.db.transaction() as conn:
            await incident_store.update_fields(conn, incident.id, {"page_level": index + 1, "page_due_at": due})
            await record(conn, incident.id, "paged" if index == 0 else "escalated", at=self.clock.now_ms(),
                         actor_id=self.bot_user_id, text=f"level {index + 1}: {', '.join('@' + p for p in people) or 'nobody'} ({why})",
                         data={"level": index + 1, "to": level.to, "people": people})
        paged = 0
        for person in people:
            try:
                paged += await self._page(incident, person, index + 1)
            except Exception:
                log.exception("%s: could not page %s", incident.key, person)
        if not paged and due is not None:
            due = self.clock.now_ms()   # nobody could be paged at this level: go on to the next at once
            async with self.db.transaction() as conn:
                await incident_store.update_fields(conn, incident.id, {"page_due_at": due})
        if index == 0 and incident.commander_id == self.bot_user_id and people and people[0] != "@channel":
            first = await self.chat.get_user_by_username(people[0])
            if first is not None:   # an incident an alert opened: the first on-call person commands it
                await self.incidents.set_commander(incident, first["id"], actor_id=self.bot_user_id)
        if due is not None:
            self.timers.at(f"escalate:{incident.id}", due, self.escalate, incident.id)

    async def _page(self, incident: Incident, person: str, level: int) -> bool:
        """Page one person (or the alerts channel); False when they were not paged."""
        if person == "@channel":
            if self.alerts_channel_id:
                await self.chat.create_post(self.alerts_channel_id, (
                    f"@channel :rotating_light: **{incident.key}: {incident.title}** ({incident.severity.label}) "
                    f"is still not acknowledged. Join ~{incident.channel_name} and `@incident-bot ack`."))
            return bool(self.alerts_channel_id)
        user = await self.chat.get_user_by_username(person)
        if user is None:
            log.warning("%s: cannot page @%s: no such user", incident.key, person)
            return False
        if self.skip_unavailable:
            status = await self.chat.get_user_status(user["id"])
            if status in ("dnd", "offline"):
                async with self.db.transaction() as conn:
                    await record(conn, incident.id, "page_skipped", at=self.clock.now_ms(), actor_id=self.bot_user_id,
                                 text=f"@{person} is {status}")
                return False
        await self.chat.add_channel_member(incident.channel_id, user["id"])
        if not self._within_limit(person, incident):
            async with self.db.transaction() as conn:
                await record(conn, incident.id, "page_held", at=self.clock.now_ms(), actor_id=self.bot_user_id,
                             text=f"@{person}: more than {self.limit.count} pages in {self.limit.per // 60}m; "
                                  "they get a summary instead")
            return False
        direct = await self.chat.create_direct_channel(self.bot_user_id, user["id"])
        text = (f":pager: You are paged for **{incident.key}: {incident.title}** ({incident.severity.label}), "
                f"level {level}. Join ~{incident.channel_name}.")
        props = {"attachments": [self._ack_button(incident)]} if self.links else None
        if props is None:
            text += " Acknowledge there with `@incident-bot ack`."
        await self.chat.create_post(direct["id"], text, props=props)
        return True

    # ------------------------------------------------------------------ not flooding a person
    def _within_limit(self, person: str, incident: Incident) -> bool:
        """Count a page to a person; False (and the incident held for a summary) past the limit."""
        now = self.clock.now_ms()
        recent = [t for t in self._sent.get(person, []) if t > now - self.limit.per * 1000]
        if len(recent) < self.limit.count:
            self._sent[person] = recent + [now]
            return True
        self._sent[person] = recent
        held = self._held.setdefault(person, [])
        if not held:
            self.timers.at(f"pagesummary:{person}", recent[0] + self.limit.per * 1000, self.send_summary, person)
        held.append(f"{incident.key} ({incident.severity.label}: {incident.title}) ~{incident.channel_name}")
        return False

    async def send_summary(self, person: str) -> None:
        held = self._held.pop(person, [])
        user = await self.chat.get_user_by_username(person) if held else None
        if user is None:
            return
        direct = await self.chat.create_direct_channel(self.bot_user_id, user["id"])
        lines = "\n".join(f"- {item}" for item in held)
        await self.chat.create_post(direct["id"], f":pager: While you were being paged a lot, {len(held)} more "
                                                  f"incident(s) wanted you (you were added to their channels):\n{lines}")

    # ------------------------------------------------------------------ the Acknowledge button
    def _ack_button(self, incident: Incident) -> dict[str, Any]:
        context: dict[str, Any] = {"action": PAGE_ACTION, "incident": incident.id}
        context["signature"] = self.links.sign(context)
        return {"fallback": f"Acknowledge {incident.key}", "color": "#D24B4E",
                "actions": [{"id": "ack", "name": "Acknowledge", "type": "button", "style": "primary",
                             "integration": {"url": self.links.url.rstrip("/") + ACTIONS_PATH, "context": context}}]}

    async def acknowledge_click(self, context: dict[str, Any], user_id: str, user_name: str) -> str:
        """Someone clicked Acknowledge on a page (a verified context): acknowledge the incident for them."""
        incident_id = context.get("incident")
        incident = await incident_store.get_incident(self.db, incident_id) if isinstance(incident_id, int) else None
        if incident is None:
            return "That incident is gone."
        try:
            acked = await self.incidents.change(incident, Action.ACKNOWLEDGE, actor_id=user_id, text="from a page")
        except TransitionRefused as refusal:
            return f":information_source: {refusal}"
        await self.chat.create_post(incident.channel_id, f":eyes: @{user_name} acknowledged **{incident.key}** "
                                                         f"from a page.")
        return f":white_check_mark: You acknowledged **{acked.key}**. Thank you!"

    def _now(self) -> datetime:
        return _utc(self.clock.now_ms())


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
