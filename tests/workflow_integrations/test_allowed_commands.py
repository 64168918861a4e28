"""run_allowed with real processes: allowed commands, injection attempts, refusals, timeouts, output caps."""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from bot.workflow.integrations.commands import (
    CommandAllowList, CommandConfigError, CommandOutcome, run_allowed,
)


def allow_list(tmp_path: Path) -> CommandAllowList:
    # `sh -c` appears only here, with fixed scripts, to stand in for misbehaving diagnostic tools.
    return CommandAllowList.from_config({
        "say": {"argv": ["echo"], "max_args": 3},
        "greet": {"argv": ["printf", "hello %s\n"], "max_args": 1, "arg_pattern": "^[a-z0-9-]+$"},
        "verbose": {"argv": ["echo"], "max_args": 2, "allow_options": True},
        "fail": {"argv": ["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"]},
        "slow": {"argv": ["sleep", "30"], "timeout": "200ms"},
        "family": {"argv": ["sh", "-c", f"sleep 30 & echo $! > {tmp_path}/child.pid; wait"], "timeout": 0.3},
        "orphaner": {"argv": ["sh", "-c", f"sleep 30 & echo $! > {tmp_path}/orphan.pid; echo done"]},
        "noisy": {"argv": ["sh", "-c", "yes 0123456789abcdef | head -c 5000000"]},
        "where": {"argv": ["pwd"], "cwd": str(tmp_path)},
        "environment": {"argv": ["env"], "env": {"INCIDENT": "INC-9"}},
        "ghost": {"argv": ["definitely-not-a-command-7f3a"]},
    })


async def test_allowed_command_runs_and_returns_output(tmp_path):
    outcome = await run_allowed(allow_list(tmp_path), "greet", ["web-1"])
    assert outcome == CommandOutcome(ok=True, exit_code=0, output="hello web-1\n")


@pytest.mark.parametrize("attempt", ["; rm -rf /", "$(id)", "`id`", "a && id", "| cat /etc/passwd", "*", "~root"])
async def test_shell_metacharacters_arrive_as_literal_arguments(tmp_path, attempt):
    outcome = await run_allowed(allow_list(tmp_path), "say", [attempt])
    assert outcome.ok
    assert outcome.output == f"{attempt}\n"


@pytest.mark.parametrize("attempt", ["; rm -rf /", "$(id)", "`id`", "Web-1", "web 1"])
async def test_arguments_must_match_the_entry_pattern(tmp_path, attempt):
    outcome = await run_allowed(allow_list(tmp_path), "greet", [attempt])
    assert not outcome.ok and outcome.exit_code is None and outcome.output == ""
    assert "does not match" in outcome.refused_reason


@pytest.mark.parametrize("attempt", ["-o/etc/passwd", "--output=/tmp/x", "-"])
async def test_option_like_arguments_are_refused_unless_allowed(tmp_path, attempt):
    refused = await run_allowed(allow_list(tmp_path), "say", [attempt])
    assert "looks like an option" in refused.refused_reason
    allowed = await run_allowed(allow_list(tmp_path), "verbose", ["-n", "x"])
    assert (allowed.ok, allowed.output) == (True, "x")


@pytest.mark.parametrize("attempt", ["a\nb", "a\x00b", "a\rb", "x" * 201])
async def test_control_characters_and_long_arguments_are_refused(tmp_path, attempt):
    outcome = await run_allowed(allow_list(tmp_path), "say", [attempt])
    assert outcome.refused_reason and not outcome.ok


async def test_too_many_arguments_and_unknown_names_are_refused(tmp_path):
    commands = allow_list(tmp_path)
    too_many = await run_allowed(commands, "greet", ["a", "b"])
    assert "at most 1" in too_many.refused_reason
    unknown = await run_allowed(commands, "rm", ["-rf", "/"])
    assert unknown.refused_reason == "'rm' is not an allowed command"
    none_taken = await run_allowed(commands, "fail", ["x"])
    assert "at most 0" in none_taken.refused_reason


