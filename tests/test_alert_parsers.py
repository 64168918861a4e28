"""Alert recognition in Mattermost posts: every fixture, resolved variants, garbage, generic rules, speed."""
from __future__ import annotations

import copy
import json
import random
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.alerts.model import (
    Alert, AlertSeverity, AlertSource, AlertStatus, hashed_fingerprint, normalise_severity,
    prometheus_fingerprint,
)
from bot.alerts.parsers import AlertParser, Recognition, default_parsers, recognise
from bot.alerts.parsers import alertmanager, grafana, nagios, uptime_kuma, zabbix
from bot.alerts.parsers.generic import GenericRule, GenericRuleError
from bot.alerts.payloads import alerts_from_alertmanager_webhook
from bot.mattermost.events import Post

FIXTURES = Path(__file__).parent / "fixtures" / "alerts"
PARSE_FUNCTIONS = [zabbix.parse, uptime_kuma.parse, grafana.parse, alertmanager.parse, nagios.parse]


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def post_from(name: str) -> Post:
    return Post.from_json(load(name))


def recognised(name: str) -> Recognition:
    return recognise(post_from(name), default_parsers())


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# --- every fixture, field by field ---

def test_alertmanager_slack_firing_is_one_alert_for_the_group():
    result = recognised("alertmanager_slack_firing.json")
    assert result.parser == "alertmanager" and result.is_alert
    (alert,) = result.alerts
    assert alert.source is AlertSource.ALERTMANAGER
    assert alert.status is AlertStatus.FIRING
    assert alert.name == "InstanceDown"
    assert alert.severity is AlertSeverity.CRITICAL
    assert alert.labels == {"alertname": "InstanceDown", "severity": "critical"}
    assert alert.annotations["firing_count"] == "2"
    assert alert.annotations["group_labels"] == "InstanceDown"
    assert alert.annotations["common_labels"] == "node critical"
    assert alert.group_key == "InstanceDown"
    assert alert.fingerprint == hashed_fingerprint(AlertSource.ALERTMANAGER, "InstanceDown")
    assert alert.link == "http://alertmanager.example.com:9093/#/alerts?receiver=mattermost"
    assert alert.raw_title == "[FIRING:2] InstanceDown (node critical)"
    assert alert.summary == "[FIRING:2] InstanceDown (node critical)"
    assert alert.post_id == "c3w8yq1kzfb6jxtp1yp7bxq5ho"
    assert alert.starts_at == utc(2026, 1, 1) and alert.ends_at is None


def test_alertmanager_slack_resolved_has_the_firing_fingerprint():
    firing = recognised("alertmanager_slack_firing.json").alerts[0]
    (resolved,) = recognised("alertmanager_slack_resolved.json").alerts
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.fingerprint == firing.fingerprint
    assert resolved.group_key == firing.group_key
    assert "firing_count" not in resolved.annotations
    assert resolved.starts_at is None and resolved.ends_at == utc(2026, 1, 1, 0, 15)


def test_alertmanager_alert_list_gives_one_alert_each_with_the_webhook_fingerprint():
    result = recognised("alertmanager_slack_alert_list_firing.json")
    assert result.parser == "alertmanager"
    first, second = result.alerts
    assert first.labels == {"alertname": "InstanceDown", "instance": "10.0.0.11:9100", "job": "node", "severity": "critical"}
    assert first.annotations["summary"] == "Instance 10.0.0.11:9100 down"
    assert first.summary == "Instance 10.0.0.11:9100 down"
    assert first.link == "http://prometheus.example.com:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
    assert second.labels["instance"] == "10.0.0.12:9100"
    assert {a.status for a in result.alerts} == {AlertStatus.FIRING}
    webhook = alerts_from_alertmanager_webhook(load("alertmanager_webhook_firing.json"))
    assert [a.fingerprint for a in result.alerts] == [a.fingerprint for a in webhook]
    assert first.fingerprint == prometheus_fingerprint(first.labels) != second.fingerprint


