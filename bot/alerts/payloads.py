"""Alerts from JSON payloads (HTTP webhook and MQTT sources): Alertmanager's webhook and a generic schema.

Both readers validate the whole payload before returning anything: on bad input they raise
`PayloadError(field, reason)` naming the offending field (`alerts[2].labels.instance`), never a half list.

Generic JSON alert schema (`alerts_from_generic_json`): either one alert object or
`{"alerts": [<alert>, ...]}`. An alert object has:

| field         | type                          | required | notes                                           |
| ------------- | ----------------------------- | -------- | ----------------------------------------------- |
| `name`        | string                        | yes      | non-empty                                       |
| `status`      | `"firing"` / `"resolved"`     | yes      | case-insensitive                                |
| `severity`    | string                        | no       | normalised to critical/warning/info; raw kept in `labels.severity` |
| `fingerprint` | string                        | no       | default: a hash of name and labels              |
| `group_key`   | string                        | no       |                                                 |
| `labels`      | object of string → string     | no       |                                                 |
| `annotations` | object of string → string     | no       |                                                 |
| `summary`     | string                        | no       | default: `annotations.summary`, else the name   |
| `link`        | string                        | no       | an http(s) URL                                  |
| `starts_at`   | RFC 3339 string with timezone | no       |                                                 |
| `ends_at`     | RFC 3339 string with timezone | no       |                                                 |
Unknown fields are refused, so a typo (`sumary`) is reported instead of silently dropped.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any, Mapping

from bot.alerts.model import (
    Alert, AlertSource, AlertStatus, hashed_fingerprint, normalise_severity, prometheus_fingerprint,
)

log = logging.getLogger(__name__)

ALERTMANAGER_WEBHOOK_VERSION = "4"
GRAFANA_WEBHOOK_VERSION = "1"
GENERIC_FIELDS = frozenset({
    "name", "status", "severity", "fingerprint", "group_key", "labels", "annotations", "summary", "link",
    "starts_at", "ends_at",
})
MAX_ALERTS = 1000
_URL_RE = re.compile(r"^https?://\S+$")


class PayloadError(ValueError):
    """A JSON alert payload is invalid; `field` names where (`alerts[0].status`), `reason` says why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(field, f"must be a JSON object, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def _string(data: Mapping[str, Any], key: str, field: str, *, required: bool = False, default: str = "") -> str:
    if key not in data or data[key] is None:
        if required:
            raise PayloadError(field, "is required")
        return default
    value = data[key]
    if not isinstance(value, str):
        raise PayloadError(field, f"must be a string, not {_kind(value)}")
    if required and not value.strip():
        raise PayloadError(field, "must not be empty")
    return value


def _string_map(data: Mapping[str, Any], key: str, field: str, *, required: bool = False) -> dict[str, str]:
    if key not in data or data[key] is None:
        if required:
            raise PayloadError(field, "is required")
        return {}
    value = _object(data[key], field)
    result: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(item, str):
            raise PayloadError(f"{field}.{name}", f"must be a string, not {_kind(item)}")
        result[name] = item
    return result


def _status(data: Mapping[str, Any], field: str) -> AlertStatus:
    raw = _string(data, "status", field, required=True).strip().lower()
    try:
        return AlertStatus(raw)
    except ValueError:
        raise PayloadError(field, f'must be "firing" or "resolved", not {data["status"]!r}') from None


def _timestamp(data: Mapping[str, Any], key: str, field: str) -> datetime | None:
    """Read an RFC 3339 time; Go's zero time (`0001-01-01T00:00:00Z`, Alertmanager's 'no end') is None."""
    raw = _string(data, key, field).strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise PayloadError(field, f"must be an RFC 3339 time, not {raw[:60]!r}") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise PayloadError(field, f"must include a timezone (for example 'Z'): {raw[:60]!r}")
    if value.year <= 1:
        return None
    return value


def _alert_list(data: Mapping[str, Any], field: str) -> list[Any]:
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError(field, "is required" if alerts is None else f"must be a list, not {_kind(alerts)}")
    if not alerts:
        raise PayloadError(field, "must not be empty")
    if len(alerts) > MAX_ALERTS:
        raise PayloadError(field, f"has {len(alerts)} alerts; at most {MAX_ALERTS} are accepted")
    return alerts


def _summary(annotations: Mapping[str, str], fallback: str) -> str:
    return annotations.get("summary") or annotations.get("description") or annotations.get("message") or fallback


def alerts_from_alertmanager_webhook(payload: dict) -> list[Alert]:
    """Read an Alertmanager `webhook_configs` payload (version "4"; Grafana's compatible version "1" too)."""
    data = _object(payload, "payload")
    version = _string(data, "version", "version", required=True)
    if version == ALERTMANAGER_WEBHOOK_VERSION:
        source = AlertSource.ALERTMANAGER
    elif version == GRAFANA_WEBHOOK_VERSION and "orgId" in data:
        source = AlertSource.GRAFANA
    else:
        raise PayloadError("version", f'unsupported webhook version {version!r} (expected "4")')
    group_key = _string(data, "groupKey", "groupKey", required=True)
    _status(data, "status")
    _string(data, "receiver", "receiver")
    external_url = _string(data, "externalURL", "externalURL")
    _string_map(data, "groupLabels", "groupLabels")
    common_labels = _string_map(data, "commonLabels", "commonLabels")
    _string_map(data, "commonAnnotations", "commonAnnotations")
    truncated = data.get("truncatedAlerts", 0)
    if truncated is not None and (not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0):
        raise PayloadError("truncatedAlerts", f"must be a whole number >= 0, not {truncated!r}")
    found: list[Alert] = []
    for index, item in enumerate(_alert_list(data, "alerts")):
        where = f"alerts[{index}]"
        alert = _object(item, where)
        labels = _string_map(alert, "labels", f"{where}.labels", required=True)
        annotations = _string_map(alert, "annotations", f"{where}.annotations")
        fingerprint = _string(alert, "fingerprint", f"{where}.fingerprint").strip()
        name = labels.get("alertname") or common_labels.get("alertname") or "unnamed alert"
        found.append(Alert(
            source=source,
            fingerprint=fingerprint or prometheus_fingerprint(labels),
            status=_status(alert, f"{where}.status"),
            name=name,
            severity=normalise_severity(labels.get("severity", "")),
            labels=labels,
            annotations=annotations,
            summary=_summary(annotations, name),
            link=_string(alert, "generatorURL", f"{where}.generatorURL") or external_url,
            group_key=group_key,
            starts_at=_timestamp(alert, "startsAt", f"{where}.startsAt"),
            ends_at=_timestamp(alert, "endsAt", f"{where}.endsAt"),
        ))
    return found


def _generic_alert(data: Mapping[str, Any], prefix: str) -> Alert:
    def at(key: str) -> str:
        return f"{prefix}{key}"

    for key in data:
        if key not in GENERIC_FIELDS:
            raise PayloadError(at(str(key)), f"unknown field (known: {', '.join(sorted(GENERIC_FIELDS))})")
    name = _string(data, "name", at("name"), required=True).strip()
    status = _status(data, at("status"))
    labels = _string_map(data, "labels", at("labels"))
    annotations = _string_map(data, "annotations", at("annotations"))
    severity_raw = _string(data, "severity", at("severity")).strip()
    if severity_raw:
        labels.setdefault("severity", severity_raw)
    link = _string(data, "link", at("link")).strip()
    if link and not _URL_RE.match(link):
        raise PayloadError(at("link"), f"must be an http(s) URL, not {link[:60]!r}")
    fingerprint = _string(data, "fingerprint", at("fingerprint")).strip()
    if "fingerprint" in data and data["fingerprint"] is not None and not fingerprint:
        raise PayloadError(at("fingerprint"), "must not be empty")
    identity = {k: v for k, v in labels.items() if k != "severity"}
    return Alert(
        source=AlertSource.JSON,
        fingerprint=fingerprint or hashed_fingerprint(AlertSource.JSON, name, identity),
        status=status,
        name=name,
        severity=normalise_severity(severity_raw or labels.get("severity", "")),
        labels=labels,
        annotations=annotations,
        summary=_string(data, "summary", at("summary")).strip() or _summary(annotations, name),
        link=link,
        group_key=_string(data, "group_key", at("group_key")),
        starts_at=_timestamp(data, "starts_at", at("starts_at")),
        ends_at=_timestamp(data, "ends_at", at("ends_at")),
    )


def alerts_from_generic_json(payload: dict) -> list[Alert]:
    """Read the generic JSON alert schema (see the module docstring): one alert, or `{"alerts": [...]}`."""
    data = _object(payload, "payload")
    if "alerts" not in data:
        return [_generic_alert(data, "")]
    extra = sorted(str(k) for k in data if k != "alerts")
    if extra:
        raise PayloadError(extra[0], 'unknown field next to "alerts"')
    return [
        _generic_alert(_object(item, f"alerts[{index}]"), f"alerts[{index}].")
        for index, item in enumerate(_alert_list(data, "alerts"))
    ]
