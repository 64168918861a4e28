"""select_playbook: the first playbook by file name whose applies_to fits the incident."""
from __future__ import annotations

from bot.incidents.model import Severity
from bot.workflow.loader import playbook_from_document
from bot.workflow.model import Playbook
from bot.workflow.selection import select_playbook
from bot.yamlsource import parse_yaml


def playbook(file: str, applies_to: str = "") -> Playbook:
    name = file.split(".")[0].lstrip("0123456789-")
    text = f"name: {name}\n" + (f"applies_to: {applies_to}\n" if applies_to else "")
    return playbook_from_document(parse_yaml(text, f"playbooks/{file}"))


API = playbook("20-api.yaml", "{rules: [page-api], labels: {service: '~api|web', env: '!staging'}}")
SEV1 = playbook("30-major.yaml", "{severities: [sev1]}")
DB = playbook("10-db.yaml", "{labels: {alertname: '~Postgres.*'}}")
MANUAL = playbook("00-manual.yaml")
ALL = {p.name: p for p in (SEV1, API, DB, MANUAL)}  # deliberately not in file order


def select(**incident):
    values = {"rule_name": None, "severity": Severity.SEV3, "labels": {}}
    values.update(incident)
    return select_playbook(ALL, **values)


def test_rule_and_labels_must_all_hold():
    assert select(rule_name="page-api", labels={"service": "web", "env": "prod"}) is API
    assert select(rule_name="page-api", labels={"service": "web", "env": "staging"}) is None
    assert select(rule_name="page-db", labels={"service": "web"}) is None
    assert select(rule_name=None, labels={"service": "api"}) is None


def test_negated_label_matches_when_the_label_is_absent():
    assert select(rule_name="page-api", labels={"service": "api"}) is API


def test_regex_is_anchored():
    assert select(rule_name="page-api", labels={"service": "api-gateway"}) is None
    assert select(labels={"alertname": "PostgresDown"}) is DB
    assert select(labels={"alertname": "NotPostgres"}) is None


def test_severity_condition():
    assert select(severity=Severity.SEV1) is SEV1
    assert select(severity=Severity.SEV2) is None
    assert select(severity=None) is None


def test_first_by_file_name_wins():
    both = {"rule_name": "page-api", "severity": Severity.SEV1, "labels": {"service": "api"}}
    assert select(**both) is API  # 20-api.yaml sorts before 30-major.yaml
    assert select(severity=Severity.SEV1, labels={"alertname": "PostgresDown"}) is DB


def test_playbooks_without_applies_to_are_never_picked():
    assert select_playbook([MANUAL], rule_name="x", severity=Severity.SEV1, labels={"a": "b"}) is None
    assert select_playbook({}, rule_name=None, severity=None, labels={}) is None


def test_accepts_any_iterable_of_playbooks():
    assert select_playbook([SEV1, API], rule_name=None, severity=Severity.SEV1, labels={}) is SEV1
