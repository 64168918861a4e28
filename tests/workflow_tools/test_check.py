"""`incident-bot check` and `incident-bot schema`: every problem as file:line:col, a summary, the exit code."""
from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from bot.workflow.json_schema import playbook_json_schema
from bot.workflow.loader import load_playbook
from bot.workflow.tools import UsageError, check, config_names

from tests.workflow_tools.cli import PLAYBOOKS, ROOT, run_cli, run_tool

LOCATED = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")

BROKEN_FILES = {
    "outage.yaml": "name: outage\nstesp: []\ndefaults:\n  severity: sev9\nsteps:\n"
                   "  - id: hello\n    post: {mesage: hi}\n  - pots: {message: hi}\n",
    "syntax.yaml": "name: x\nsteps:\n  - post: {message: hi\n",
    "template.yaml": "name: template\nsteps:\n  - post: {message: '{{ incident.titel }}'}\n",
    "a-first.yaml": "name: twin\n",
    "b-second.yaml": "name: twin\n",
    "fine.yaml": "name: fine\nsteps:\n  - post: {message: hello}\n",
}


@pytest.fixture
def broken(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    for name, text in BROKEN_FILES.items():
        (folder / name).write_text(text)
    return folder


# The alert rule the shipped service-outage playbook is picked by, and a config rule name one letter off it.
(RULE,) = load_playbook(PLAYBOOKS / "service-outage.yaml").applies_to.rules
NEAR_RULE = RULE + "x"


def config_file(tmp_path, *, rules: list[str], playbooks: str = str(PLAYBOOKS), extra: str = ""):
    rules_yaml = "".join(f"    - {{name: {name}, match: {{severity: critical}}, action: open_incident}}\n"
                         for name in rules)
    path = tmp_path / "config.yaml"
    path.write_text(f"mattermost: {{url: 'http://localhost:8065', token: t, team: ops}}\n"
                    f"storage: {{path: bot.sqlite}}\nplaybooks:\n  dir: {playbooks}\n"
                    f"alerts:\n  rules:\n{rules_yaml}{extra}")
    return path


def test_the_shipped_playbooks_pass_as_users_run_it():
    code, out, err = run_cli("check", "playbooks", "--no-config")
    assert (code, err) == (0, "")
    assert out.strip().splitlines()[-1] == "4 playbooks OK, 0 with problems; 4 custom commands OK"


def test_without_arguments_it_checks_playbooks_in_the_current_folder(tmp_path):
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "one.yaml").write_text(BROKEN_FILES["fine.yaml"])
    code, out, _ = run_cli("check", cwd=tmp_path)
    assert (code, out) == (0, "1 playbook OK, 0 with problems\n")


def test_a_folder_of_broken_files_prints_every_problem_with_file_line_and_column(broken):
    code, out, err = run_cli("check", str(broken), cwd=broken.parent)
    assert code == 1 and err == ""
    *problems, summary = out.strip().splitlines()
    assert summary == "2 playbooks OK, 4 with problems"
    assert problems and all(LOCATED.match(line) for line in problems), problems
    expected = [
        f"{broken}/b-second.yaml:1:1: name: playbook name 'twin' is already used by a-first.yaml; this file is skipped",
        f"{broken}/outage.yaml:2:1: stesp: unknown key (did you mean 'steps'?)",
        f"{broken}/outage.yaml:4:3: defaults.severity: 'sev9' is not a severity",
        f"{broken}/outage.yaml:7:12: steps[0].post.mesage: post has no argument 'mesage' (did you mean 'message'?)",
        f"{broken}/outage.yaml:8:5: steps[1].pots: unknown action 'pots' (did you mean 'post'?)",
        f"{broken}/syntax.yaml:4:1: expected ',' or '}}'",
        f"{broken}/template.yaml:3:12: steps[0].post.message: unknown attribute 'titel' of incident, "
        f"did you mean 'title'?",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in problems), (start, problems)
    files = [LOCATED.match(line)["file"] for line in problems]
    assert files == sorted(files), "problems come file by file, in file-name order"


def test_single_files_can_be_checked(broken):
    code, out = run_tool(check, [str(broken / "fine.yaml"), str(broken / "template.yaml")], use_config=False)
    assert code == 1 and out.endswith("1 playbook OK, 1 with problems\n")
    code, out = run_tool(check, [str(broken / "fine.yaml")], use_config=False)
    assert (code, out) == (0, "1 playbook OK, 0 with problems\n")


def test_a_missing_path_is_a_problem(tmp_path):
    code, out = run_tool(check, [str(tmp_path / "nope.yaml")], use_config=False)
    assert code == 1 and f"{tmp_path / 'nope.yaml'}:1:1: no such file or folder" in out


