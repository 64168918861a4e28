"""run_command with a real allow-list: output as a code block, refusals, exit codes."""
from __future__ import annotations

from bot.workflow.actions import actions
from bot.workflow.context import Integrations
from bot.workflow.integrations.commands import CommandAllowList
from tests.workflow_actions.conftest import step_args

run_command = actions()["run_command"]
ALLOWED = Integrations(commands=CommandAllowList.from_config({
    "echo": {"argv": ["echo"], "max_args": 3},
    "fences": {"argv": ["printf", "before\\n```\\nin ```` code\\n"]},
    "fail": {"argv": ["sh", "-c", "echo broken; exit 3"]},
    "silent": {"argv": ["true"]},
}))


async def test_output_comes_back_as_a_code_block_with_the_command_line(step):
    args = step_args("run_command", {"command": "echo", "args": ["pods in", "{{ alert.labels.namespace }}"]})
    result = await run_command(step.ctx(integrations=ALLOWED), args)
    assert result.ok and result.summary == "ran echo (exit 0)"
    assert result.message == "```\n$ echo 'pods in' shop\npods in shop\n```"
    assert result.detail == {"command": "echo", "args": ["pods in", "shop"], "exit_code": 0, "timed_out": False}


async def test_backticks_in_the_output_cannot_close_the_block(step):
    result = await run_command(step.ctx(integrations=ALLOWED), step_args("run_command", {"command": "fences"}))
    assert result.ok
    fence = "`````"  # longer than the longest run of backticks inside
    assert result.message.startswith(fence + "\n$ printf") and result.message.endswith("in ```` code\n" + fence)
    assert result.message.count(fence) == 2


async def test_a_non_zero_exit_fails_the_step_but_still_shows_the_output(step):
    result = await run_command(step.ctx(integrations=ALLOWED), step_args("run_command", {"command": "fail"}))
    assert not result.ok and result.summary == "ran fail (exit 3)" and result.detail["exit_code"] == 3
    assert "broken" in result.message
    silent = await run_command(step.ctx(integrations=ALLOWED), step_args("run_command", {"command": "silent"}))
    assert silent.ok and "(no output)" in silent.message


async def test_commands_off_the_allow_list_are_refused(step):
    no_list = await run_command(step.ctx(), step_args("run_command", {"command": "echo"}))
    not_listed = await run_command(step.ctx(integrations=ALLOWED), step_args("run_command", {"command": "rm"}))
    assert not no_list.ok and "'echo' is not on the allow-list" in no_list.summary
    assert (not_listed.ok, not_listed.summary) == (False, "'rm' is not on the allow-list")
    assert no_list.message == not_listed.message == ""


async def test_arguments_the_entry_does_not_accept_are_refused(step):
    result = await run_command(step.ctx(integrations=ALLOWED), step_args(
        "run_command", {"command": "echo", "args": ["-e", "x"]}))
    assert not result.ok and result.summary.startswith("refused echo: argument 1 ('-e') looks like an option")


async def test_a_command_that_runs_too_long_is_stopped_and_fails(step):
    slow = Integrations(commands=CommandAllowList.from_config({
        "slow": {"argv": ["sh", "-c", "echo started; sleep 10"], "timeout": "300ms"}}))
    result = await run_command(step.ctx(integrations=slow), step_args("run_command", {"command": "slow"}))
    assert not result.ok and result.summary == "ran slow (timed out after 0.3s)" and result.detail["timed_out"]
    assert "started" in result.message