def test_grafana_firing():
    result = recognised("grafana_slack_firing.json")
    assert result.parser == "grafana"
    (alert,) = result.alerts
    assert alert.source is AlertSource.GRAFANA
    assert alert.status is AlertStatus.FIRING
    assert alert.name == "HighCPU"
    assert alert.severity is AlertSeverity.CRITICAL
    assert alert.labels == {"alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web01:9100", "severity": "critical"}
    assert alert.annotations["summary"] == "CPU usage above 95% on web01:9100"
    assert alert.annotations["value"] == "B=97.3, C=1"
    assert alert.annotations["silence_url"].startswith("https://grafana.example.com/alerting/silence/new?")
    assert alert.annotations["dashboard_url"] == "https://grafana.example.com/d/rYdddlPWk?orgId=1"
    assert alert.summary == "CPU usage above 95% on web01:9100"
    assert alert.link == "https://grafana.example.com/alerting/grafana/bdq4u0n7xfy0wd/view?orgId=1"
    assert alert.group_key == "HighCPU Infra"
    assert alert.fingerprint == prometheus_fingerprint(alert.labels)
    assert alert.raw_title == "[FIRING:1] HighCPU Infra (web01:9100 critical)"


def test_grafana_resolved_matches_firing():
    firing = recognised("grafana_slack_firing.json").alerts[0]
    (resolved,) = recognised("grafana_slack_resolved.json").alerts
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.fingerprint == firing.fingerprint
    assert resolved.ends_at == utc(2026, 1, 1, 0, 20)


def test_grafana_mixed_post_has_a_firing_and_a_resolved_alert():
    result = recognised("grafana_slack_mixed.json")
    firing, resolved = result.alerts
    assert (firing.status, firing.labels["instance"]) == (AlertStatus.FIRING, "web02:9100")
    assert (resolved.status, resolved.labels["instance"]) == (AlertStatus.RESOLVED, "web01:9100")
    assert resolved.fingerprint == recognised("grafana_slack_firing.json").alerts[0].fingerprint


def test_nagios_service_problem_and_recovery():
    (problem,) = recognised("nagios_service_problem.json").alerts
    assert problem.source is AlertSource.NAGIOS
    assert problem.status is AlertStatus.FIRING
    assert problem.name == "web01/HTTP"
    assert problem.severity is AlertSeverity.CRITICAL
    assert problem.labels == {"host": "web01", "service": "HTTP", "address": "10.0.0.11", "state": "CRITICAL",
                              "severity": "CRITICAL", "notification_type": "PROBLEM"}
    assert problem.summary == "CRITICAL - Socket timeout after 10 seconds"
    assert problem.link == "https://nagios.example.com/nagios/cgi-bin/extinfo.cgi?type=2&host=web01&service=HTTP"
    assert problem.group_key == "web01"
    (recovery,) = recognised("nagios_service_recovery.json").alerts
    assert recovery.status is AlertStatus.RESOLVED
    assert recovery.severity is AlertSeverity.INFO
    assert recovery.labels["state"] == "OK"
    assert recovery.fingerprint == problem.fingerprint


def test_nagios_host_problem():
    (alert,) = recognised("nagios_host_problem.json").alerts
    assert (alert.source, alert.status, alert.name) == (AlertSource.NAGIOS, AlertStatus.FIRING, "db01")
    assert alert.severity is AlertSeverity.CRITICAL
    assert "service" not in alert.labels and alert.labels["state"] == "DOWN"
    assert alert.summary == "CRITICAL - Host Unreachable (10.0.0.21)"


def test_icinga_service_problem():
    result = recognised("icinga_service_problem.json")
    assert result.parser == "nagios"
    (alert,) = result.alerts
    assert (alert.source, alert.status, alert.name) == (AlertSource.ICINGA, AlertStatus.FIRING, "web01/disk /var")
    assert alert.severity is AlertSeverity.WARNING
    assert alert.labels["service"] == "disk /var"
    assert alert.summary == "DISK WARNING - free space: /var 1843 MB (9.1% inode=97%):"


