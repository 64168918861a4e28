"""JSON alert payloads: Alertmanager's webhook and the generic schema, including errors that name the field."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.alerts.model import AlertSeverity, AlertSource, AlertStatus, hashed_fingerprint, prometheus_fingerprint
from bot.alerts.payloads import PayloadError, alerts_from_alertmanager_webhook, alerts_from_generic_json

FIXTURES = Path(__file__).parent / "fixtures" / "alerts"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


# --- Alertmanager webhook ---

def test_alertmanager_webhook_firing():
    first, second = alerts_from_alertmanager_webhook(load("alertmanager_webhook_firing.json"))
    assert first.source is AlertSource.ALERTMANAGER
    assert first.status is AlertStatus.FIRING
    assert first.name == "InstanceDown"
    assert first.severity is AlertSeverity.CRITICAL
    assert first.labels == {"alertname": "InstanceDown", "instance": "10.0.0.11:9100", "job": "node", "severity": "critical"}
    assert first.annotations["summary"] == "Instance 10.0.0.11:9100 down"
    assert first.summary == "Instance 10.0.0.11:9100 down"
    assert first.fingerprint == prometheus_fingerprint(first.labels) == "8675d60ae63d6196"
    assert first.group_key == '{}:{alertname="InstanceDown"}'
    assert first.link == "http://prometheus.example.com:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
    assert first.starts_at == datetime(2026, 1, 1, 0, 0, 3, 123456, tzinfo=timezone.utc)
    assert first.ends_at is None  # Go's zero time means "no end"
    assert first.post_id == ""
    assert second.labels["instance"] == "10.0.0.12:9100"
    assert second.fingerprint != first.fingerprint


def test_alertmanager_webhook_resolved_matches_firing():
    firing = alerts_from_alertmanager_webhook(load("alertmanager_webhook_firing.json"))[0]
    (resolved,) = alerts_from_alertmanager_webhook(load("alertmanager_webhook_resolved.json"))
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.fingerprint == firing.fingerprint
    assert resolved.ends_at == datetime(2026, 1, 1, 0, 15, 3, 200000, tzinfo=timezone.utc)


def test_alertmanager_webhook_without_fingerprint_computes_it():
    payload = load("alertmanager_webhook_firing.json")
    del payload["alerts"][0]["fingerprint"]
    first = alerts_from_alertmanager_webhook(payload)[0]
    assert first.fingerprint == "8675d60ae63d6196"


def test_grafana_webhook_version_1_is_read_as_grafana():
    payload = load("alertmanager_webhook_firing.json")
    payload.update(version="1", orgId=1, title="[FIRING:2] InstanceDown", state="alerting")
    alerts = alerts_from_alertmanager_webhook(payload)
    assert {a.source for a in alerts} == {AlertSource.GRAFANA}


def _set(path: str, value):
    """Return a function that sets `a.b[0].c` in a payload (value `...` deletes it)."""
    def apply(payload: dict) -> dict:
        target = payload
        parts = path.replace("]", "").replace("[", ".").split(".")
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target[part]
        last = parts[-1]
        if value is ...:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
        return payload
    return apply


@pytest.mark.parametrize("change, field", [
    (_set("version", "3"), "version"),
    (_set("version", ...), "version"),
    (_set("version", 4), "version"),
    (_set("groupKey", ...), "groupKey"),
    (_set("status", "exploded"), "status"),
    (_set("commonLabels", ["a"]), "commonLabels"),
    (_set("groupLabels.alertname", 7), "groupLabels.alertname"),
    (_set("externalURL", False), "externalURL"),
    (_set("truncatedAlerts", -1), "truncatedAlerts"),
    (_set("alerts", ...), "alerts"),
    (_set("alerts", []), "alerts"),
    (_set("alerts", {"0": {}}), "alerts"),
    (_set("alerts[1]", "not an alert"), "alerts[1]"),
    (_set("alerts[1].status", "FIRING!"), "alerts[1].status"),
    (_set("alerts[1].status", ...), "alerts[1].status"),
    (_set("alerts[1].labels", ...), "alerts[1].labels"),
    (_set("alerts[1].labels.instance", 9100), "alerts[1].labels.instance"),
    (_set("alerts[0].annotations.summary", None), "alerts[0].annotations.summary"),
    (_set("alerts[1].startsAt", "yesterday"), "alerts[1].startsAt"),
    (_set("alerts[1].startsAt", "2026-01-01T00:00:00"), "alerts[1].startsAt"),
    (_set("alerts[1].endsAt", 0), "alerts[1].endsAt"),
    (_set("alerts[1].fingerprint", 123), "alerts[1].fingerprint"),
    (_set("alerts[1].generatorURL", {}), "alerts[1].generatorURL"),
])
def test_alertmanager_webhook_errors_name_the_field(change, field):
    payload = change(load("alertmanager_webhook_firing.json"))
    with pytest.raises(PayloadError) as caught:
        alerts_from_alertmanager_webhook(payload)
    assert caught.value.field == field
    assert caught.value.reason and field in str(caught.value)


@pytest.mark.parametrize("payload", [None, [], "x", 4])
def test_alertmanager_webhook_rejects_non_objects(payload):
    with pytest.raises(PayloadError) as caught:
        alerts_from_alertmanager_webhook(payload)  # type: ignore[arg-type]
    assert caught.value.field == "payload"


# --- generic JSON ---

FULL = {
    "name": "Disk almost full",
    "status": "firing",
    "severity": "High",
    "fingerprint": "db1-disk-var",
    "group_key": "db1",
    "labels": {"host": "db1", "mount": "/var"},
    "annotations": {"runbook": "https://runbooks.example.com/disk"},
    "summary": "/var on db1 is 93% full",
    "link": "https://grafana.example.com/d/disk?var-host=db1",
    "starts_at": "2026-01-01T09:30:00+01:00",
}


def test_generic_json_single_alert():
    (alert,) = alerts_from_generic_json(FULL)
    assert alert.source is AlertSource.JSON
    assert (alert.name, alert.status, alert.severity) == ("Disk almost full", AlertStatus.FIRING, AlertSeverity.CRITICAL)
    assert alert.fingerprint == "db1-disk-var"
    assert alert.group_key == "db1"
    assert alert.labels == {"host": "db1", "mount": "/var", "severity": "High"}
    assert alert.annotations == {"runbook": "https://runbooks.example.com/disk"}
    assert alert.summary == "/var on db1 is 93% full"
    assert alert.link == "https://grafana.example.com/d/disk?var-host=db1"
    assert alert.starts_at == datetime(2026, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert alert.ends_at is None and alert.post_id == ""


def test_generic_json_minimal_alert_gets_defaults_and_a_stable_fingerprint():
    (alert,) = alerts_from_generic_json({"name": "Queue stuck", "status": "RESOLVED", "labels": {"queue": "mail"}})
    assert alert.status is AlertStatus.RESOLVED
    assert alert.severity is AlertSeverity.WARNING
    assert alert.summary == "Queue stuck"
    assert alert.fingerprint == hashed_fingerprint(AlertSource.JSON, "Queue stuck", {"queue": "mail"})
    (again,) = alerts_from_generic_json({"name": "Queue stuck", "status": "firing", "severity": "info",
                                         "labels": {"queue": "mail"}})
    assert again.fingerprint == alert.fingerprint  # severity is not part of the identity


def test_generic_json_batch():
    alerts = alerts_from_generic_json({"alerts": [FULL, {"name": "Other", "status": "resolved"}]})
    assert [a.name for a in alerts] == ["Disk almost full", "Other"]


@pytest.mark.parametrize("payload, field", [
    ({"status": "firing"}, "name"),
    ({"name": "  ", "status": "firing"}, "name"),
    ({"name": 5, "status": "firing"}, "name"),
    ({"name": "x"}, "status"),
    ({"name": "x", "status": "open"}, "status"),
    ({"name": "x", "status": "firing", "labels": "host=db1"}, "labels"),
    ({"name": "x", "status": "firing", "labels": {"port": 5432}}, "labels.port"),
    ({"name": "x", "status": "firing", "annotations": {"n": [1]}}, "annotations.n"),
    ({"name": "x", "status": "firing", "severity": 1}, "severity"),
    ({"name": "x", "status": "firing", "fingerprint": ""}, "fingerprint"),
    ({"name": "x", "status": "firing", "link": "javascript:alert(1)"}, "link"),
    ({"name": "x", "status": "firing", "starts_at": "2026-01-01T00:00:00"}, "starts_at"),
    ({"name": "x", "status": "firing", "ends_at": "soon"}, "ends_at"),
    ({"name": "x", "status": "firing", "sumary": "typo"}, "sumary"),
    ({"alerts": []}, "alerts"),
    ({"alerts": "x"}, "alerts"),
    ({"alerts": [FULL], "source": "x"}, "source"),
    ({"alerts": [FULL, None]}, "alerts[1]"),
    ({"alerts": [FULL, {"name": "x", "status": "firing", "labels": {"a": None}}]}, "alerts[1].labels.a"),
    ({"alerts": [FULL, {"name": "x", "status": "maybe"}]}, "alerts[1].status"),
])
def test_generic_json_errors_name_the_field(payload, field):
    with pytest.raises(PayloadError) as caught:
        alerts_from_generic_json(copy.deepcopy(payload))
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_generic_json_rejects_non_objects():
    with pytest.raises(PayloadError) as caught:
        alerts_from_generic_json(["not", "an", "object"])  # type: ignore[arg-type]
    assert caught.value.field == "payload"
