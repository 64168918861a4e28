"""The alert pipeline: recognise, de-duplicate and escalate alerts, and keep incident channels informed.

Posts from watched channels, MQTT messages and HTTP webhooks all end here as `Alert`s. The pure core
(`rules.evaluate`, `dedup.decide`) decides; this service carries the decisions out and records them.

Work is queued (`intake`) and taken in batches by one task: the batch's alerts are decided one at a
time, in arrival order, and everything they wrote is committed in one transaction (`writes`). A post
counts as handled only once that commit is done; until then its channel's catch-up cursor is held
before it, so a crash at any moment re-reads it and nothing is lost or done twice. Deciding runs in
short slices, so commands, buttons and the websocket reader keep their turns during a storm, and for
a moment after an incident is opened the slices leave room for its setup (`incident_opening`).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Sequence

from bot.alerts.buttons import ActionLinks, Click, alert_buttons
from bot.alerts.codec import alert_to_json
from bot.alerts.dedup import AlertBook, Decision, DecisionKind, decide, group_of, recheck
from bot.alerts.incident_opening import IncidentOpener
from bot.alerts.intake import AlertQueue, Work
from bot.alerts.model import Alert
from bot.alerts.parsers import AlertParser, recognise
from bot.alerts.rules import Rule, RuleAction, RuleMatch, evaluate
from bot.alerts.status_posts import AlertsPosts
from bot.alerts.writes import AlertWrites
from bot.clock import Clock
from bot.incidents.model import Action, Incident, Status, TransitionRefused
from bot.incidents.service import ChatAPI, IncidentService
from bot.mattermost.events import Post
from bot.store import alerts as alert_store
from bot.store import incidents as incident_store
from bot.store.alerts import AlertNote, PostExplanation
from bot.store.db import Database
from bot.templates import Templates

log = logging.getLogger(__name__)

INCIDENT_CACHE_S = 1.0
IGNORE_MS = 3600 * 1000
BATCH_LIMIT = 500       # work items decided before one commit, at most
SLICE_S = 0.001         # deciding runs this long at most before the rest of the bot gets a turn
SETUP_PAUSE_S = 0.001   # the turn is this long while a new incident is set up (about half the time each)
QUEUED_PER_TURN = 10    # posts queued by the event reader before the rest of the bot gets a turn
TIMELINE_KIND = {DecisionKind.OPEN_INCIDENT: "alert_received", DecisionKind.JOIN_INCIDENT: "alert_joined",
                 DecisionKind.REPEAT: "alert_repeated", DecisionKind.RESOLVED: "alert_resolved",
                 DecisionKind.FLAP: "alert_flapped"}


@dataclass(frozen=True)
class AlertOrigin:
    """Where alerts without a post of their own (MQTT, HTTP) are announced."""

    channel_id: str = ""


class AlertService:
    """Takes alerts in from every source, decides about them in batches and carries the decisions out."""

    def __init__(self, db: Database, chat: ChatAPI, incidents: IncidentService, templates: Templates, clock: Clock, *,
                 parsers: Sequence[AlertParser], rules: Sequence[Rule], origin: AlertOrigin,
                 actions: ActionLinks | None = None):
        self.db = db
        self.chat = chat
        self.incidents = incidents
        self.templates = templates
        self.clock = clock
        self.parsers = list(parsers)
        self.rules = list(rules)
        self.origin = origin
        self.actions = actions
        # told of every alert decided (with the incidents it opened or joined): related activity, set in app.py
        self.on_alert: Callable[[Alert, Post | None, set[int]], Awaitable[None]] | None = None
        self.book = AlertBook()
        self.opener = IncidentOpener(db, incidents, templates, origin_channel_id=origin.channel_id)
        self.alerts_posts = AlertsPosts(db, chat, templates)
        self.timers_changed = asyncio.Event()
        self._queue = AlertQueue()
        self._queued = 0
        self._lock = asyncio.Lock()
        self._book_dirty = False
        self._silences: dict[str, int] = {}
        self._recent: dict[int, tuple[float, Incident]] = {}

    @property
    def choose_playbook(self) -> Callable[..., str]:
        """Picks the playbook of an incident an alert opens; set when playbooks are loaded."""
        return self.opener.choose_playbook

    @choose_playbook.setter
    def choose_playbook(self, choose: Callable[..., str]) -> None:
        self.opener.choose_playbook = choose

    async def load(self) -> None:
        """Restore the de-duplication book and the silences saved before a restart."""
        self._silences = await alert_store.silences(self.db)
        saved = await alert_store.load_book(self.db)
        if saved:
            try:
                self.book = AlertBook.from_json(saved)
            except ValueError as exc:
                log.error("the saved alert book is unreadable (%s); starting with an empty one", exc)

    # ------------------------------------------------------------------ inputs
    async def handle_post(self, post: Post) -> None:
        """Queue a post (new or edited) from a watched channel; its alerts are acted on once per version.

        Returns at once; the post is handled with the next batch (see `cursor_limit`).
        """
        if self._queue.offer_post(post):
            self._queued += 1
            if self._queued % QUEUED_PER_TURN == 0:
                await asyncio.sleep(0)   # a storm must not keep the rest of the bot waiting

    async def handle_alerts(self, alerts: list[Alert]) -> None:
        """Alerts from MQTT or the HTTP receiver; returns once they are decided and saved, raises if that failed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put(Work(alerts=tuple(alerts), done=done))
        await done

    def cursor_limit(self, channel_id: str) -> int | None:
        """How far a channel's catch-up cursor may be saved: just before its oldest post not handled yet."""
        return self._queue.cursor_limit(channel_id)

    async def handle_queue(self) -> None:
        """Handle queued work in batches, until cancelled."""
        while True:
            await self._handle_batch(await self._queue.take(BATCH_LIMIT))

    async def _handle_batch(self, batch: list[Work]) -> None:
        """Decide about each piece of work in order, then commit what they all wrote in one transaction."""
        try:
            explained = await alert_store.explained_versions(self.db, [w.version for w in batch if w.post])
        except Exception as exc:
            log.exception("could not look up %d alert post(s)", len(batch))
            for work in batch:
                self._queue.finish(work, exc)
            return
        writes, decided = AlertWrites(), []
        turn_ends = time.perf_counter() + SLICE_S
        for work in batch:
            if work.post is not None and work.version in explained:
                self._queue.finish(work)
                continue
            own = AlertWrites()
            try:
                await self._handle_work(work, own)
            except Exception as exc:
                log.exception("failed to handle %s", f"post {work.post.id}" if work.post else "alerts")
                self._queue.finish(work, exc)
                continue
            writes.add(own)
            decided.append(work)
            if time.perf_counter() > turn_ends:   # commands, buttons and the websocket reader get a turn
                await asyncio.sleep(SETUP_PAUSE_S if self.opener.setup_has_priority() else 0)
                turn_ends = time.perf_counter() + SLICE_S
        try:
            await self._save(writes)
        except Exception as exc:
            log.exception("could not save what was made of %d alert post(s) or message(s)", len(decided))
            for work in decided:
                self._queue.finish(work, exc)
            return
        for work in decided:
            self._queue.finish(work)

    async def _handle_work(self, work: Work, writes: AlertWrites) -> None:
        if work.post is None:
            for alert in work.alerts:
                await self.handle_alert(alert, None, writes)
            return
        post = work.post
        recognition = recognise(post, self.parsers)
        if not recognition.is_alert:
            log.info("not an alert: post %s in %s (%s)", post.id, post.channel_id, recognition.reason)
        outcome = [await self.handle_alert(alert, post, writes) for alert in recognition.alerts]
        writes.explanations.append(PostExplanation.of(post.id, post.edit_at, recognition.parser, recognition.reason,
                                                      outcome))

    async def _save(self, writes: AlertWrites) -> None:
        """Commit what decisions wrote; then the incidents' alerts posts and the timers catch up with it."""
        await writes.save(self.db, self.clock.now_ms())
        self.alerts_posts.changed({note.incident_id for note in writes.notes})
        if writes.timers:
            self.timers_changed.set()

    async def handle_alert(self, alert: Alert, post: Post | None, writes: AlertWrites) -> dict[str, Any]:
        """Decide about one alert and carry the decisions out; returns what happened, for `why`."""
        async with self._lock:
            now = self.clock.now_ms()
            outcome: dict[str, Any] = {"alert": alert_to_json(alert), "decisions": []}
            if self._silences.get(alert.fingerprint, 0) > now:
                outcome["decisions"].append({"kind": "silenced", "rule": None, "incident": None})
                return outcome
            matches: list[RuleMatch | None] = list(evaluate(self.rules, alert, _utc(now))) or [None]
            for match in matches:
                await self._close_finished_incidents(alert, match)
                self.book, decision = decide(self.book, alert, match, now)
                self._book_dirty = True
                incident_id = await self._carry_out(decision, post, writes)
                outcome["decisions"].append({"kind": decision.kind.value, "rule": decision.rule.name if match else None,
                                             "incident": incident_id, "count": decision.count,
                                             "reason": decision.reason})
            if self.on_alert is not None:
                await self.on_alert(alert, post, {d["incident"] for d in outcome["decisions"] if d["incident"]})
            return outcome

    async def fire_due_timers(self) -> None:
        """Re-check alerts whose rule waits (`only_after`) once their time has come."""
        now = self.clock.now_ms()
        for due_at, alert in await alert_store.timers(self.db):
            if due_at > now:
                break
            async with self.db.transaction() as conn:
                await alert_store.take_timer(conn, alert.fingerprint)
            match = next((m for m in evaluate(self.rules, alert, _utc(now))
                          if m.rule.action is RuleAction.OPEN_INCIDENT), None)
            if match is None:
                continue
            writes = AlertWrites()
            async with self._lock:
                self.book, decision = recheck(self.book, alert, match, now)
                self._book_dirty = True
                await self._carry_out(decision, None, writes)
            await self._save(writes)

    async def next_timer_at(self) -> int | None:
        pending = await alert_store.timers(self.db)
        return pending[0][0] if pending else None

    # ------------------------------------------------------------------ decisions
    async def _close_finished_incidents(self, alert: Alert, match: RuleMatch | None) -> None:
        """Forget groups whose incident people have resolved, so a new alert opens a new incident."""
        groups = [self.book.tracking(alert.fingerprint)]
        if match is not None:
            groups.append(self.book.group(group_of(match.rule, alert)[0]))
        for group in groups:
            if group is None or group.incident_id is None:
                continue
            incident = await self._incident(int(group.incident_id))
            if incident is None or incident.status is Status.RESOLVED:
                self.book = self.book.close_incident(group.incident_id)

    async def _carry_out(self, decision: Decision, post: Post | None, writes: AlertWrites) -> int | None:
        kind = decision.kind
        if kind is DecisionKind.OPEN_INCIDENT:
            incident = await self.opener.open_for(decision, post)
            self.book = self.book.with_incident(decision.group_key, incident.id)
            self._note(incident, decision, writes)
            return incident.id
        if kind is DecisionKind.WAIT and decision.recheck_at_ms is not None:
            writes.timers[decision.alert.fingerprint] = (decision.alert, decision.recheck_at_ms)
            return None
        if kind is DecisionKind.NOTIFY:
            await self._notify(decision, post)
            return None
        if kind in TIMELINE_KIND:
            incident = await self._incident_of(decision)
            if incident is not None:
                self._note(incident, decision, writes)
                if kind is DecisionKind.RESOLVED:
                    await self._announce_resolved(incident, decision)
                return incident.id
        return None

    async def _incident(self, incident_id: int) -> Incident | None:
        """An incident as read at most INCIDENT_CACHE_S ago: a storm of alerts reads the same few."""
        now = asyncio.get_running_loop().time()
        cached = self._recent.get(incident_id)
        if cached is not None and now - cached[0] < INCIDENT_CACHE_S:
            return cached[1]
        incident = await incident_store.get_incident(self.db, incident_id)
        if incident is not None:
            self._recent[incident_id] = (now, incident)
        return incident

    async def _incident_of(self, decision: Decision) -> Incident | None:
        if decision.incident_id is not None:
            return await self._incident(int(decision.incident_id))
        if decision.group_key:
            return await incident_store.open_incident_for_group(self.db, decision.group_key)
        return None

    @staticmethod
    def _note(incident: Incident, decision: Decision, writes: AlertWrites) -> None:
        """Note the alert on the incident (its list and timeline, saved with the batch; its alerts post follows)."""
        writes.notes.append(AlertNote(incident.id, TIMELINE_KIND[decision.kind], decision.alert))

    async def _announce_resolved(self, incident: Incident, decision: Decision) -> None:
        alert = decision.alert
        await self.chat.create_post(incident.channel_id, self.templates.render(
            "alert_resolved", alert=alert, incident=incident, all_resolved=decision.all_resolved))
        if decision.should_resolve_incident and incident.status is not Status.RESOLVED:
            try:
                resolved = await self.incidents.change(incident, Action.RESOLVE, actor_id=self.incidents.bot_user_id,
                                                       text="every alert of the incident resolved")
            except TransitionRefused:
                return
            await self.chat.create_post(incident.channel_id, self.templates.render(
                "resolved", incident=resolved, actor=self.incidents.bot_username,
                text="Every alert of the incident resolved."))
            self.book = self.book.close_incident(incident.id)

    async def _notify(self, decision: Decision, post: Post | None) -> None:
        alert = decision.alert
        channel_id = post.channel_id if post else self.origin.channel_id
        if not channel_id:
            return
        props = {"attachments": alert_buttons(self.actions, alert, post.id if post else "")} if self.actions else None
        await self.chat.create_post(channel_id, self.templates.render("alert_notify", alert=alert, decision=decision),
                                    root_id=post.id if post else "", props=props)

    # ------------------------------------------------------------------ buttons
    async def on_click(self, click: Click) -> str:
        """Carry out a click on an alert's buttons; returns the text that replaces the buttons."""
        alert, user = click.alert, click.user_name or "someone"
        if click.action == "ignore":
            until = self.clock.now_ms() + IGNORE_MS
            async with self.db.transaction() as conn:
                await alert_store.silence(conn, alert.fingerprint, until, click.user_id)
            self._silences[alert.fingerprint] = until
            return f":zzz: @{user} ignored **{alert.name}** for 1 hour."
        async with self._lock:
            group = self.book.tracking(alert.fingerprint)
            incident = None
            if group is not None and group.incident_id is not None:
                incident = await incident_store.get_incident(self.db, int(group.incident_id))
            if click.action == "start":
                if incident is None or incident.status is Status.RESOLVED:
                    incident = await self.opener.start_for_click(click)
                    self.book = self.book.with_incident(group.key, incident.id) if group else self.book
                    self._book_dirty = True
                return f":rotating_light: @{user} started **{incident.key}** for **{alert.name}**: ~{incident.channel_name}"
        if incident is not None and incident.status is Status.OPEN:
            try:
                acked = await self.incidents.change(incident, Action.ACKNOWLEDGE, actor_id=click.user_id,
                                                    text=f"from the buttons of alert {alert.name}")
                await self.chat.create_post(incident.channel_id, self.templates.render(
                    "acknowledged", incident=acked, actor=user))
            except TransitionRefused:
                pass
        return f":eyes: @{user} acknowledged **{alert.name}**."

    # ------------------------------------------------------------------ background
    async def flush(self, force: bool = False) -> None:
        """Save the book, and refresh the alerts post of the incident whose turn it is (all if `force`)."""
        if self._book_dirty:
            self._book_dirty = False
            async with self.db.transaction() as conn:
                await alert_store.save_book(conn, self.book.prune(self.clock.now_ms()).to_json())
        await self.alerts_posts.refresh(force)

    async def run_background(self) -> None:
        """Handle queued alerts, set up incidents' channels, refresh alerts posts and fire timers, until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.handle_queue(), name="alert-queue")
            group.create_task(self.opener.run_setups(), name="incident-setups")
            group.create_task(self._upkeep(), name="alert-upkeep")

    async def _upkeep(self, interval: float = 0.5) -> None:
        while True:
            try:
                await self.flush()
                await self.fire_due_timers()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alert background work failed")
            self.timers_changed.clear()
            try:
                await asyncio.wait_for(self.timers_changed.wait(), interval)
            except TimeoutError:
                pass


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
