"""`incident-bot simulate`: a dry run on a fake clock, in time order, with every template rendered."""
from __future__ import annotations

import json
import re

import pytest

from bot.workflow.tools import simulate

from tests.workflow_tools.cli import FIRING, PLAYBOOKS, run_cli, run_tool

OFFSET_LINE = re.compile(r"^\+(\d{2,}):(\d{2}):(\d{2})  ")

# What each shipped playbook must show, rendered, without an alert.
RENDERED = {
    "generic": ["+00:00:00  step announce: post to the incident channel ~inc-1-sample-incident, pinned:",
                "  INC-1 is open: **Sample incident** (SEV3).",
                "  Commander: @alice. Work through the checklist below.",
                "  Welcome @carol to INC-1.", "+00:15:00  task 1 due: Confirm the impact (Triage)",
                "+01:00:00  status update reminder", "status updates: every 1h for sev3"],
    "service-outage": ["+00:00:00  step ticket: http POST https://tickets.example.com/api/issues",
                       '"title": "INC-1: Sample incident"', "header X-Source: incident-bot",
                       "+00:30:00  step escalate (after 30m): when incident.status.value != 'resolved' -> true",
                       "  INC-1 has been open for 30 minutes. @alice, is it time for sev1?"],
    "security-incident": ["INC-1 opens: channel ~sec-1 (private)",
                          "broadcast to ~legal, ~pr-comms:",
                          "  Confidential: INC-1 (SEV1) may involve customer data. Ask @alice before saying",
                          "when done: run_command snapshot-logs INC-1",
                          "+48:00:00  step check-notification-deadline (after 2d): remind the commander (@alice) in 1m",
                          "+48:01:00  reminder to the commander (@alice), set by step check-notification-deadline:"],
    "database-failover": ["step call: when incident.severity.value in ['sev1', 'sev2'] -> true",
                          "start a jitsi call titled 'INC-1 database failover'",
                          "+00:10:00  step check-back (after 10m from the previous step): post to the incident's "
                          "summary thread:"],
}


def offsets(out: str) -> list[int]:
    found = [OFFSET_LINE.match(line) for line in out.splitlines()]
    return [int(h) * 3600 + int(m) * 60 + int(s) for h, m, s in (f.groups() for f in found if f)]


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_each_shipped_playbook_simulates_as_users_run_it(name):
    code, out, err = run_cli("simulate", f"playbooks/{name}.yaml")
    assert (code, err) == (0, "")
    assert out.startswith(f"Dry run of playbook {name} ")
    for expected in RENDERED[name]:
        assert expected in out, (expected, out)
    assert "{{" not in out and "{%" not in out, "every template is rendered"
    assert offsets(out) == sorted(offsets(out)) and offsets(out)[0] == 0


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_each_shipped_playbook_simulates_with_an_alertmanager_alert(name):
    code, out, err = run_cli("simulate", f"playbooks/{name}.yaml", "--alert", str(FIRING))
    assert (code, err) == (0, "")
    assert ("Alert: InstanceDown (firing, critical), the first firing of 2 in the file; labels: "
            "alertname=InstanceDown, instance=10.0.0.11:9100") in out
    assert "Incident INC-1 'Instance 10.0.0.11:9100 down'" in out
    assert "{{" not in out and offsets(out) == sorted(offsets(out))


def test_the_alert_fills_the_templates():
    code, out = run_tool(simulate, "service-outage", directory=str(PLAYBOOKS), alert=str(FIRING), severity="sev1")
    assert code == 0
    body = out[out.index("json body:"):]
    assert '"alert": "http://prometheus.example.com:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1"' in body
    assert '"severity": "sev1"' in body
    assert "status updates: every 15m for sev1" in out and "+00:15:00  status update reminder" in out
    code, out = run_tool(simulate, str(PLAYBOOKS / "database-failover.yaml"), alert=str(FIRING))
    assert "env PGHOST=10.0.0.11:9100" in out


def test_a_template_error_names_the_file_and_line_and_the_run_goes_on():
    code, out = run_tool(simulate, str(PLAYBOOKS / "service-outage.yaml"))
    assert code == 0
    assert (f"! {PLAYBOOKS}/service-outage.yaml:40:14: steps[1].run_command.args[0]: template error: "
            f"'dict object' has no attribute 'namespace'") in out
    assert out.index("steps[1].run_command.args[0]") < out.index("step escalate")
    assert out.rstrip().endswith("3 steps: 3 would run, 0 skipped; 2 template errors")


def test_a_false_when_skips_the_step():
    code, out = run_tool(simulate, str(PLAYBOOKS / "database-failover.yaml"), severity="sev3")
    assert code == 0
    assert "+00:00:00  step call: when incident.severity.value in ['sev1', 'sev2'] -> false: skipped (meeting)" in out
    assert "jitsi" not in out
    assert re.search(r"step freeze-deploys: when alert.labels.env == 'prod' fails: skipped \(publish\)\n"
                     r" +! .*database-failover.yaml:33:5: steps\[2\]\.when: ", out)


