from pathlib import Path

import pytest

from bot.config import ConfigError, interpolate, load_config

GOOD = """\
mattermost:
  url: ${MM_URL:-http://localhost:8065}
  token: ${MM_TOKEN}
  team: ops
storage:
  path: state/bot.sqlite
playbooks:
  dir: playbooks
alerts:
  channels: [alerts, monitoring]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_a_good_config_loads_with_environment_values(tmp_path):
    config = load_config(write(tmp_path, GOOD), {"MM_TOKEN": "secret"})
    assert config.mattermost.url == "http://localhost:8065"
    assert config.mattermost.token == "secret"
    assert config.alerts.channels == ("alerts", "monitoring")
    assert config.storage.path == tmp_path / "state/bot.sqlite"


def test_the_shipped_example_is_valid():
    config = load_config(Path(__file__).parents[2] / "config.yaml", {"MATTERMOST_TOKEN": "t"})
    assert config.mattermost.team == "ops"


def test_interpolation():
    env = {"A": "1", "EMPTY": ""}
    assert interpolate("${A}-${B:-two}-${EMPTY:-d}", env) == "1-two-d"
    with pytest.raises(KeyError):
        interpolate("${MISSING}", env)


def problems(tmp_path, text, env=None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env if env is not None else {"MM_TOKEN": "t"})
    return [str(p) for p in caught.value.problems]


def test_missing_variable_names_file_line_and_key(tmp_path):
    (problem,) = problems(tmp_path, GOOD, env={})
    assert problem.startswith(f"{tmp_path / 'config.yaml'}:3:")
    assert "mattermost.token" in problem and "MM_TOKEN is not set" in problem


def test_wrong_values_are_all_reported(tmp_path):
    text = GOOD.replace("http://localhost:8065", "localhost").replace("[alerts, monitoring]", "[Alerts]")
    found = problems(tmp_path, text)
    assert any(":2:" in p and "mattermost.url" in p and "http" in p for p in found)
    assert any(":10:" in p and "alerts.channels" in p for p in found)


def test_unknown_keys_suggest_the_right_one(tmp_path):
    (problem,) = problems(tmp_path, GOOD.replace("  team: ops", "  teem: ops\n  team: ops"))
    assert "mattermost.teem" in problem and "did you mean 'team'" in problem


def test_missing_required_key_and_section(tmp_path):
    found = problems(tmp_path, GOOD.replace("  team: ops\n", "").replace("playbooks:\n  dir: playbooks\n", ""))
    assert any("mattermost.team" in p and "required" in p for p in found)
    assert any("playbooks" in p and "required" in p for p in found)


def test_broken_yaml_points_at_the_line(tmp_path):
    (problem,) = problems(tmp_path, GOOD + "  oops: [unclosed\n")
    assert ":12:" in problem or ":13:" in problem


def test_not_a_mapping(tmp_path):
    (problem,) = problems(tmp_path, "- just\n- a list\n")
    assert "mapping" in problem


def test_yaml_aliases_are_refused(tmp_path):
    bomb = GOOD + "x: &a [1, 1]\ny: [*a, *a]\n"
    (problem,) = problems(tmp_path, bomb)
    assert "aliases" in problem


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml", {})


def test_a_value_yaml_cannot_build_is_located(tmp_path):
    (problem,) = problems(tmp_path, GOOD + "incidents:\n  default_severity: 2026-13-01\n")
    assert ":12:21:" in problem and "'2026-13-01' cannot be read" in problem
