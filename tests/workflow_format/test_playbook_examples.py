"""The example playbooks and the README's example load, and the JSON Schema agrees with the loader."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from bot.incidents.model import Severity
from bot.workflow import loader, reader
from bot.workflow.actions_schema import ACTIONS, Kind
from bot.workflow.json_schema import playbook_json_schema
from bot.workflow.loader import load_playbook, load_playbooks
from bot.workflow.model import OnError, thaw
from bot.yamlsource import parse_yaml
from bot.workflow.loader import playbook_from_document

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
EXAMPLES = sorted(PLAYBOOKS.glob("*.yaml"))
jsonschema = pytest.importorskip("jsonschema")


def test_there_are_four_examples_and_all_load_without_problems():
    playbooks, problems = load_playbooks(PLAYBOOKS)
    assert problems == []
    assert set(playbooks) == {"generic", "service-outage", "security-incident", "database-failover"}
    assert list(playbooks) == sorted(playbooks, key=lambda n: Path(playbooks[n].file).name)


def test_generic_has_checklists_cadence_and_welcome():
    playbook = load_playbook(PLAYBOOKS / "generic.yaml")
    assert [c.title for c in playbook.checklists] == ["Triage", "Resolution"]
    assert playbook.checklists[0].tasks[0].due == 15 * 60
    assert playbook.status_updates == {Severity.SEV1: 900, Severity.SEV2: 1800, Severity.SEV3: 3600, Severity.SEV4: 0}
    assert "user.username" in playbook.welcome
    assert playbook.applies_to is None


def test_service_outage_steps_keep_validated_arguments_with_defaults():
    playbook = load_playbook(PLAYBOOKS / "service-outage.yaml")
    ticket, pods, escalate = playbook.steps
    assert ticket.action.kind == "http" and ticket.action.args["method"] == "POST"
    assert ticket.action.args["timeout"] == 15 and ticket.action.args["expect"] == (200, 201)
    assert thaw(ticket.action.args["json"])["title"] == "{{ incident.key }}: {{ incident.title }}"
    assert ticket.on_error is OnError.RETRY and ticket.retries == 3
    assert pods.action.args == {"command": "kubectl-pods", "args": ("{{ alert.labels.namespace }}",), "timeout": 30}
    assert escalate.after == 1800 and escalate.when
    assert escalate.action.args["channel"] == "" and escalate.action.args["thread"] is True
    assert escalate.location.file.endswith("service-outage.yaml") and escalate.location.line > ticket.location.line


def test_security_incident_is_private_and_broadcasts_to_its_own_list():
    playbook = load_playbook(PLAYBOOKS / "security-incident.yaml")
    assert playbook.defaults.private is True and playbook.defaults.commander == "alice"
    broadcast = next(s for s in playbook.steps if s.action.kind == "broadcast")
    assert broadcast.action.args["channels"] == ("legal", "pr-comms")
    assert not any(s.action.kind == "post" and s.action.args["channel"] for s in playbook.steps)
    task = playbook.checklists[0].tasks[1]
    assert task.action.kind == "run_command" and task.action.args["timeout"] == 300


def test_database_failover_uses_conditions_and_error_handling():
    playbook = load_playbook(PLAYBOOKS / "database-failover.yaml")
    kinds = [s.action.kind for s in playbook.steps]
    assert {"meeting", "container", "publish"} <= set(kinds)
    publish = playbook.steps[kinds.index("publish")]
    assert publish.when and publish.on_error is OnError.RETRY and publish.retries == 5
    assert publish.action.args["qos"] == 1
    assert playbook.steps[-1].after_previous is True


def test_the_readme_example_is_valid():
    text = (PLAYBOOKS / "README.md").read_text()
    block = re.search(r"## A complete example\n\n```yaml\n(.*?)```", text, re.S).group(1)
    playbook = playbook_from_document(parse_yaml(block, "README.md"))
    assert playbook.name == "service-outage" and len(playbook.steps) == 3
    jsonschema.validate(yaml.safe_load(block), playbook_json_schema())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_json_schema_accepts_each_example(path):
    schema = playbook_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(path.read_text())))
    assert errors == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_example_points_editors_at_the_schema(path):
    assert path.read_text().startswith("# yaml-language-server: $schema=./playbook.schema.json\n")


def test_the_committed_schema_file_is_up_to_date():
    committed = json.loads((PLAYBOOKS / "playbook.schema.json").read_text())
    assert committed == playbook_json_schema(), "run: python3 -m bot.workflow.json_schema > playbooks/playbook.schema.json"


def test_every_action_and_argument_in_the_table_is_in_the_schema():
    defs = playbook_json_schema()["$defs"]
    assert set(defs["step"]["properties"]) == set(loader.STEP_KEYS) | set(ACTIONS)
    assert [one["required"] for one in defs["step"]["oneOf"]] == [[name] for name in ACTIONS]
    assert set(defs["task"]["properties"]["action"]["properties"]) == set(ACTIONS)
    for name, spec in ACTIONS.items():
        schema = defs[f"action_{name}"]
        assert set(schema["properties"]) == set(spec.args), name
        assert set(schema.get("required", [])) == set(spec.required), name
        assert schema["additionalProperties"] is False


def test_every_argument_kind_is_used_and_handled():
    used = {arg.kind for spec in ACTIONS.values() for arg in spec.args.values()}
    assert used == set(Kind)
    # the simple kinds have a reader; the rest are handled by name in Reader.argument
    special = {Kind.TEMPLATE, Kind.URL, Kind.TOPIC, Kind.TEMPLATES, Kind.TEMPLATE_MAP, Kind.DATA, Kind.TASKS,
               Kind.TASK_REF, Kind.COMMAND}
    from bot.workflow import fields
    assert set(fields.SIMPLE_READERS) | special == set(Kind)
    assert not set(fields.SIMPLE_READERS) & special


def test_schema_keys_match_the_loader_keys():
    schema = playbook_json_schema()
    props = schema["properties"]
    assert tuple(props) == loader.PLAYBOOK_KEYS
    assert tuple(props["applies_to"]["properties"]) == loader.APPLIES_TO_KEYS
    assert tuple(props["defaults"]["properties"]) == loader.DEFAULTS_KEYS
    assert tuple(props["invite"]["properties"]) == loader.INVITE_KEYS
    assert tuple(props["checklists"]["items"]["properties"]) == loader.CHECKLIST_KEYS
    assert tuple(schema["$defs"]["task"]["properties"]) == reader.TASK_KEYS


def test_the_schema_rejects_what_the_loader_rejects():
    validator = jsonschema.Draft202012Validator(playbook_json_schema())
    bad = [
        {"steps": []},                                                    # no name
        {"name": "x", "stesp": []},                                       # unknown key
        {"name": "x", "steps": [{"post": {"message": "a"}, "wait": {"for": "1m"}}]},  # two actions
        {"name": "x", "steps": [{"pots": {"message": "a"}}]},             # unknown action
        {"name": "x", "steps": [{"post": {"pin": True}}]},                # missing message
        {"name": "x", "steps": [{"wait": {"for": "10 minutes"}}]},        # bad duration
        {"name": "x", "steps": [{"http": {"url": "ftp://x"}}]},           # not http
        {"name": "x", "steps": [{"publish": {"topic": "a", "qos": 2}}]},  # qos
    ]
    for data in bad:
        assert list(validator.iter_errors(data)), data
