"""wait hands the pause to the engine; remind schedules through the context."""
from __future__ import annotations

from bot.workflow.actions import actions
from tests.workflow_actions.conftest import step_args

ACTIONS = actions()


async def test_wait_returns_at_once_with_the_pause_in_seconds(step):
    result = await ACTIONS["wait"](step.ctx(), step_args("wait", {"for": "1h30m"}))
    assert result.ok and result.detail == {"wait_s": 5400} and result.summary == "wait 1h30m"


async def test_remind_schedules_the_rendered_message_for_the_commander_by_default(step):
    result = await ACTIONS["remind"](step.ctx(), step_args(
        "remind", {"after": "30m", "message": "{{ incident.key }} still open?"}))
    assert result.ok and result.summary == "reminder for commander in 30m"
    assert step.reminders == [(f"{step.incident.key} still open?", "commander", 1800)]
    assert result.detail == {"to": "commander", "after_s": 1800, "message": f"{step.incident.key} still open?"}


async def test_remind_a_user_checks_the_user_exists(step):
    ok = await ACTIONS["remind"](step.ctx(), step_args("remind", {"after": "1m", "message": "hi", "to": "@bob"}))
    missing = await ACTIONS["remind"](step.ctx(), step_args("remind", {"after": "1m", "message": "hi",
                                                                        "to": "@nobody"}))
    assert ok.ok and step.reminders == [("hi", "@bob", 60)]
    assert (missing.ok, missing.summary) == (False, "no user named @nobody")
