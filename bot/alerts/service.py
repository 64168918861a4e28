"""The alert pipeline: recognise, de-duplicate and escalate alerts, and keep incident channels informed.

Posts from watched channels, MQTT messages and HTTP webhooks all end here as `Alert`s. The pure core
(`rules.evaluate`, `dedup.decide`) decides; this service carries the decisions out and records them.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Sequence

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from bot.alerts.buttons import ActionLinks, Click, alert_buttons
from bot.alerts.codec import alert_to_json
from bot.alerts.dedup import AlertBook, Decision, DecisionKind, decide, group_of, recheck
from bot.alerts.model import Alert, AlertSeverity
from bot.alerts.parsers import AlertParser, recognise
from bot.alerts.rules import Rule, RuleAction, RuleMatch, evaluate
from bot.clock import Clock
from bot.incidents.model import Action, Incident, Severity, Status, TransitionRefused
from bot.incidents.service import ChatAPI, IncidentService
from bot.mattermost.errors import MattermostError
from bot.mattermost.events import Post
from bot.store import alerts as alert_store
from bot.store import incidents as incident_store
from bot.store.db import Database
from bot.store.timeline import record
from bot.templates import Templates

log = logging.getLogger(__name__)

DEFAULT_SEVERITY = {AlertSeverity.CRITICAL: Severity.SEV2, AlertSeverity.WARNING: Severity.SEV3,
                    AlertSeverity.INFO: Severity.SEV4}
STATUS_POST_INTERVAL_S = 5.0   # an incident's alerts post is edited at most this often
SETUP_WORKERS = 3
INCIDENT_CACHE_S = 1.0
IGNORE_MS = 3600 * 1000
TIMELINE_KIND = {DecisionKind.OPEN_INCIDENT: "alert_received", DecisionKind.JOIN_INCIDENT: "alert_joined",
                 DecisionKind.REPEAT: "alert_repeated", DecisionKind.RESOLVED: "alert_resolved",
                 DecisionKind.FLAP: "alert_flapped"}


@dataclass(frozen=True)
class Explanation:
    """What was made of one version of a post in a watched channel, for `why`."""

    post_id: str
    edit_at: int
    parser: str
    reason: str
    outcome: list[dict[str, Any]]


@dataclass(frozen=True)
class AlertOrigin:
    """Where alerts without a post of their own (MQTT, HTTP) are announced."""

    channel_id: str = ""


class AlertService:
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
        self.choose_playbook: Callable[..., str] = lambda requested="", **_: ""   # set when playbooks are loaded
        # told of every alert decided (with the incidents it opened or joined): related activity, set in app.py
        self.on_alert: Callable[[Alert, Post | None, set[int]], Awaitable[None]] | None = None
        self.book = AlertBook()
        self._lock = asyncio.Lock()
        self._book_dirty = False
        self._status_due: dict[int, float] = {}
        self._titles = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self._setups: asyncio.Queue[Incident] = asyncio.Queue()
        self._silences: dict[str, int] = {}
        self._notes: list[tuple[int, DecisionKind, Alert]] = []
        self._recent: dict[int, tuple[float, Incident]] = {}
        self._last_refresh: dict[int, float] = {}
        self.timers_changed = asyncio.Event()

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
        """Recognise an alert post (new or edited) in a watched channel and act on its alerts, once per version."""
        if await alert_store.is_explained(self.db, post.id, post.edit_at):
            return
        recognition = recognise(post, self.parsers)
        if not recognition.is_alert:
            log.info("not an alert: post %s in %s (%s)", post.id, post.channel_id, recognition.reason)
        outcome = [await self.handle_alert(alert, post) for alert in recognition.alerts]
        await self._commit(Explanation(post.id, post.edit_at, recognition.parser, recognition.reason, outcome))

    async def handle_alerts(self, alerts: list[Alert]) -> None:
        """Alerts from MQTT or the HTTP receiver."""
        for alert in alerts:
            await self.handle_alert(alert, None)
        await self._commit()

    async def _commit(self, explanation: "Explanation | None" = None) -> None:
        """Write the alerts noted on incidents (and what was made of a post) in one transaction."""
        notes, self._notes = self._notes, []
        now = self.clock.now_ms()
        async with self.db.transaction() as conn:
            for incident_id, kind, alert in notes:
                noted = await alert_store.note_alert(conn, incident_id, alert, now)
                await record(conn, incident_id, TIMELINE_KIND[kind], at=now, text=f"{alert.name} ({alert.status.value})",
                             data={"fingerprint": alert.fingerprint, "count": noted.count, "post_id": alert.post_id,
                                   "source": alert.source.value})
            if explanation is not None:
                await alert_store.explain_post(conn, explanation.post_id, explanation.edit_at, now, explanation.parser,
                                               explanation.reason, explanation.outcome)

    async def handle_alert(self, alert: Alert, post: Post | None) -> dict[str, Any]:
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
                incident_id = await self._carry_out(decision, post)
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
            async with self._lock:
                self.book, decision = recheck(self.book, alert, match, now)
                self._book_dirty = True
                await self._carry_out(decision, None)
            await self._commit()

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

    async def _carry_out(self, decision: Decision, post: Post | None) -> int | None:
        kind = decision.kind
        if kind is DecisionKind.OPEN_INCIDENT:
            incident = await self._open_incident(decision, post)
            return incident.id if incident else None
        if kind is DecisionKind.WAIT and decision.recheck_at_ms is not None:
            async with self.db.transaction() as conn:
                await alert_store.set_timer(conn, decision.alert, decision.recheck_at_ms)
            self.timers_changed.set()
            return None
        if kind is DecisionKind.NOTIFY:
            await self._notify(decision, post)
            return None
        if kind in TIMELINE_KIND:
            incident = await self._incident_of(decision)
            if incident is not None:
                await self._note(incident, decision)
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

    async def _open_incident(self, decision: Decision, post: Post | None) -> Incident | None:
        """Open (or, after a crash, find) the incident of a new alert group.

        Only the record is made here; its channel is set up in the background, so the alerts that
        follow are not held up by Mattermost calls.
        """
        alert, rule = decision.alert, decision.rule
        incident = await incident_store.open_incident_for_group(self.db, decision.group_key)
        if incident is None:
            severity = (decision.match.severity if decision.match else None) or DEFAULT_SEVERITY[alert.severity]
            incident, _ = await self.incidents.open(
                title=self._title(rule, alert), severity=severity, reporter_id=self.incidents.bot_user_id,
                origin_channel_id=post.channel_id if post else self.origin.channel_id,
                origin_post_id=post.id if post else "", summary=self._summary(alert, post),
                alert_group=decision.group_key, alert=json.dumps(alert_to_json(alert)),
                playbook=self.choose_playbook(rule_playbook=rule.playbook if rule else "",
                                              rule_name=rule.name if rule else None, severity=severity,
                                              labels=dict(alert.labels)))
            self._set_up_later(incident)
        self.book = self.book.with_incident(decision.group_key, incident.id)
        await self._note(incident, decision)
        return incident

    def _set_up_later(self, incident: Incident) -> None:
        self._setups.put_nowait(incident)

    async def _setup_worker(self) -> None:
        """Set up the channels of incidents opened by alerts, one at a time per worker."""
        while True:
            incident = await self._setups.get()
            try:
                await self.incidents.complete_setup(incident, resuming=False)
            except MattermostError as exc:
                log.warning("could not set up %s yet (%s); it is retried after the next reconnect", incident.key, exc)
            except Exception:
                log.exception("setting up %s failed", incident.key)

    def _title(self, rule: Rule | None, alert: Alert) -> str:
        if rule is not None and rule.title:
            try:
                title = self._titles.from_string(rule.title).render(
                    alert=alert, labels=dict(alert.labels), annotations=dict(alert.annotations))
                if title.strip():
                    return title.strip()[:200]
            except TemplateError as exc:
                log.warning("rule %s: its title template failed (%s); using the alert name", rule.name, exc)
        instance = alert.labels.get("instance") or alert.labels.get("host") or ""
        return (f"{alert.name} on {instance}" if instance else alert.name)[:200]

    def _summary(self, alert: Alert, post: Post | None) -> str:
        return self.templates.render("alert_summary", alert=alert, post_url=self._permalink(post) if post else "")

    def _permalink(self, post: Post) -> str:
        return f"{self.incidents.site_url}/{self.incidents.team.name}/pl/{post.id}"

    async def _note(self, incident: Incident, decision: Decision) -> None:
        """Note the alert on the incident (list and timeline, written by `_commit`); its alerts post follows."""
        self._notes.append((incident.id, decision.kind, decision.alert))
        self._status_due.setdefault(incident.id, asyncio.get_running_loop().time())   # refreshed by `flush`

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
                    severity = DEFAULT_SEVERITY[alert.severity]
                    incident = await self.incidents.start(
                        title=self._title(None, alert), severity=severity,
                        reporter_id=click.user_id, origin_channel_id=click.channel_id,
                        origin_post_id=click.alert_post_id, summary=self._summary(alert, None),
                        alert_group=f"button:{alert.fingerprint}", alert=json.dumps(alert_to_json(alert)),
                        playbook=self.choose_playbook(severity=severity, labels=dict(alert.labels)))
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
        """Save the book, and refresh the alerts post of the incident whose turn it is (all if `force`).

        One refresh per call keeps these edits to a small share of the bot's write budget in a storm.
        """
        if self._book_dirty:
            self._book_dirty = False
            async with self.db.transaction() as conn:
                await alert_store.save_book(conn, self.book.prune(self.clock.now_ms()).to_json())
        now = asyncio.get_running_loop().time()
        due = sorted((max(noted, self._last_refresh.get(i, 0.0) + STATUS_POST_INTERVAL_S), i)
                     for i, noted in self._status_due.items())
        for when, incident_id in due if force else due[:1]:
            if when > now and not force:
                break
            noted = self._status_due.pop(incident_id)   # alerts noted during the refresh schedule another
            try:
                done = await self._refresh_alerts_post(incident_id)
                if done:
                    self._last_refresh[incident_id] = now
            except MattermostError as exc:
                log.warning("could not refresh the alerts post of INC-%s: %s", incident_id, exc)
                self._last_refresh[incident_id] = now
                done = False
            if not done:
                self._status_due.setdefault(incident_id, noted)

    async def _refresh_alerts_post(self, incident_id: int) -> bool:
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

    async def run_background(self) -> None:
        """Set up incidents' channels, refresh alert posts and fire timers, until cancelled."""
        async with asyncio.TaskGroup() as group:
            for number in range(SETUP_WORKERS):
                group.create_task(self._setup_worker(), name=f"incident-setup-{number}")
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
