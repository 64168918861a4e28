"""Escalation rules: matching on every field, time windows across time zones, first match, validation errors."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.alerts.model import Alert, AlertSeverity, AlertSource, AlertStatus
from bot.alerts.rules import (
    Rule, RuleAction, evaluate, load_rules, parse_duration, rules_from_document,
)
from bot.config import ConfigError
from bot.incidents.model import Severity
from bot.yamlsource import parse_yaml

NOON = datetime(2026, 1, 7, 12, 0, tzinfo=timezone.utc)  # a Wednesday


def alert(name: str = "DiskFull", **fields) -> Alert:
    values = dict(source=AlertSource.ALERTMANAGER, fingerprint=f"fp-{name}", status=AlertStatus.FIRING, name=name,
                  severity=AlertSeverity.CRITICAL, labels={"alertname": name, "env": "prod", "team": "db"})
    values.update(fields)
    return Alert(**values)


def rules(text: str, file: str = "rules.yaml") -> tuple[Rule, ...]:
    return rules_from_document(parse_yaml(text, file))


def one_rule(match_yaml: str, extra: str = "") -> Rule:
    indented = "\n".join("      " + line for line in match_yaml.strip().splitlines())
    (rule,) = rules(f"rules:\n  - name: r\n    action: notify\n{extra}    match:\n{indented}\n")
    return rule


def matches(rule: Rule, an_alert: Alert, now: datetime = NOON) -> bool:
    return bool(evaluate([rule], an_alert, now))


def problems(text: str, file: str = "rules.yaml") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        rules(text, file)
    return [str(p) for p in caught.value.problems]


# --- matching, field by field ---

def test_a_rule_without_match_matches_every_alert():
    (rule,) = rules("rules:\n  - name: all\n    action: open_incident\n")
    assert matches(rule, alert()) and matches(rule, alert("Other", source=AlertSource.NAGIOS))


def test_source_one_or_a_list():
    rule = one_rule("source: zabbix")
    assert matches(rule, alert(source=AlertSource.ZABBIX))
    assert not matches(rule, alert(source=AlertSource.NAGIOS))
    rule = one_rule("source: [nagios, icinga]")
    assert matches(rule, alert(source=AlertSource.ICINGA))
    assert not matches(rule, alert(source=AlertSource.ALERTMANAGER))


def test_alertname_exact_and_regex_and_the_name_alias():
    assert matches(one_rule("alertname: DiskFull"), alert("DiskFull"))
    assert not matches(one_rule("alertname: DiskFull"), alert("DiskFullSoon"))
    regex = one_rule('alertname: "~Disk.*|Mem"')
    assert matches(regex, alert("DiskFullSoon")) and matches(regex, alert("Mem"))
    assert not matches(regex, alert("MemHigh")), "regexes are anchored, as in Alertmanager matchers"
    assert matches(one_rule("name: '!~Disk.*'"), alert("CPU"))


def test_severity_one_or_a_list():
    rule = one_rule("severity: [critical, warning]")
    assert matches(rule, alert(severity=AlertSeverity.WARNING))
    assert not matches(rule, alert(severity=AlertSeverity.INFO))
    assert matches(one_rule("severity: info"), alert(severity=AlertSeverity.INFO))


def test_labels_exact_regex_and_negation():
    rule = one_rule("labels:\n  env: prod\n  team: '~db|storage'")
    assert matches(rule, alert(labels={"env": "prod", "team": "storage"}))
    assert not matches(rule, alert(labels={"env": "prod", "team": "web"}))
    assert not matches(rule, alert(labels={"env": "dev", "team": "db"}))
    negated = one_rule("labels:\n  env: '!dev'\n  team: '!~web.*'")
    assert matches(negated, alert(labels={"env": "prod", "team": "db"}))
    assert not matches(negated, alert(labels={"env": "dev", "team": "db"}))
    assert not matches(negated, alert(labels={"env": "prod", "team": "webshop"}))


def test_an_absent_label_counts_as_not_equal():
    absent = alert(labels={"alertname": "DiskFull"})
    assert not matches(one_rule("labels: {env: prod}"), absent)
    assert not matches(one_rule("labels: {env: '~.*'}"), absent)
    assert matches(one_rule("labels: {env: '!prod'}"), absent)
    assert matches(one_rule("labels: {env: '!~.*'}"), absent)


def test_alertname_label_falls_back_to_the_alert_name():
    assert matches(one_rule("labels: {alertname: HostDown}"), alert("HostDown", labels={}))


def test_text_searches_summary_annotations_and_title():
    rule = one_rule("text: '(?i)out of space'")
    assert matches(rule, alert(summary="Volume OUT OF SPACE on db1"))
    assert matches(rule, alert(annotations={"description": "disk is out of space"}))
    assert matches(rule, alert(raw_title="[FIRING] out of space"))
    assert not matches(rule, alert(summary="all good"))


def test_all_conditions_must_hold():
    rule = one_rule("source: alertmanager\nseverity: critical\nlabels: {env: prod}")
    assert matches(rule, alert())
    assert not matches(rule, alert(severity=AlertSeverity.WARNING))


# --- time windows ---

BUSINESS_HOURS = "time:\n  days: mon-fri\n  hours: '09:00-17:00'\n  timezone: Europe/Berlin"


@pytest.mark.parametrize("when, inside", [
    (datetime(2026, 1, 5, 8, 30, tzinfo=timezone.utc), True),    # Monday 09:30 in Berlin (UTC+1)
    (datetime(2026, 1, 5, 7, 59, tzinfo=timezone.utc), False),   # 08:59 in Berlin
    (datetime(2026, 1, 5, 16, 0, tzinfo=timezone.utc), False),   # 17:00 in Berlin: the end is exclusive
    (datetime(2026, 1, 5, 15, 59, tzinfo=timezone.utc), True),
    (datetime(2026, 7, 6, 7, 30, tzinfo=timezone.utc), True),    # summer time: 09:30 in Berlin (UTC+2)
    (datetime(2026, 7, 6, 15, 30, tzinfo=timezone.utc), False),  # 17:30 in Berlin
    (datetime(2026, 1, 10, 10, 0, tzinfo=timezone.utc), False),  # Saturday
    (datetime(2026, 1, 5, 9, 30), True),                         # naive datetimes are UTC
])
def test_business_hours_in_a_time_zone(when, inside):
    assert matches(one_rule(BUSINESS_HOURS), alert(), when) is inside


def test_the_day_is_the_local_day():
    rule = one_rule("time: {days: mon-fri, timezone: Europe/Berlin}")
    friday_night_utc = datetime(2026, 1, 9, 23, 30, tzinfo=timezone.utc)  # already Saturday in Berlin
    assert not matches(rule, alert(), friday_night_utc)
    assert matches(one_rule("time: {days: mon-fri}"), alert(), friday_night_utc), "UTC by default"
    tokyo = one_rule("time: {days: [sat, sun], timezone: Asia/Tokyo}")
    assert matches(tokyo, alert(), friday_night_utc)


def test_an_overnight_span_belongs_to_the_day_it_starts():
    rule = one_rule("time: {days: fri, hours: '22:00-06:00'}")
    assert matches(rule, alert(), datetime(2026, 1, 9, 23, 0, tzinfo=timezone.utc))     # Friday 23:00
    assert matches(rule, alert(), datetime(2026, 1, 10, 2, 0, tzinfo=timezone.utc))     # Saturday 02:00
    assert not matches(rule, alert(), datetime(2026, 1, 9, 2, 0, tzinfo=timezone.utc))  # Friday 02:00
    assert not matches(rule, alert(), datetime(2026, 1, 10, 7, 0, tzinfo=timezone.utc))


def test_day_lists_and_wrapping_ranges():
    rule = one_rule("time: {days: 'sat-mon'}")
    assert matches(rule, alert(), datetime(2026, 1, 11, 12, tzinfo=timezone.utc))       # Sunday
    assert matches(rule, alert(), datetime(2026, 1, 5, 12, tzinfo=timezone.utc))        # Monday
    assert not matches(rule, alert(), datetime(2026, 1, 6, 12, tzinfo=timezone.utc))    # Tuesday
    assert matches(one_rule("time: {days: 'mon,wednesday'}"), alert(), NOON)


# --- evaluation order and options ---

ROUTING = """\
rules:
  - name: audit
    action: notify
    continue: true
  - name: drop-dev
    match: {labels: {env: dev}}
    action: ignore
  - name: page-db
    match: {labels: {team: db}}
    action: open_incident
    title: "{{ alert.name }} on {{ labels.instance }}"
    severity: {critical: sev1, warning: sev3}
    playbook: database
    group_by: [alertname, instance]
    group_window: 10m
    only_after: 2m
    throttle: 1h
    resolve_incident: true
  - name: fallback
    action: open_incident
    severity: sev4