async def test_failing_command_reports_exit_code_and_both_streams(tmp_path):
    outcome = await run_allowed(allow_list(tmp_path), "fail", [])
    assert (outcome.ok, outcome.exit_code, outcome.timed_out) == (False, 3, False)
    assert "to-stdout" in outcome.output and "to-stderr" in outcome.output


async def test_timeout_kills_the_process(tmp_path):
    started = time.monotonic()
    outcome = await run_allowed(allow_list(tmp_path), "slow", [])
    assert outcome.timed_out and not outcome.ok
    assert outcome.exit_code is not None and outcome.exit_code < 0  # killed by a signal
    assert time.monotonic() - started < 5


async def test_timeout_kills_the_children_too(tmp_path):
    outcome = await run_allowed(allow_list(tmp_path), "family", [])
    assert outcome.timed_out
    child = int((tmp_path / "child.pid").read_text())
    await asyncio.sleep(0.1)
    assert not process_alive(child)


async def test_children_left_behind_by_a_finished_command_are_cleaned_up(tmp_path):
    started = time.monotonic()
    outcome = await run_allowed(allow_list(tmp_path), "orphaner", [])
    assert (outcome.ok, outcome.output) == (True, "done\n")
    assert time.monotonic() - started < 5  # not waiting for the orphan, which holds the output pipe open
    orphan = int((tmp_path / "orphan.pid").read_text())
    await asyncio.sleep(0.1)
    assert not process_alive(orphan)


async def test_call_timeout_overrides_the_entry(tmp_path):
    outcome = await run_allowed(allow_list(tmp_path), "slow", [], timeout=0.05)
    assert outcome.timed_out and "0.05s" in outcome.error


async def test_huge_output_is_capped_with_a_note(tmp_path):
    outcome = await run_allowed(allow_list(tmp_path), "noisy", [], max_output=1000)
    assert outcome.ok
    kept, note = outcome.output.split("\n… ", 1)
    assert len(kept.replace("\n", "")) + kept.count("\n") == 1000
    assert note == f"(truncated {5_000_000 - 1000} bytes)"


async def test_cwd_and_env_come_from_the_entry_and_secrets_do_not_leak(tmp_path, monkeypatch):
    monkeypatch.setenv("MATTERMOST_TOKEN", "s3cret")
    commands = allow_list(tmp_path)
    assert (await run_allowed(commands, "where", [])).output.strip() == str(tmp_path)
    env = (await run_allowed(commands, "environment", [])).output
    assert "INCIDENT=INC-9" in env and "s3cret" not in env
    assert f"PATH={os.environ['PATH']}" in env


async def test_missing_executable_is_an_error_not_an_exception(tmp_path):
    outcome = await run_allowed(allow_list(tmp_path), "ghost", [])
    assert not outcome.ok and outcome.exit_code is None and "cannot start" in outcome.error


@pytest.mark.parametrize("entries, field", [
    ({"x": {"argv": []}}, "x.argv"),
    ({"x": {"argv": "kubectl get pods"}}, "x.argv"),
    ({"x": {"argv": ["ls"], "max_args": -1}}, "x.max_args"),
    ({"x": {"argv": ["ls"], "arg_pattern": "("}}, "x.arg_pattern"),
    ({"x": {"argv": ["ls"], "timeout": "soon"}}, "x.timeout"),
    ({"x": {"argv": ["ls"], "timeout": 0}}, "x.timeout"),
    ({"x": {"argv": ["ls"], "env": {"A": 1}}}, "x.env"),
    ({"x": {"argv": ["ls"], "shell": True}}, "unknown field(s) shell"),
])
def test_bad_config_names_the_entry_and_field(entries, field):
    with pytest.raises(CommandConfigError, match=field.replace("(", r"\(").replace(")", r"\)")):
        CommandAllowList.from_config(entries)


def test_config_reads_the_documented_shape():
    commands = CommandAllowList.from_config({"pods": {
        "argv": ["kubectl", "get", "pods", "-n"], "max_args": 1, "arg_pattern": "^[a-z0-9-]+$", "timeout": "30s",
    }})
    pods = commands.get("pods")
    assert pods is not None and pods.argv == ("kubectl", "get", "pods", "-n") and pods.timeout == 30.0
    assert commands.names() == ["pods"]


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False
