"""The `funnel` config section: read into rules, every mistake reported as file:line:col: key: message."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.incidents.funnel_config import FunnelRule

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
"""
FUNNEL = """\
funnel:
  coalesce: 45s
  rules:
    - name: deploys
      channels: [deployments, ci]
      from: ["@Deploy-Bot", github]
      labels: [service]
    - name: related-alerts
      alerts: true
      labels: [service, cluster]
"""


def load(tmp_path: Path, funnel: str):
    return load_text(tmp_path, BASE + funnel)


def problems(tmp_path: Path, funnel: str) -> list[str]:
    return problems_in(tmp_path, BASE + funnel)


def test_rules_are_read(tmp_path):
    funnel = load(tmp_path, FUNNEL).funnel
    assert funnel.coalesce == 45
    assert funnel.rules == (
        FunnelRule("deploys", labels=("service",), channels=("deployments", "ci"), senders=("deploy-bot", "github")),
        FunnelRule("related-alerts", labels=("service", "cluster"), alerts=True))
    assert funnel.channels == ("deployments", "ci")


def test_no_section_means_no_rules_and_the_default_window(tmp_path):
    funnel = load(tmp_path, "").funnel
    assert funnel.rules == () and funnel.coalesce == 30
    assert load(tmp_path, "funnel:\n  rules:\n    - {name: a, alerts: true, labels: [service]}\n").funnel.coalesce == 30


def test_unknown_keys_are_located_and_get_a_suggestion(tmp_path):
    found = problems(tmp_path, FUNNEL.replace("      labels: [service]\n", "      lables: [service]\n", 1)
                     .replace("  coalesce: 45s", "  coalese: 45s"))
    config = tmp_path / "config.yaml"
    assert f"{config}:10:3: funnel.coalese: unknown key (did you mean 'coalesce'?)" in found
    assert f"{config}:15:7: funnel.rules[0].lables: unknown key (did you mean 'labels'?)" in found


@pytest.mark.parametrize("change,where,message", [
    (("channels: [deployments, ci]", "channels: []"), "funnel.rules[0].channels", "must not be empty"),
    (("labels: [service]\n", "labels: []\n"), "funnel.rules[0].labels", "must not be empty"),
    (("channels: [deployments, ci]", "channels: [Deployments]"), "funnel.rules[0].channels[0]", "not a channel name"),
    (("from: [\"@Deploy-Bot\", github]", "from: deploy-bot"), "funnel.rules[0].from", "must be a list"),
    (("coalesce: 45s", "coalesce: 45"), "funnel.coalesce", "needs a unit"),
    (("coalesce: 45s", "coalesce: 0s"), "funnel.coalesce", "between 1s and 60m"),
    (("coalesce: 45s", "coalesce: soon"), "funnel.coalesce", "is not a duration"),
    (("alerts: true", "alerts: yes please"), "funnel.rules[1].alerts", "true or false"),
    (("      labels: [service, cluster]\n", ""), "funnel.rules[1]", "labels is required"),
    (("      alerts: true\n", "      alerts: true\n      channels: [x]\n"), "funnel.rules[1].channels", "not both"),
    (("      alerts: true\n", "      alerts: true\n      from: [x]\n"), "funnel.rules[1].from", "applies to posts"),
    (("    - name: related-alerts\n      alerts: true\n", "    - name: related-alerts\n"), "funnel.rules[1]",
     "needs channels"),
    (("name: related-alerts", "name: deploys"), "funnel.rules[1].name", "named 'deploys' already"),
])
def test_each_mistake_is_reported_where_it_is(tmp_path, change, where, message):
    (problem,) = problems(tmp_path, FUNNEL.replace(*change))
    assert f": {where}: " in problem and message in problem, problem
    assert problem.startswith(f"{tmp_path / 'config.yaml'}:")


def test_the_section_and_its_rules_must_have_the_right_shape(tmp_path):
    assert "funnel: must be a mapping" in problems(tmp_path, "funnel: [a]\n")[0]
    assert "funnel.rules: must be a non-empty list" in problems(tmp_path, "funnel:\n  coalesce: 5s\n")[0]
    assert "funnel.rules[0]: must be a mapping" in problems(tmp_path, "funnel:\n  rules: [deploys]\n")[0]
