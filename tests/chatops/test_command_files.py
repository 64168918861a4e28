"""Custom command files: every mistake reported with its file, line and key; arguments read by type."""
from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from bot.chat.parsing import BadArguments
from bot.chatops.arguments import parse_arguments
from bot.chatops.loader import load_command_file, load_commands
from bot.chatops.model import Answer, ArgType
from bot.problems import ConfigError
from bot.workflow.tools import check

ROOT = Path(__file__).resolve().parents[2]


def problems_of(tmp_path: Path, text: str, **kwargs) -> list[str]:
    path = tmp_path / "commands.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_command_file(path, **kwargs)
    return [str(problem).replace(str(tmp_path) + "/", "") for problem in caught.value.problems]


def test_the_shipped_examples_load():
    commands, problems = load_commands(ROOT / "playbooks" / "commands")
    assert problems == []
    assert sorted(commands) == ["deploys", "prom", "rollback", "silence"]
    rollback = commands["rollback"]
    assert rollback.confirm and rollback.in_incident and rollback.usage == "rollback <service> <version>"
    assert commands["silence"].on_resolve.kind == "http" and commands["silence"].answer is Answer.CHANNEL
    assert [arg.type for arg in commands["silence"].args] == [ArgType.DURATION, ArgType.MATCHERS]


def test_mistakes_are_located(tmp_path):
    found = problems_of(tmp_path, """commands:
  - name: Prom
    description: x
    http: {url: "{{ vars.prometheus }}/q", methd: GET}
  - name: two
    description: x
    http: {url: "http://a"}
    publish: {topic: t}
  - name: reply
    description: x
    http: {url: "http://a"}
    reply: "{{ respons.json }}"
  - name: args
    description: x
    args:
      - {name: rest, type: text}
      - {name: after, type: wrod}
    run_command: {command: kubectl}
    allowed: [commandr]
  - name: undo
    description: x
    http: {url: "http://a"}
    on_resolve: {post: {message: hi}}
""", allow_list=["uptime"])
    assert found == [
        "commands.yaml:2:5: commands[0].name: 'Prom' is not a command name: lowercase letters, digits and '-', like prom",
        "commands.yaml:4:44: commands[0].http.methd: http has no argument 'methd' (did you mean 'method'?); its arguments: method, url, headers, json, timeout, expect",
        'commands.yaml:8:5: commands[1].publish: a command does one thing: give exactly one of http, run_command, publish, step, not http and publish',
        "commands.yaml:12:5: commands[2].reply: unknown name 'respons', did you mean 'response'? (templates can use: alert, args, incident, now, output, people, response, user, vars)",
        'commands.yaml:16:22: commands[3].args[0].type: a text argument takes the rest of the line, so it must be the last one',
        "commands.yaml:17:23: commands[3].args[1].type: 'wrod' is not one of word, text, int, number, duration, choice, user, matchers (did you mean 'word'?)",
        "commands.yaml:18:19: commands[3].run_command.command: 'kubectl' is not in the bot's command allow-list; allowed: uptime",
        'commands.yaml:19:15: commands[3].allowed[0]: \'commandr\' is not a role or a keyword (did you mean \'commander\'?); use anyone, team, channel-members, admins, a role (commander, scribe, comms), "@username" or "group:name"',
        'commands.yaml:23:5: commands[4].on_resolve: must be one action: http, run_command or publish, like {http: {method: DELETE, url: ...}}',
    ]


def test_rules_across_keys(tmp_path):
    found = problems_of(tmp_path, """commands:
  - name: step
    description: x
    step: {post: {message: "{{ args.text }}"}}
    on_resolve: {http: {url: "http://a/{{ result.json.id }}"}}
  - name: dup
    description: first
    http: {url: "http://a"}
  - name: dup
    description: second
    http: {url: "http://a"}
  - description: no name
    http: {url: "http://a"}
""")
    assert "commands.yaml:4:5: commands[0].step: a playbook step runs in an incident: add `incident_only: true`" in found
    assert any("commands[0].on_resolve: only a command run in an incident can undo" in p for p in found)
    assert any("commands[2].name: the command 'dup' is already defined at line 6" in p for p in found)
    assert any("commands[3]: name is required but missing" in p for p in found)


