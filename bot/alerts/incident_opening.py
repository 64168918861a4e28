"""Opening incidents for alerts: their title, summary, severity and playbook, and their channels set up
in the background so the alerts that follow are not held up by Mattermost calls."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Callable

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from bot.alerts.buttons import Click
from bot.alerts.codec import alert_to_json
from bot.alerts.dedup import Decision
from bot.alerts.model import Alert, AlertSeverity
from bot.alerts.rules import Rule
from bot.incidents.model import Incident, Severity
from bot.incidents.service import IncidentService
from bot.mattermost.errors import MattermostError
from bot.mattermost.events import Post
from bot.store import incidents as incident_store
from bot.store.db import Database
from bot.templates import Templates

log = logging.getLogger(__name__)

DEFAULT_SEVERITY = {AlertSeverity.CRITICAL: Severity.SEV2, AlertSeverity.WARNING: Severity.SEV3,
                    AlertSeverity.INFO: Severity.SEV4}
SETUP_WORKERS = 6          # setups wait on Mattermost round trips; the REST client's write pacing still applies
SETUP_PRIORITY_S = 1.0     # how long after an incident is opened its setup goes before alert batches


class IncidentOpener:
    """Records the incidents that alerts open, and sets up their channels with a few background workers."""

    def __init__(self, db: Database, incidents: IncidentService, templates: Templates, *, origin_channel_id: str):
        self.db = db
        self.incidents = incidents
        self.templates = templates
        self.origin_channel_id = origin_channel_id
        self.choose_playbook: Callable[..., str] = lambda requested="", **_: ""   # set when playbooks are loaded
        self._titles = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self._setups: asyncio.Queue[Incident] = asyncio.Queue()
        self._priority_until = 0.0   # loop time

    async def open_for(self, decision: Decision, post: Post | None) -> Incident:
        """Open (or, after a crash, find) the incident of a new alert group.

        Only the record is made here; its channel is set up in the background.
        """
        alert, rule = decision.alert, decision.rule
        incident = await incident_store.open_incident_for_group(self.db, decision.group_key)
        if incident is not None:
            return incident
        severity = (decision.match.severity if decision.match else None) or DEFAULT_SEVERITY[alert.severity]
        incident, _ = await self.incidents.open(
            title=self.title(rule, alert), severity=severity, reporter_id=self.incidents.bot_user_id,
            origin_channel_id=post.channel_id if post else self.origin_channel_id,
            origin_post_id=post.id if post else "", summary=self.summary(alert, post),
            alert_group=decision.group_key, alert=json.dumps(alert_to_json(alert)),
            playbook=self.choose_playbook(rule_playbook=rule.playbook if rule else "",
                                          rule_name=rule.name if rule else None, severity=severity,
                                          labels=dict(alert.labels)))
        self._setups.put_nowait(incident)
        self._give_priority()
        return incident

    async def start_for_click(self, click: Click) -> Incident:
        """Start an incident (channel and all) for an alert whose "Start incident" button was clicked."""
        alert = click.alert
        severity = DEFAULT_SEVERITY[alert.severity]
        return await self.incidents.start(
            title=self.title(None, alert), severity=severity,
            reporter_id=click.user_id, origin_channel_id=click.channel_id,
            origin_post_id=click.alert_post_id, summary=self.summary(alert, None),
            alert_group=f"button:{alert.fingerprint}", alert=json.dumps(alert_to_json(alert)),
            playbook=self.choose_playbook(severity=severity, labels=dict(alert.labels)))

    def title(self, rule: Rule | None, alert: Alert) -> str:
        """The rule's title template rendered for the alert, else "<alert> on <instance>"."""
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

    def summary(self, alert: Alert, post: Post | None) -> str:
        return self.templates.render("alert_summary", alert=alert, post_url=self._permalink(post) if post else "")

    def _permalink(self, post: Post) -> str:
        return f"{self.incidents.site_url}/{self.incidents.team.name}/pl/{post.id}"

    def setup_has_priority(self) -> bool:
        """True for a moment after an incident is opened: alert batches then leave room for its setup."""
        return asyncio.get_running_loop().time() < self._priority_until

    def _give_priority(self) -> None:
        self._priority_until = asyncio.get_running_loop().time() + SETUP_PRIORITY_S

    async def run_setups(self) -> None:
        """Set up the channels of incidents opened by alerts, SETUP_WORKERS at a time, until cancelled."""
        async with asyncio.TaskGroup() as group:
            for number in range(SETUP_WORKERS):
                group.create_task(self._setup_worker(), name=f"incident-setup-{number}")

    async def _setup_worker(self) -> None:
        while True:
            incident = await self._setups.get()
            try:
                await self.incidents.complete_setup(incident, resuming=False)
            except MattermostError as exc:
                log.warning("could not set up %s yet (%s); it is retried after the next reconnect", incident.key, exc)
            except Exception:
                log.exception("setting up %s failed", incident.key)