def test_icinga_host_recovery():
    (alert,) = recognised("icinga_host_recovery.json").alerts
    assert (alert.source, alert.status, alert.name) == (AlertSource.ICINGA, AlertStatus.RESOLVED, "db01")
    assert alert.labels["state"] == "UP" and alert.severity is AlertSeverity.INFO
    assert alert.summary == "PING OK - Packet loss = 0%, RTA = 0.41 ms"


def test_icinga_bot_post():
    (alert,) = recognised("icinga_bot_service_problem.json").alerts
    assert (alert.source, alert.status, alert.name) == (AlertSource.ICINGA, AlertStatus.FIRING, "web01.example.com/ping4")
    assert alert.severity is AlertSeverity.CRITICAL
    assert alert.summary == "PING CRITICAL - Packet loss = 100%"
    assert alert.link.startswith("https://icinga.example.com/icingaweb2/")


def test_zabbix_problem():
    result = recognised("zabbix_problem.json")
    assert result.parser == "zabbix"
    (alert,) = result.alerts
    assert alert.source is AlertSource.ZABBIX
    assert alert.status is AlertStatus.FIRING
    assert alert.fingerprint == "zabbix:1084523"
    assert alert.group_key == "zabbix-trigger:23871"
    assert alert.name == "High CPU utilization (over 90% for 5m)"
    assert alert.severity is AlertSeverity.CRITICAL
    assert alert.labels["severity"] == "High"
    assert alert.labels["host"] == "web01" and alert.labels["host_ip"] == "10.0.0.11"
    assert alert.labels["trigger_id"] == "23871" and alert.labels["event_id"] == "1084523"
    assert alert.labels["component"] == "cpu" and alert.labels["scope"] == "performance"
    assert alert.annotations["opdata"] == "Current utilization: 97.2 %"
    assert alert.annotations["event_time"] == "2026.01.01 00:00:00"
    assert alert.link == "https://zabbix.example.com/tr_events.php?triggerid=23871&eventid=1084523"
    assert alert.post_id == "rq8bq5hd4jrxzngx6cu3dq5ime"


def test_zabbix_recovery_edit_keeps_the_fingerprint_and_post():
    (problem,) = recognised("zabbix_problem.json").alerts
    (recovery,) = recognised("zabbix_recovery_edited.json").alerts
    assert recovery.status is AlertStatus.RESOLVED
    assert recovery.fingerprint == problem.fingerprint == "zabbix:1084523"
    assert recovery.post_id == problem.post_id
    assert recovery.name == problem.name
    assert recovery.raw_title.startswith("Resolved in 12m 5s: ")
    assert recovery.ends_at == utc(2026, 1, 1, 0, 12, 5)
    assert recovery.labels["component"] == "cpu"
    assert not any(k.startswith("__") for k in recovery.labels)


def test_zabbix_update_reply_is_a_firing_update_of_the_same_event():
    (update,) = recognised("zabbix_update_reply.json").alerts
    assert update.status is AlertStatus.FIRING
    assert update.fingerprint == "zabbix:1084523"
    assert update.annotations["event_update"] == "true"
    assert update.summary == "Alice Admin acknowledged problem at 2026.01.01 00:03:10."


def test_uptime_kuma_down_and_up():
    result = recognised("uptime_kuma_down.json")
    assert result.parser == "uptime_kuma"
    (down,) = result.alerts
    assert (down.source, down.status, down.name) == (AlertSource.UPTIME_KUMA, AlertStatus.FIRING, "Shop API")
    assert down.severity is AlertSeverity.CRITICAL
    assert down.summary == "Request failed with status code 503"
    assert down.annotations == {"error": "Request failed with status code 503"}
    assert down.link == "https://shop.example.com/api/health"
    assert down.starts_at == datetime(2026, 1, 1, 0, 0, 12, 345000, tzinfo=timezone.utc)
    (up,) = recognised("uptime_kuma_up.json").alerts
    assert up.status is AlertStatus.RESOLVED and up.severity is AlertSeverity.INFO
    assert up.fingerprint == down.fingerprint
    assert up.annotations == {"ping": "84ms"}
    assert up.ends_at == datetime(2026, 1, 1, 0, 7, 42, 1000, tzinfo=timezone.utc)