def test_each_part_sees_its_own_names(tmp_path):
    found = problems_of(tmp_path, """commands:
  - name: first
    description: x
    incident_only: true
    http: {url: "http://a"}
    on_resolve: {http: {url: "http://a/{{ result.json.id }}"}}
  - name: second
    description: x
    confirm: "{{ response.status }}?"
    http: {url: "http://a/{{ result.json.id }}"}
""")
    assert [p.split(": ", 1)[0] for p in found] == ["commands.yaml:9:5", "commands.yaml:10:12"]
    assert all("unknown name" in p for p in found)


def test_a_custom_command_cannot_take_a_builtin_word(tmp_path):
    (tmp_path / "mine.yaml").write_text("commands:\n  - {name: resolve, description: x, http: {url: 'http://a'}}\n")
    commands, problems = load_commands(tmp_path)
    assert commands == {} and "'resolve' is a built-in command" in str(problems[0])


def test_check_reports_command_problems(tmp_path):
    folder = tmp_path / "playbooks"
    (folder / "commands").mkdir(parents=True)
    (folder / "generic.yaml").write_text((ROOT / "playbooks" / "generic.yaml").read_text())
    (folder / "commands" / "bad.yaml").write_text("commands:\n  - {name: x, description: y}\n")
    out = io.StringIO()
    assert check([str(folder)], use_config=False, out=out) == 1
    assert "bad.yaml:2:5: commands[0]: a command does one thing: give exactly one of http" in out.getvalue()
    assert out.getvalue().rstrip().endswith("0 custom commands OK, 1 problem")


@pytest.fixture
def specs():
    commands, _ = load_commands(ROOT / "playbooks" / "commands")
    return {name: command.args for name, command in commands.items()}


def test_arguments_by_type(specs):
    assert parse_arguments(specs["deploys"], "checkout") == {"service": "checkout", "count": 5}
    assert parse_arguments(specs["deploys"], '"check out" 3') == {"service": "check out", "count": 3}
    assert parse_arguments(specs["prom"], 'sum(rate(x{a="b c"}[5m]))') == {"query": 'sum(rate(x{a="b c"}[5m]))'}
    silence = parse_arguments(specs["silence"], 'alertname=Down job!~"api|web"')
    assert silence["duration"] == timedelta(hours=4)
    assert silence["matchers"] == [{"name": "alertname", "value": "Down", "isRegex": False, "isEqual": True},
                                   {"name": "job", "value": "api|web", "isRegex": True, "isEqual": False}]
    assert parse_arguments(specs["silence"], "30m a=b")["duration"] == timedelta(minutes=30)


@pytest.mark.parametrize("command, text, message", [
    ("deploys", "", "`service` is missing: the service, like checkout."),
    ("deploys", "checkout 2 extra", "Too many arguments: `extra` is left over."),
    ("deploys", "checkout two", "`count` must be a whole number, not `two`."),
    ("deploys", '"checkout', "A quote is not closed"),
    ("silence", "2h", "`matchers` is missing"),
    ("silence", "2h alertname", "`matchers` must be label matchers like"),
    ("silence", "a=~(", "is not a valid regex"),
    ("prom", "x" * 5000, "keep them under 4000"),
])
def test_bad_arguments_say_what_to_type(specs, command, text, message):
    with pytest.raises(BadArguments, match=None) as caught:
        parse_arguments(specs[command], text)
    assert message in str(caught.value)


def test_the_shipped_schema_is_current_and_the_examples_follow_it():
    import json

    import jsonschema
    import yaml

    from bot.workflow.tools import schema_text

    shipped = ROOT / "playbooks" / "commands" / "commands.schema.json"
    assert shipped.read_text() == schema_text(commands=True), \
        "commands.schema.json is stale: run incident-bot schema --commands --out playbooks/commands/commands.schema.json"
    schema = json.loads(shipped.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in sorted((ROOT / "playbooks" / "commands").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema, cls=jsonschema.Draft202012Validator)
    wrong = {"commands": [{"name": "x", "description": "y", "http": {"url": "http://a"}, "publish": {"topic": "t"}}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, schema, cls=jsonschema.Draft202012Validator)