def test_alert_rule_names_come_from_the_config(tmp_path):
    config = config_file(tmp_path, rules=[RULE])
    code, out = run_tool(check, [], config=str(config))
    assert (code, out) == (0, f"4 playbooks OK, 0 with problems; 4 custom commands OK; {config}: OK\n")

    config = config_file(tmp_path, rules=[NEAR_RULE])
    code, out, _ = run_cli("check", "--config", str(config))
    assert code == 1
    assert re.search(rf"^{re.escape(str(PLAYBOOKS))}/service-outage.yaml:\d+:\d+: applies_to.rules\[0\]: "
                     rf"no alert rule is named '{RULE}' \(did you mean '{NEAR_RULE}'\?\)$", out, re.M), out
    assert out.strip().splitlines()[-1] == f"3 playbooks OK, 1 with problems; 4 custom commands OK; {config}: OK"


def test_a_config_found_in_the_current_folder_is_used_unless_told_not_to(tmp_path):
    config_file(tmp_path, rules=[NEAR_RULE], playbooks=str(PLAYBOOKS))
    code, out, _ = run_cli("check", cwd=tmp_path)
    assert code == 1 and f"no alert rule is named '{RULE}'" in out and "config.yaml: OK" in out
    code, out, _ = run_cli("check", str(PLAYBOOKS), "--no-config", cwd=tmp_path)
    assert code == 0


def test_config_problems_are_printed_with_their_location_and_fail_the_check(tmp_path):
    config = config_file(tmp_path, rules=[RULE], extra="incidents: {default_severity: sev7}\n")
    code, out = run_tool(check, [], config=str(config))
    assert code == 1
    assert re.search(rf"^{re.escape(str(config))}:\d+:\d+: incidents.default_severity: must be one of", out, re.M)
    assert out.strip().splitlines()[-1] == f"4 playbooks OK, 0 with problems; 4 custom commands OK; {config}: 1 problem"


def test_a_config_that_is_not_there_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError):
        run_tool(check, [], config=str(tmp_path / "nope.yaml"))
    code, _, err = run_cli("check", "--config", str(tmp_path / "nope.yaml"))
    assert code == 2 and "no config file" in err and "Traceback" not in err


def test_command_names_are_passed_only_when_the_config_has_an_allow_list():
    rules = (SimpleNamespace(name="page"), SimpleNamespace(name="look"))
    without = SimpleNamespace(alerts=SimpleNamespace(rules=rules))
    assert config_names(without) == (None, ["page", "look"])
    assert config_names(SimpleNamespace(alerts=SimpleNamespace(rules=()), commands=None)) == (None, [])
    plain = SimpleNamespace(alerts=SimpleNamespace(rules=()), commands={"kubectl-pods": {}})
    assert config_names(plain) == (["kubectl-pods"], [])


def test_run_command_names_are_checked_against_the_configs_allow_list(tmp_path):
    allow_list = "commands:\n  kubectl-pods: {argv: [kubectl, get, pods, -n], max_args: 1}\n"
    config = config_file(tmp_path, rules=[RULE], extra=allow_list)
    code, out, _ = run_cli("check", "--config", str(config))
    assert code == 1
    assert re.search(rf"^{re.escape(str(PLAYBOOKS))}/security-incident.yaml:\d+:\d+: "
                     rf"checklists\[0\]\.tasks\[1\]\.action\.run_command\.command: 'snapshot-logs' is not in the "
                     rf"bot's command allow-list; allowed: kubectl-pods$", out, re.M), out
    assert out.strip().splitlines()[-1] == f"3 playbooks OK, 1 with problems; 4 custom commands OK; {config}: OK"


def test_schema_prints_the_json_schema_the_shipped_file_holds(tmp_path):
    code, out, err = run_cli("schema")
    assert (code, err) == (0, "")
    assert json.loads(out) == playbook_json_schema()
    assert out == (PLAYBOOKS / "playbook.schema.json").read_text(), \
        "playbooks/playbook.schema.json is stale: run incident-bot schema --out playbooks/playbook.schema.json"
    target = tmp_path / "schema.json"
    code, out, _ = run_cli("schema", "--out", str(target))
    assert code == 0 and json.loads(target.read_text())["$schema"].startswith("https://json-schema.org/")


def test_the_readme_tells_editors_where_the_schema_is():
    assert "yaml-language-server: $schema=" in (PLAYBOOKS / "README.md").read_text()
    assert (ROOT / "playbooks" / "playbook.schema.json").is_file()


def test_the_configs_default_playbook_must_exist(tmp_path):
    config = config_file(tmp_path, rules=[RULE], playbooks=f"{PLAYBOOKS}\n  default: generc")
    code, out = run_tool(check, [], config=str(config))
    assert code == 1
    assert f"{config}:5:3: playbooks.default: no playbook is named 'generc' (did you mean 'generic'?)" in out
    assert out.endswith(f"4 playbooks OK, 0 with problems; 4 custom commands OK; {config}: 1 problem\n")
    config = config_file(tmp_path, rules=[RULE], playbooks=f"{PLAYBOOKS}\n  default: generic")
    assert run_tool(check, [], config=str(config))[0] == 0