TIMING = """\
name: timing
checklists:
  - title: Triage
    tasks:
      - {title: Look, due: 15m, action: {post: {message: "looked at {{ incident.key }}"}}}
status_updates: {sev3: 20m}
steps:
  - id: first
    post: {message: "first at {{ now.strftime('%H:%M') }}"}
  - id: pause
    wait: {for: 5m}
  - id: second
    post: {message: "second at {{ now.strftime('%H:%M') }}"}
  - id: third
    after: 2m
    post: {message: "third at {{ now.strftime('%H:%M') }}"}
  - id: fourth
    after: 10m
    after_previous: true
    remind: {after: 1m, to: "@bob", message: "ping {{ incident.key }}"}
  - id: late
    after: 1h
    when: "alert.labels.get('env') == 'prod'"
    post: {message: never}
  - id: hook
    after: 1h
    http: {method: POST, url: "{{ alert.link }}", json: {n: "{{ incident.id }}"}}
"""


def test_after_after_previous_and_wait_place_the_steps_on_the_fake_clock(tmp_path):
    path = tmp_path / "timing.yaml"
    path.write_text(TIMING)
    code, out, err = run_cli("simulate", str(path), "--title", "Disk full")
    assert (code, err) == (0, "")
    lines = [line for line in out.splitlines() if OFFSET_LINE.match(line)]
    assert lines == [
        "+00:00:00  INC-1 opens: channel ~inc-1-disk-full",
        "+00:00:00  checklist 'Triage' posted:",
        "+00:00:00  step first: post to the incident channel ~inc-1-disk-full:",
        "+00:00:00  step pause: wait 5m; the steps after it move 5m later",
        "+00:05:00  step second: post to the incident channel ~inc-1-disk-full:",
        "+00:05:00  step third (after 2m): post to the incident channel ~inc-1-disk-full:",
        "+00:15:00  step fourth (after 10m from the previous step): remind @bob in 1m (at +00:16:00):",
        "+00:15:00  task 1 due: Look (Triage)",
        "+00:16:00  reminder to @bob, set by step fourth:",
        "+00:20:00  status update reminder to @alice (then every 20m while the incident is open)",
        "+01:00:00  step late (after 1h): when alert.labels.get('env') == 'prod' -> false: skipped (post)",
        "+01:00:00  step hook (after 1h): http POST ",
    ]
    for rendered in ("first at 12:00", "second at 12:05", "third at 12:05", "ping INC-1",
                     "when done: post to the incident channel ~inc-1-disk-full:", "looked at INC-1",
                     "Incident INC-1 'Disk full', SEV3"):
        assert rendered in out, rendered
    assert f"{path}:27:26: steps[6].http.url: renders to '', which is not an http:// or https:// address" in out
    assert out.rstrip().endswith("7 steps: 6 would run, 1 skipped; 1 template error")


def test_a_generic_json_alert_works_too(tmp_path):
    alert = tmp_path / "alert.json"
    alert.write_text(json.dumps({"name": "ApiDown", "status": "firing", "severity": "critical",
                                 "labels": {"service": "api", "namespace": "shop", "env": "prod"},
                                 "summary": "The API is down", "link": "https://grafana.example.com/d/1"}))
    code, out = run_tool(simulate, "service-outage", directory=str(PLAYBOOKS), alert=str(alert))
    assert code == 0
    assert "INC-1 opens: channel ~inc-1-api-down" in out
    assert "step pods: run_command kubectl-pods shop" in out
    assert "0 template errors" in out


def test_a_playbook_is_found_by_name():
    code, out, _ = run_cli("simulate", "generic")
    assert code == 0 and "from playbooks/generic.yaml" in out
    code, _, err = run_cli("simulate", "generc")
    assert code == 2 and "no playbook named 'generc' in playbooks (did you mean 'generic'?)" in err


def test_a_playbook_that_does_not_load_prints_its_problems_and_fails(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nsteps:\n  - post: {mesage: hi}\n")
    code, out, _ = run_cli("simulate", str(path))
    assert code == 1
    assert f"{path}:3:12: steps[0].post.mesage: post has no argument 'mesage'" in out
    (tmp_path / "by-name.yaml").write_text("name: by-name\nstesp: []\n")
    code, out, _ = run_cli("simulate", "by-name", "--dir", str(tmp_path))
    assert code == 1 and "by-name.yaml:2:1: stesp: unknown key" in out


def test_a_bad_alert_file_or_severity_is_a_usage_error(tmp_path):
    bad = tmp_path / "alert.json"
    bad.write_text(json.dumps({"name": "x", "status": "burning"}))
    code, _, err = run_cli("simulate", "generic", "--alert", str(bad))
    assert code == 2 and "is not valid generic alert JSON: status: must be \"firing\" or \"resolved\"" in err
    bad.write_text("{not json")
    code, _, err = run_cli("simulate", "generic", "--alert", str(bad))
    assert code == 2 and "is not JSON" in err
    code, _, err = run_cli("simulate", "generic", "--severity", "sev9")
    assert code == 2 and "'sev9' is not a severity" in err and "Traceback" not in err