"""


def test_first_match_wins_and_continue_keeps_going():
    routing = rules(ROUTING)
    assert [m.rule.name for m in evaluate(routing, alert(), NOON)] == ["audit", "page-db"]
    dev = alert(labels={"env": "dev", "team": "db"})
    assert [m.rule.name for m in evaluate(routing, dev, NOON)] == ["audit", "drop-dev"]
    web = alert(labels={"team": "web"})
    assert [(m.rule.name, m.index) for m in evaluate(routing, web, NOON)] == [("audit", 0), ("fallback", 3)]


def test_options_are_read():
    page = rules(ROUTING)[2]
    assert page.action is RuleAction.OPEN_INCIDENT
    assert page.title == "{{ alert.name }} on {{ labels.instance }}"
    assert page.playbook == "database"
    assert page.group_by == ("alertname", "instance") and page.group_by_explicit
    assert (page.group_window, page.only_after, page.throttle) == (600, 120, 3600)
    assert page.resolve_incident and not page.continue_
    assert page.location is not None and page.location.line == 8


def test_defaults():
    fallback = rules(ROUTING)[3]
    assert fallback.group_by == ("alertname",) and not fallback.group_by_explicit
    assert (fallback.group_window, fallback.only_after, fallback.throttle) == (300, 0, 0)
    assert not fallback.resolve_incident and not fallback.continue_


def test_incident_severity_by_alert_severity():
    routing = rules(ROUTING)
    (_, page) = evaluate(routing, alert(), NOON)
    assert page.severity is Severity.SEV1
    (_, page) = evaluate(routing, alert(severity=AlertSeverity.WARNING), NOON)
    assert page.severity is Severity.SEV3
    (_, page) = evaluate(routing, alert(severity=AlertSeverity.INFO), NOON)
    assert page.severity is None, "not in the mapping: the caller's default"
    (_, fallback) = evaluate(routing, alert(labels={}), NOON)
    assert fallback.severity is Severity.SEV4


def test_rules_from_the_main_config_under_another_path():
    doc = parse_yaml("alerts:\n  rules:\n    - name: x\n      action: notify\n      throttle: oops\n", "config.yaml")
    with pytest.raises(ConfigError) as caught:
        rules_from_document(doc, ("alerts", "rules"))
    assert [str(p) for p in caught.value.problems] == [
        "config.yaml:5:7: alerts.rules[0].throttle: 'oops' is not a duration; write e.g. 30s, 10m, 2h or 1d"]
    assert rules_from_document(parse_yaml("alerts: {}\n", "config.yaml"), ("alerts", "rules")) == ()


# --- durations ---

@pytest.mark.parametrize("text, seconds", [
    ("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("0s", 0), (" 5M ", 300),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("value, message", [
    ("10", "is not a duration"), ("5x", "is not a duration"), ("", "is not a duration"), ("m", "is not a duration"),
    (10, "needs a unit: write 10s"), (None, "not empty"), ("400d", "longer than 365d"), ("-5m", "is not a duration"),
])
def test_bad_durations(value, message):
    with pytest.raises(ValueError, match=message):
        parse_duration(value)


# --- validation: every problem, with file, line, column and field ---

BAD = """\
rules:
  - name: db pages
    match:
      source: [alertmanager, grafna]
      alertname: "~(Disk"
      severity: critcal
      labels:
        env: "!~dev|(staging"
        team: true
      text: "[a-"
      time: {days: mon-fry, hours: "25:00-17:00", timezone: Mars/Olympus, zone: x}
      lables: {}
    action: open_incidnt
    title: "{{ alert.name "
    severity: {critcal: sev1}
    grup_by: [x]
    only_after: 10
    throttle: 5x
    resolve_incident: "yes"
  - action: ignore
    playbook: x
  - name: db pages
    action: notify
    severity: sev9
  - 3
  - name: "bad/name"
    action: notify
    match: [1]
  - name: nothing
