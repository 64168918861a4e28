"""Broken playbooks: every problem is reported with file, line, key and a message an operator can act on."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.problems import ConfigError, Problem
from bot.workflow.actions_schema import ACTIONS
from bot.workflow.loader import MAX_FILE_BYTES, load_playbook, load_playbooks


def problems(tmp_path: Path, text: str, name: str = "broken.yaml", **options) -> list[Problem]:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_playbook(path, **options)
    assert all(p.location.file == str(path) for p in caught.value.problems)
    return caught.value.problems


def only(tmp_path: Path, text: str, **options) -> Problem:
    found = problems(tmp_path, text, **options)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def test_bad_yaml_names_the_line(tmp_path):
    problem = only(tmp_path, "name: x\nsteps:\n  - post: {message: hi\n  - wait: {for: 1m}\n")
    assert problem.location.line in (3, 4) and problem.key == ""


def test_unknown_top_level_key_suggests_the_right_one(tmp_path):
    problem = only(tmp_path, "name: x\nstesp: []\n")
    assert (problem.location.line, problem.key) == (2, "stesp")
    assert "did you mean 'steps'?" in problem.message


def test_unknown_action_lists_the_actions_and_suggests_one(tmp_path):
    problem = only(tmp_path, "name: x\nsteps:\n  - id: a\n    pots: {message: hi}\n")
    assert (problem.location.line, problem.key) == (4, "steps[0].pots")
    assert "unknown action 'pots' (did you mean 'post'?)" in problem.message
    assert all(name in problem.message for name in ACTIONS)


def test_unknown_action_inside_a_task(tmp_path):
    problem = only(tmp_path, "name: x\nchecklists:\n  - title: T\n    tasks:\n      - title: A\n"
                             "        action: {run_comand: {command: x}}\n")
    assert problem.location.line == 6 and "did you mean 'run_command'?" in problem.message


def test_unknown_argument_suggests_one(tmp_path):
    found = problems(tmp_path, "name: x\nsteps:\n  - post: {mesage: hi}\n")
    messages = [p.message for p in found]
    assert any("post has no argument 'mesage' (did you mean 'message'?)" in m for m in messages)
    assert any(m == "post needs message" for m in messages)


def test_wrong_argument_type(tmp_path):
    problem = only(tmp_path, "name: x\nsteps:\n  - post:\n      message: hi\n      pin: maybe\n")
    assert (problem.location.line, problem.key) == (5, "steps[0].post.pin")
    assert problem.message == "must be true or false, not 'maybe'"


def test_missing_required_argument(tmp_path):
    problem = only(tmp_path, "name: x\nsteps:\n  - http:\n      method: POST\n")
    assert (problem.location.line, problem.key, problem.message) == (3, "steps[0].http", "http needs url")


def test_template_that_does_not_compile_points_at_its_key(tmp_path):
    problem = only(tmp_path, "name: x\nsteps:\n  - post:\n      pin: true\n      message: 'hi {{ incident.key'\n")
    assert (problem.location.line, problem.key) == (5, "steps[0].post.message")
    assert problem.message.startswith("template does not compile")


def test_unknown_template_attribute_gets_a_suggestion(tmp_path):
    problem = only(tmp_path, "name: x\nsteps:\n  - post: {message: 'hi {{ incident.titel }}'}\n")
    assert problem.location.line == 3
    assert problem.message.startswith("unknown attribute 'titel' of incident, did you mean 'title'?")


def test_unknown_template_name_and_user_outside_welcome(tmp_path):
    found = problems(tmp_path, "name: x\nwelcome: 'hi @{{ user.username }}'\nsteps:\n"
                               "  - post: {message: '{{ incidnet.key }}'}\n  - post: {message: '{{ user.username }}'}\n")
    assert [p.location.line for p in found] == [4, 5]
    assert "unknown name 'incidnet', did you mean 'incident'?" in found[0].message
    assert found[1].message == "'user' is only available in `welcome`"


def test_misspelt_filter_and_multiline_template_line(tmp_path):
    found = problems(tmp_path, "name: x\nsteps:\n  - post:\n      message: |\n        one\n"
                               "        {{ incident.title | uper }}\n")
    assert found[0].location.line == 4
    assert "No filter named 'uper', did you mean 'upper'?" in found[0].message
    assert "(template line 2)" in found[0].message


def test_templates_inside_json_and_header_maps_are_checked(tmp_path):
    found = problems(tmp_path, "name: x\nsteps:\n  - http:\n      url: https://t.example.com\n      method: POST\n"
                               "      headers: {X-Id: '{{ incident.idd }}'}\n      json:\n"
                               "        items: [{title: '{{ alert.nam }}'}]\n")
    assert [(p.location.line, p.key) for p in found] == [(6, "steps[0].http.headers.X-Id"),
                                                          (8, "steps[0].http.json.items[0].title")]


def test_unsafe_template_is_refused_by_the_sandbox(tmp_path):
    problem = only(tmp_path, "name: x\nsteps:\n  - post: {message: \"{{ ''.__class__.__mro__ }}\"}\n")
    assert "unsafe" in problem.message


def test_bad_duration(tmp_path):
    found = problems(tmp_path, "name: x\nsteps:\n  - wait: {for: 10 minutes}\n  - post: {message: hi}\n"
                               "    after: 5\n  - http: {url: 'https://x.example.com', timeout: 5m}\n")
    assert [(p.location.line, p.key) for p in found] == [(3, "steps[0].wait.for"), (5, "steps[1].after"),
                                                          (6, "steps[2].http.timeout")]
    assert "is not a duration" in found[0].message
    assert found[1].message == "needs a unit: write 5s, or use m, h or d"
    assert "longer than the limit of 1m" in found[2].message


def test_bad_when_expression(tmp_path):
    found = problems(tmp_path, "name: x\nsteps:\n  - post: {message: hi}\n    when: \"incident.severity ==\"\n"
                               "  - post: {message: hi}\n    when: \"incident.severity.valu == 'sev1'\"\n")
    assert [p.location.line for p in found] == [4, 6]
    assert found[0].message.startswith("expression does not compile")
    assert "did you mean 'value'?" in found[1].message


def test_two_actions_in_one_step(tmp_path):
    problem = only(tmp_path, "name: x\nsteps:\n  - post: {message: hi}\n    wait: {for: 1m}\n")
    assert (problem.location.line, problem.key) == (4, "steps[0].wait")
    assert "one action, but this one has post and wait" in problem.message


def test_step_without_an_action(tmp_path):
    problem = only(tmp_path, "name: x\nsteps:\n  - id: lonely\n    after: 1m\n")
    assert problem.message.startswith("a step needs an action: one of post,")


def test_duplicate_step_ids_including_the_default_ones(tmp_path):
    found = problems(tmp_path, "name: x\nsteps:\n  - id: a\n    post: {message: hi}\n  - id: a\n"
                               "    post: {message: hi}\n  - id: step-4\n    post: {message: hi}\n"
                               "  - post: {message: hi}\n")
    assert [(p.location.line, p.message) for p in found] == [
        (5, "duplicate step id 'a' (also steps[0])"), (9, "duplicate step id 'step-4' (also steps[2])")]


def test_retries_and_on_error(tmp_path):
    found = problems(tmp_path, "name: x\nsteps:\n  - post: {message: hi}\n    retries: 2\n"
                               "  - post: {message: hi}\n    on_error: retyr\n")
    assert found[0].message == "has no effect without `on_error: retry`"
    assert "did you mean 'retry'?" in found[1].message


def test_cross_argument_rules(tmp_path):
    found = problems(tmp_path, "name: x\nsteps:\n  - post: {message: hi, channel: town-square, thread: true}\n"
                               "  - http: {url: 'https://x.example.com', json: {a: 1}}\n  - invite: {}\n"
                               "  - broadcast: {message: hi}\n")
    assert [p.key for p in found] == ["steps[0].post.thread", "steps[1].http.method", "steps[2].invite",
                                      "steps[3].broadcast"]
    assert "no channels" in found[3].message


def test_task_references_must_name_a_task(tmp_path):
    problem = only(tmp_path, "name: x\nchecklists:\n  - title: T\n    tasks:\n      - title: Check the dashboard\n"
                             "steps:\n  - complete_task: {task: Check the dashbord}\n  - complete_task: {task: 3}\n")
    assert problem.location.line == 7
    assert "did you mean 'Check the dashboard'?" in problem.message


def test_values_checked_against_the_bot_configuration(tmp_path):
    found = problems(tmp_path, "name: x\napplies_to: {rules: [page-apj]}\nsteps:\n"
                               "  - run_command: {command: kubectl-pod}\n",
                     commands={"kubectl-pods", "dig"}, rules={"page-api"})
    assert "did you mean 'page-api'?" in found[0].message
    assert "not in the bot's command allow-list (did you mean 'kubectl-pods'?)" in found[1].message


def test_other_field_errors(tmp_path):
    found = problems(tmp_path, "name: Service Outage\napplies_to: {}\ndefaults: {severity: sev5, private: 'no'}\n"
                               "invite: {users: [alice, '@@x']}\nstatus_updates: {sev1: 15, sev9: 1h}\n"
                               "broadcast: [Leadership]\nchecklists:\n  - title: T\n    tasks: []\n")
    keys = [p.key for p in found]
    assert keys == ["name", "applies_to", "defaults.severity", "defaults.private", "invite.users[1]",
                    "status_updates.sev1", "status_updates.sev9", "broadcast[0]", "checklists[0].tasks"]


def test_yaml_bomb_is_refused(tmp_path):
    text = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b]\n"
    problem = only(tmp_path, text)
    assert problem.location.line == 2 and "aliases" in problem.message


def test_huge_file_is_refused_before_parsing(tmp_path):
    problem = only(tmp_path, "name: x\ndescription: '" + "x" * MAX_FILE_BYTES + "'\n")
    assert "too large" in problem.message and problem.location.line == 1


def test_document_with_too_many_nodes_is_refused(tmp_path):
    problem = only(tmp_path, "name: x\nbroadcast: [" + ",".join(["a"] * 110_000) + "]\n")
    assert "too large" in problem.message


def test_empty_and_non_mapping_files(tmp_path):
    assert "not empty" in only(tmp_path, "").message
    assert "not a list" in only(tmp_path, "- a\n").message


def test_every_problem_is_reported_at_once_in_line_order(tmp_path):
    found = problems(tmp_path, "name: x\nsteps:\n  - post: {message: '{{ x }}'}\n  - wait: {for: soon}\n"
                               "  - pots: {}\n")
    assert [p.location.line for p in found] == [3, 4, 5]


def test_folder_loading_skips_broken_files_and_reports_duplicate_names(tmp_path):
    (tmp_path / "a.yaml").write_text("name: one\nsteps:\n  - post: {message: hi}\n")
    (tmp_path / "b.yml").write_text("name: one\n")
    (tmp_path / "c.yaml").write_text("name: two\nstesp: []\n")
    (tmp_path / "d.yaml").write_text("name: three\n")
    (tmp_path / ".hidden.yaml").write_text("{{{")
    (tmp_path / "notes.txt").write_text("not a playbook")
    playbooks, found = load_playbooks(tmp_path)
    assert list(playbooks) == ["one", "three"]
    assert [(Path(p.location.file).name, p.location.line) for p in found] == [("b.yml", 1), ("c.yaml", 2)]
    assert "already used by a.yaml" in found[0].message


def test_missing_folder_is_a_problem_not_a_crash(tmp_path):
    playbooks, found = load_playbooks(tmp_path / "nope")
    assert playbooks == {} and "does not exist" in found[0].message
