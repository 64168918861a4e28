"""add_tasks, assign_task and complete_task with the real SQLite task store."""
from __future__ import annotations

import json

import pytest

from bot.workflow.actions import actions
from bot.workflow.actions.tasks import action_record
from bot.workflow.model import freeze
from tests.workflow_actions.conftest import CREATED_AT, step_args

ACTIONS = actions()
TASKS = [
    {"title": "Check the dashboard", "assignee": "@alice", "due": "15m",
     "action": {"post": {"message": "dashboard checked for {{ incident.key }}", "pin": True}}},
    {"title": "Page the DBA", "description": "Only if the database is slow", "assignee": "@nobody"},
]


async def add(step, tasks=TASKS, checklist="Triage"):
    return await ACTIONS["add_tasks"](step.ctx(), step_args("add_tasks", {"checklist": checklist, "tasks": tasks}))


async def test_add_tasks_stores_numbered_tasks_with_assignees_due_times_and_actions(step):
    result = await add(step)
    assert result.ok, result
    assert result.detail == {"checklist": "Triage", "numbers": [1, 2], "unknown_assignees": ["nobody"]}
    assert result.summary == "added 2 tasks to Triage (#1–#2); left unassigned, no user named @nobody"
    first, second = await step.store.list(step.incident.id)
    assert (first.title, first.assignee_id, first.due_at) == ("Check the dashboard", step.world.alice["id"],
                                                              CREATED_AT + 15 * 60 * 1000)
    assert first.action == {"kind": "post", "args": {"message": "dashboard checked for {{ incident.key }}",
                                                     "channel": "", "thread": False, "pin": True}}
    original = step_args("add_tasks", {"checklist": "T", "tasks": TASKS})["tasks"][0].action
    assert freeze(first.action["args"]) == original.args
    assert (second.assignee_id, second.due_at, second.action, second.description) == (
        "", None, None, "Only if the database is slow")
    more = await add(step, [{"title": "Write the timeline"}], checklist="Resolution")
    assert more.detail["numbers"] == [3] and more.summary == "added 1 task to Resolution (#3)"


async def test_assign_by_number_or_title_and_complete(step):
    await add(step)
    by_number = await ACTIONS["assign_task"](step.ctx(), step_args("assign_task", {"task": 2, "user": "@bob"}))
    by_title = await ACTIONS["assign_task"](step.ctx(), step_args(
        "assign_task", {"task": "Check the dashboard", "user": "@carol"},
        top={"checklists": [{"title": "Triage", "tasks": [{"title": "Check the dashboard"}]}]}))
    assert by_number.ok and by_number.summary == "assigned task #2 to @bob"
    assert by_title.ok and by_title.detail == {"task": 1, "user": "carol", "user_id": step.world.carol["id"]}
    done = await ACTIONS["complete_task"](step.ctx(), step_args("complete_task", {"task": 2}))
    assert done.ok and done.summary == "marked task #2 done"
    first, second = await step.store.list(step.incident.id)
    assert first.assignee_id == step.world.carol["id"] and first.status == "open"
    assert second.assignee_id == step.world.bob["id"]
    assert (second.status, second.done_by) == ("done", step.world.bot["id"])


@pytest.mark.parametrize("kind,args", [("assign_task", {"task": 9, "user": "@bob"}), ("complete_task", {"task": 9})])
async def test_a_task_that_is_not_there_fails_the_step(step, kind, args):
    await add(step)
    result = await ACTIONS[kind](step.ctx(), step_args(kind, args))
    assert not result.ok and "there is no task '9'" in result.summary


async def test_assigning_to_an_unknown_user_fails_and_changes_nothing(step):
    await add(step)
    result = await ACTIONS["assign_task"](step.ctx(), step_args("assign_task", {"task": 1, "user": "@nobody"}))
    assert (result.ok, result.summary) == (False, "no user named @nobody")
    assert (await step.store.list(step.incident.id))[0].assignee_id == step.world.alice["id"]


async def test_add_tasks_as_a_tasks_action_works_from_its_stored_json_form(step):
    call = step_args("add_tasks", {"checklist": "Outer", "tasks": [{"title": "Escalate", "action": {"add_tasks": {
        "checklist": "Follow-up", "tasks": [{"title": "Page the DBA", "assignee": "@bob", "due": "1h"}]}}}]})
    stored = json.loads(json.dumps(action_record(call["tasks"][0].action)))  # what the task store keeps
    result = await ACTIONS["add_tasks"](step.ctx(), stored["args"])
    assert result.ok, result
    (task,) = await step.store.list(step.incident.id)
    assert (task.checklist, task.title, task.assignee_id, task.due_at) == (
        "Follow-up", "Page the DBA", step.world.bob["id"], CREATED_AT + 3600 * 1000)