"""


def test_every_validation_problem_is_reported_with_its_place():
    assert problems(BAD) == [
        "rules.yaml:4:30: rules[0].match.source[1]: 'grafna' is not one of alertmanager, grafana, nagios, icinga,"
        " zabbix, uptime_kuma, generic, json (did you mean 'grafana'?)",
        "rules.yaml:5:7: rules[0].match.alertname: bad regex '(Disk': missing ), unterminated subpattern at position 0",
        "rules.yaml:6:7: rules[0].match.severity: 'critcal' is not one of critical, warning, info"
        " (did you mean 'critical'?)",
        "rules.yaml:8:9: rules[0].match.labels.env: bad regex 'dev|(staging': missing ),"
        " unterminated subpattern at position 4",
        "rules.yaml:9:9: rules[0].match.labels.team: write the value in quotes ('true'): YAML reads it as a boolean",
        "rules.yaml:10:7: rules[0].match.text: bad regex '[a-': unterminated character set at position 0",
        "rules.yaml:11:14: rules[0].match.time.days: 'fry' is not a day (mon, tue, wed, thu, fri, sat, sun)"
        " (did you mean 'fri'?)",
        "rules.yaml:11:29: rules[0].match.time.hours: '25:00-17:00' has a time that does not exist",
        "rules.yaml:11:51: rules[0].match.time.timezone: 'Mars/Olympus' is not a known time zone;"
        " use a name like Europe/Berlin or UTC",
        "rules.yaml:11:75: rules[0].match.time.zone: unknown key (did you mean 'timezone'?)",
        "rules.yaml:12:7: rules[0].match.lables: unknown key (did you mean 'labels'?)",
        "rules.yaml:13:5: rules[0].action: 'open_incidnt' is not one of open_incident, notify, ignore"
        " (did you mean 'open_incident'?)",
        "rules.yaml:14:5: rules[0].title: template does not compile: unexpected end of template,"
        " expected 'end of print statement'. (template line 1)",
        "rules.yaml:15:16: rules[0].severity.critcal: 'critcal' is not an alert severity (critical, warning, info)"
        " (did you mean 'critical'?)",
        "rules.yaml:16:5: rules[0].grup_by: unknown key (did you mean 'group_by'?)",
        "rules.yaml:17:5: rules[0].only_after: needs a unit: write 10s, or use m, h or d",
        "rules.yaml:18:5: rules[0].throttle: '5x' is not a duration; write e.g. 30s, 10m, 2h or 1d",
        "rules.yaml:19:5: rules[0].resolve_incident: must be true or false, not 'yes'",
        "rules.yaml:20:5: rules[1]: name is required but missing",
        "rules.yaml:21:5: rules[1].playbook: has no effect with action: ignore",
        "rules.yaml:22:5: rules[2].name: duplicate rule name 'db pages' (also rules[0])",
        "rules.yaml:24:5: rules[2].severity: 'sev9' is not an incident severity (sev1, sev2, sev3, sev4)",
        "rules.yaml:25:5: rules[3]: must be a mapping, not a number",
        "rules.yaml:26:5: rules[4].name: 'bad/name' is not a rule name: up to 100 letters, digits, spaces and _ . : -",
        "rules.yaml:28:5: rules[4].match: must be a mapping, not a list",
        "rules.yaml:29:5: rules[5]: action is required but missing",
    ]


@pytest.mark.parametrize("body, expected", [
    ("    action: notify\n    group_window: 5m\n",
     "rules.yaml:4:5: rules[0].group_window: has no effect with action: notify"),
    ("    action: notify\n    match: {time: {timezone: UTC}}\n",
     "rules.yaml:4:13: rules[0].match.time: needs days, hours or both"),
    ("    action: notify\n    match: {time: {hours: '09:00-09:00'}}\n",
     "rules.yaml:4:20: rules[0].match.time.hours: '09:00-09:00' starts and ends at the same time;"
     " leave `hours` out for the whole day"),
    ("    action: notify\n    match: {alertname: a, name: b}\n",
     "rules.yaml:4:27: rules[0].match.name: give either alertname or name, not both"),
    ("    action: open_incident\n    title: ''\n",
     "rules.yaml:4:5: rules[0].title: must not be empty"),
    ("    action: open_incident\n    group_by: [instance, 3.5, '']\n",
     "rules.yaml:4:31: rules[0].group_by[2]: must not be empty"),
    ("    action: open_incident\n    title: 42\n",
     "rules.yaml:4:5: rules[0].title: must be a template string, not a number"),
    ("    action: open_incident\n    continue: 1\n",
     "rules.yaml:4:5: rules[0].continue: must be true or false, not 1"),
])
def test_single_problems(body, expected):
    assert problems("rules:\n  - name: r\n" + body) == [expected]


def test_rules_must_be_a_list():
    assert problems("rules: {name: x}\n") == ["rules.yaml:1:1: rules: must be a list of rules, not a mapping"]


def test_load_rules_from_a_file(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text(ROUTING)
    assert [r.name for r in load_rules(path)] == ["audit", "drop-dev", "page-db", "fallback"]


def test_load_rules_reports_unknown_top_level_keys_and_yaml_errors(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text("rule: []\nrules: []\n")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert [str(p) for p in caught.value.problems] == [f"{path}:1:1: rule: unknown key (did you mean 'rules'?)"]
    path.write_text("rules:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"{path}:3:1: "):
        load_rules(path)
    path.write_text("- name: x\n")
    with pytest.raises(ConfigError, match="a rules file must be a mapping with a `rules:` list"):
        load_rules(path)
