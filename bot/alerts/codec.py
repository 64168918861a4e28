"""Alerts to and from plain JSON, for the store (timers, explanations)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.alerts.model import Alert, AlertSeverity, AlertSource, AlertStatus


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def alert_to_json(alert: Alert) -> dict[str, Any]:
    return {
        "source": alert.source.value, "fingerprint": alert.fingerprint, "status": alert.status.value,
        "name": alert.name, "severity": alert.severity.value, "labels": dict(alert.labels),
        "annotations": dict(alert.annotations), "summary": alert.summary, "link": alert.link,
        "group_key": alert.group_key, "starts_at": _time(alert.starts_at), "ends_at": _time(alert.ends_at),
        "post_id": alert.post_id, "raw_title": alert.raw_title,
    }


def alert_from_json(data: dict[str, Any]) -> Alert:
    return Alert(
        source=AlertSource(data["source"]), fingerprint=data["fingerprint"], status=AlertStatus(data["status"]),
        name=data["name"], severity=AlertSeverity(data["severity"]), labels=data.get("labels") or {},
        annotations=data.get("annotations") or {}, summary=data.get("summary", ""), link=data.get("link", ""),
        group_key=data.get("group_key", ""), starts_at=_parse_time(data.get("starts_at")),
        ends_at=_parse_time(data.get("ends_at")), post_id=data.get("post_id", ""), raw_title=data.get("raw_title", ""),
    )
