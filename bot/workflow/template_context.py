"""What playbook templates see (incident, alert, people, now), and how they are rendered: sandboxed, strict."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

from bot.incidents.model import Incident
from bot.store.tasks import TaskRow
from bot.templates import Templates
from bot.users import UserDirectory
from bot.workflow.template_check import playbook_environment

_ONE_EXPRESSION = re.compile(r"\s*\{\{((?:(?!\}\}|\{\{).)*)\}\}\s*", re.DOTALL)
NO_ALERT = SimpleNamespace(name="", labels={}, annotations={}, summary="", link="", severity="", status="")


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def alert_namespace(alert_json: str) -> SimpleNamespace:
    """The alert that opened the incident, as templates see it (empty values when it was opened by hand)."""
    if not alert_json:
        return NO_ALERT
    data = json.loads(alert_json)
    return SimpleNamespace(name=data.get("name", ""), labels=dict(data.get("labels") or {}),
                           annotations=dict(data.get("annotations") or {}), summary=data.get("summary", ""),
                           link=data.get("link", ""), severity=data.get("severity", ""),
                           status=data.get("status", ""))


class TemplateContext:
    def __init__(self, users: UserDirectory, messages: Templates | None = None):
        self.users = users
        self.env = playbook_environment()
        self.messages = messages or Templates()

    def plain_context(self, incident: Incident) -> dict[str, Any]:
        """The context without people (no lookups needed): enough for names and conditions."""
        return {
            "incident": SimpleNamespace(
                id=incident.id, key=incident.key, title=incident.title, severity=incident.severity,
                status=incident.status, channel_name=incident.channel_name, created_at=_utc(incident.created_at)),
            "alert": alert_namespace(incident.alert),
            "people": SimpleNamespace(commander="", reporter=""),
            "now": datetime.now(timezone.utc),
        }

    async def context(self, incident: Incident) -> dict[str, Any]:
        context = self.plain_context(incident)
        context["people"] = SimpleNamespace(commander=await self.users.username(incident.commander_id),
                                            reporter=await self.users.username(incident.reporter_id))
        return context

    def render(self, source: str, context: dict[str, Any]) -> str:
        return self.env.from_string(source).render(**context)

    def render_data(self, data: Any, context: dict[str, Any]) -> Any:
        """Render every string inside nested lists and mappings.

        A string that is one expression giving a list or a mapping, like "{{ args.matchers }}", keeps that
        structure (so JSON bodies can carry lists); every other string renders to text.
        """
        if isinstance(data, str):
            whole = _ONE_EXPRESSION.fullmatch(data)
            if whole:
                value = self.env.compile_expression(whole.group(1))(**context)
                if isinstance(value, (list, tuple, dict)):
                    return json.loads(json.dumps(value, default=str))
            return self.render(data, context)
        if isinstance(data, dict):
            return {key: self.render_data(value, context) for key, value in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.render_data(value, context) for value in data]
        return data

    async def checklist(self, incident: Incident, tasks: list[TaskRow], now_ms: int) -> str:
        rows = [SimpleNamespace(task=task, assignee=await self.users.username(task.assignee_id)
                                if task.assignee_id else "", overdue=bool(task.due_at and task.status == "open"
                                                                          and task.due_at < now_ms))
                for task in tasks]
        return self.messages.render("checklist", incident=incident, rows=rows)