def test_uptime_kuma_test_message_is_not_an_alert():
    result = recognised("uptime_kuma_test_message.json")
    assert not result.is_alert and result.parser == "" and result.reason


ALL_POST_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.json") if "_webhook_" not in p.name)


@pytest.mark.parametrize("name", ALL_POST_FIXTURES)
def test_every_post_fixture_is_recognised_by_exactly_one_builtin_parser(name):
    post = post_from(name)
    matching = [f.__module__ for f in PARSE_FUNCTIONS if f(post)]
    expected = 0 if name == "uptime_kuma_test_message.json" else 1
    assert len(matching) == expected, matching
    for alert in recognise(post, default_parsers()).alerts:
        assert alert.fingerprint and alert.name and alert.post_id == post.id
        assert alert.starts_at is None or alert.starts_at.tzinfo is not None
        assert alert.ends_at is None or alert.ends_at.tzinfo is not None


# --- the model ---

def test_prometheus_fingerprint_matches_prometheus_common_test_vectors():
    assert int(prometheus_fingerprint({}), 16) == 14695981039346656037
    assert int(prometheus_fingerprint({"name": "garland, briggs", "fear": "love is not enough"}), 16) == 5799056148416392346
    assert int(prometheus_fingerprint({"first-label": "first-label-value"}), 16) == 5146282821936882169


@pytest.mark.parametrize("raw, expected", [
    ("critical", AlertSeverity.CRITICAL), ("Disaster", AlertSeverity.CRITICAL), ("High", AlertSeverity.CRITICAL),
    ("CRITICAL", AlertSeverity.CRITICAL), ("DOWN", AlertSeverity.CRITICAL), ("P1", AlertSeverity.CRITICAL),
    ("Average", AlertSeverity.WARNING), ("warning", AlertSeverity.WARNING), ("UNKNOWN", AlertSeverity.WARNING),
    ("Information", AlertSeverity.INFO), ("Not classified", AlertSeverity.INFO), ("OK", AlertSeverity.INFO),
    ("", AlertSeverity.WARNING), ("whatever", AlertSeverity.WARNING),
])
def test_normalise_severity(raw, expected):
    assert normalise_severity(raw) is expected


def test_alert_is_frozen_and_its_mappings_are_read_only():
    labels = {"a": "1"}
    alert = Alert(AlertSource.JSON, "fp", AlertStatus.FIRING, "n", labels=labels)
    labels["a"] = "2"
    assert alert.labels["a"] == "1"
    with pytest.raises(TypeError):
        alert.labels["b"] = "x"  # type: ignore[index]
    with pytest.raises(AttributeError):
        alert.name = "other"  # type: ignore[misc]
    assert hash(alert) == hash(Alert(AlertSource.JSON, "fp", AlertStatus.FIRING, "n", labels={"a": "1"}))


# --- garbage never raises ---

def _post(**kw) -> Post:
    base = {"id": "p1", "channel_id": "c1", "user_id": "u1"}
    base.update(kw)
    return Post(**base)


