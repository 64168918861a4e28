"""Config: the http section's slash command settings (slash_register, slash_trigger)."""
from pathlib import Path

import pytest


from tests.configs import load_text, problems_in

BASE = """\
mattermost:
  url: http://localhost:8065
  token: t
  team: ops
storage:
  path: state/bot.sqlite
playbooks:
  dir: playbooks
http:
  listen: 127.0.0.1:8080
"""


def load(tmp_path: Path, http: str):
    return load_text(tmp_path, BASE + http)


def problems(tmp_path: Path, http: str) -> list[str]:
    return problems_in(tmp_path, BASE + http)


def test_registration_is_off_by_default_with_the_incident_trigger(tmp_path):
    http = load(tmp_path, "").http
    assert http.slash_register is False and http.slash_trigger == "incident" and http.slash_token == ""


def test_registration_needs_no_token_but_a_public_url(tmp_path):
    http = load(tmp_path, "  public_url: https://bot.example.com/\n  slash_register: true\n"
                          "  slash_trigger: Inc\n").http
    assert http.slash_register is True and http.slash_trigger == "inc" and http.slash_token == ""
    assert http.public_url == "https://bot.example.com"


@pytest.mark.parametrize("public_url", ["", "  public_url:\n", "  public_url: ${PUBLIC_URL:-}\n"])
def test_registration_without_a_public_url_is_located_and_explained(tmp_path, public_url):
    (problem,) = problems(tmp_path, public_url + "  slash_register: true\n")
    line = 12 if public_url else 11
    assert problem.startswith(f"{tmp_path / 'config.yaml'}:{line}:")
    assert "http.public_url" in problem and "slash_register" in problem and "/mattermost/command" in problem


def test_a_bad_public_url_is_reported_once(tmp_path):
    (problem,) = problems(tmp_path, "  public_url: bot.example.com\n  slash_register: true\n")
    assert "http.public_url" in problem and "http://" in problem


@pytest.mark.parametrize("trigger", ["/incident", "two words", '"tab\\there"', "x" * 129, '""', "[]"])
def test_triggers_mattermost_would_refuse_are_located(tmp_path, trigger):
    (problem,) = problems(tmp_path, f"  slash_trigger: {trigger}\n")
    assert problem.startswith(f"{tmp_path / 'config.yaml'}:11:") and "http.slash_trigger" in problem


def test_slash_register_must_be_a_boolean(tmp_path):
    (problem,) = problems(tmp_path, "  public_url: https://bot.example.com\n  slash_register: yes please\n")
    assert ":12:" in problem and "http.slash_register" in problem and "true or false" in problem