WEIRD_TEXT = "\u202e\u0000\ufeff\U0001f525 \ud800 ñ̃ \u200b[FIRING:x] __PROBLEM__ is"
GARBAGE_POSTS = [
    pytest.param(_post(), id="empty"),
    pytest.param(_post(props=None), id="props-none"),  # type: ignore[arg-type]
    pytest.param(_post(message=None), id="message-none"),  # type: ignore[arg-type]
    pytest.param(_post(props={"attachments": None}), id="attachments-none"),
    pytest.param(_post(props={"attachments": "[FIRING:1] x"}), id="attachments-string"),
    pytest.param(_post(props={"attachments": {"title": "[FIRING:1] x"}}), id="attachments-dict"),
    pytest.param(_post(props={"attachments": []}), id="attachments-empty"),
    pytest.param(_post(props={"attachments": [None, 1, "x", [], True]}), id="attachments-wrong-items"),
    pytest.param(_post(props={"attachments": [{"title": 5, "text": None, "fields": "x"}]}), id="wrong-types"),
    pytest.param(_post(props={"attachments": [{"title": "Problem: x", "fields": [None, 1, {"title": [], "value": {}}]}]}), id="fields-wrong"),
    pytest.param(_post(props={"attachments": [{"title": ["[FIRING:1] x"], "title_link": {"a": 1}}]}), id="title-list"),
    pytest.param(_post(message="x" * 16_383), id="16k-message"),
    pytest.param(_post(message="[" * 16_000), id="16k-brackets"),
    pytest.param(_post(message="__PROBLEM__ " + "a is " * 3000), id="nagios-backtracking"),
    pytest.param(_post(message="Labels:\n" + " - a = b\n" * 3000), id="labels-without-subject"),
    pytest.param(_post(message=WEIRD_TEXT), id="odd-unicode"),
    pytest.param(_post(props={"attachments": [{"title": WEIRD_TEXT, "text": WEIRD_TEXT * 100}]}), id="odd-unicode-attachment"),
    pytest.param(_post(message="hello team, lunch at noon?"), id="chat"),
    pytest.param(_post(message="[RESOLVED]"), id="bare-resolved"),
    pytest.param(Post.from_json({"id": 3, "props": "x", "message": ["a"], "create_at": "now"}), id="from-json-garbage"),
]


@pytest.mark.parametrize("post", GARBAGE_POSTS)
def test_garbage_is_not_an_alert_and_never_raises(post):
    for parse in PARSE_FUNCTIONS:
        assert parse(post) == []
    result = recognise(post, default_parsers([GenericRule("r", r"ALARM (?P<name>\w+)")]))
    assert isinstance(result, Recognition)
    assert not result.is_alert and result.reason


@pytest.mark.parametrize("post, reason", [
    (_post(type="system_join_channel", message="[FIRING:1] x joined"), "system post"),
    (_post(message="[FIRING:1] x", delete_at=5), "deleted"),
    (_post(message="   "), "empty"),
])
def test_recognise_skips_system_deleted_and_empty_posts(post, reason):
    result = recognise(post, default_parsers())
    assert not result.is_alert and reason in result.reason


def test_odd_but_valid_alert_still_parses():
    post = _post(message=":fire:__PROBLEM__ wéb01 at 10.0.0.1/ℍTTP 🔥 is CRITICAL\n\ud800 odd output")
    (alert,) = recognise(post, default_parsers()).alerts
    assert alert.name == "wéb01/ℍTTP 🔥" and alert.summary == "\ud800 odd output"


def _mutate(value, rng: random.Random, depth: int = 0):
    """Replace random parts of a JSON tree with values of the wrong type."""
    junk = [None, 0, -1, 1.5, True, "", "[FIRING:1]", "x" * 50, [], {}, [None], {"title": None}, "\ud800"]
    if rng.random() < 0.15 or depth > 6:
        return rng.choice(junk)
    if isinstance(value, dict):
        return {k: _mutate(v, rng, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_mutate(v, rng, depth + 1) for v in value]
    if isinstance(value, str) and value and rng.random() < 0.2:
        cut = rng.randrange(len(value))
        return value[:cut] + rng.choice(["", "\n", "[", "]", "(", "__", " is ", ":", "\u202e"]) + value[cut:]
    return value


@pytest.mark.parametrize("name", ALL_POST_FIXTURES)
def test_fuzzed_fixtures_never_raise(name):
    rng = random.Random(name)
    original = load(name)
    for _ in range(150):
        mutated = _mutate(copy.deepcopy(original), rng)
        post = Post.from_json(mutated if isinstance(mutated, dict) else {})
        for parse in PARSE_FUNCTIONS:
            for alert in parse(post):
                assert isinstance(alert, Alert) and alert.fingerprint
        assert isinstance(recognise(post, default_parsers()), Recognition)


def test_a_failing_parser_is_skipped():
    def broken(post: Post) -> list[Alert]:
        raise RuntimeError("bug")

    parsers = [AlertParser("broken", broken), *default_parsers()]
    result = recognise(post_from("zabbix_problem.json"), parsers)
    assert result.parser == "zabbix"


# --- generic regex rules from config ---

BACKUP_RULE = dict(
    rule_name="backup",
    pattern=r"Backup (?P<status>FAILED|OK) for (?P<name>\S+) on (?P<host>\S+)(?: severity=(?P<severity>\w+))?",
    firing_values=("failed",), resolved_values=("ok",),
)


def test_generic_rule_reads_message():
    rule = GenericRule(**BACKUP_RULE, static_labels={"team": "dba"})
    post = _post(message="Backup FAILED for nightly-db on db01 severity=high, see https://backup.example.com/runs/42")
    result = recognise(post, default_parsers([rule]))
    assert result.parser == "generic:backup"
    (alert,) = result.alerts
    assert alert.source is AlertSource.GENERIC
    assert (alert.status, alert.name, alert.severity) == (AlertStatus.FIRING, "nightly-db", AlertSeverity.CRITICAL)
    assert alert.labels == {"team": "dba", "host": "db01", "severity": "high"}
    assert alert.link == "https://backup.example.com/runs/42"
    assert alert.annotations == {"rule": "backup"}
    ok = rule.parse(_post(message="Backup OK for nightly-db on db01"))[0]
    assert ok.status is AlertStatus.RESOLVED
    assert ok.fingerprint == alert.fingerprint


def test_generic_rule_reads_attachment_title_text_and_fields():
    rule = GenericRule(
        rule_name="ci", pattern=r"Pipeline (?P<name>\S+) (?P<status>broke|fixed)\nBranch: (?P<branch>\S+)\nOwner: (?P<summary>.+)",
        firing_values=("broke",), resolved_values=("fixed",),
    )
    post = _post(props={"attachments": [{"title": "Pipeline api broke", "fields": [
        {"title": "Branch", "value": "main"}, {"title": "Owner", "value": "team-api"}]}]})
    (alert,) = rule.parse(post)
    assert (alert.name, alert.status, alert.summary) == ("api", AlertStatus.FIRING, "team-api")
    assert alert.labels == {"branch": "main"}


def test_generic_rule_fingerprint_group_and_unknown_status():
    rule = GenericRule(rule_name="ticket", pattern=r"#(?P<fingerprint>\d+) (?P<name>\w+) is (?P<status>\w+)")
    assert rule.parse(_post(message="#812 disk is firing"))[0].fingerprint == "812"
    assert rule.parse(_post(message="#812 disk is sleeping")) == []
    assert rule.parse(_post(message="nothing here")) == []


def test_generic_rule_without_name_group_uses_alert_name():
    rule = GenericRule(rule_name="heartbeat", pattern=r"heartbeat missing", alert_name="Heartbeat missing")
    (alert,) = rule.parse(_post(message="WARN: heartbeat missing from edge-3"))
    assert (alert.name, alert.status) == ("Heartbeat missing", AlertStatus.FIRING)


@pytest.mark.parametrize("kwargs, words", [
    (dict(rule_name="bad", pattern=r"(?P<name>\w+"), ["'bad'", "not a valid regular expression", "position"]),
    (dict(rule_name="noname", pattern=r"disk full"), ["'noname'", "(?P<name>...)", "alert_name"]),
    (dict(rule_name="", pattern=r"(?P<name>x)"), ["rule_name"]),
    (dict(rule_name="empty", pattern=""), ["'empty'", "pattern"]),
    (dict(rule_name="both", pattern=r"(?P<name>x) (?P<status>y)", firing_values=("ok",), resolved_values=("OK",)),
     ["'both'", "firing_values", "resolved_values"]),
])
def test_generic_rule_is_validated_at_construction(kwargs, words):
    with pytest.raises(GenericRuleError) as caught:
        GenericRule(**kwargs)
    for word in words:
        assert word in str(caught.value)
