"""rename_channel, set_header, set_purpose and invite against the sandbox."""
from __future__ import annotations

from bot.workflow.actions import actions
from tests.workflow_actions.conftest import step_args

ACTIONS = actions()


def channel_now(step) -> dict:
    return step.world.sandbox.core.state.channels[step.channel["id"]]


async def test_rename_sets_the_display_name_cut_to_mattermosts_limit(step):
    result = await ACTIONS["rename_channel"](step.ctx(), step_args(
        "rename_channel", {"display_name": "{{ incident.key }} {{ incident.severity.label }} {{ incident.title }}"}))
    assert result.ok and channel_now(step)["display_name"] == f"{step.incident.key} SEV2 Checkout is down"
    long = await ACTIONS["rename_channel"](step.ctx(), step_args("rename_channel", {"display_name": "x" * 100}))
    assert long.ok and channel_now(step)["display_name"] == "x" * 63 + "…"


async def test_header_and_purpose_are_rendered_and_set(step):
    header = await ACTIONS["set_header"](step.ctx(), step_args("set_header", {"text": "**{{ incident.key }}** runbook"}))
    purpose = await ACTIONS["set_purpose"](step.ctx(), step_args("set_purpose", {"text": "Fix {{ incident.title }}"}))
    assert header.ok and purpose.ok
    channel = channel_now(step)
    assert channel["header"] == f"**{step.incident.key}** runbook" and channel["purpose"] == "Fix Checkout is down"
    assert header.detail == {"header": channel["header"]}


async def test_invite_adds_known_users_and_reports_unknown_names_and_groups(step):
    result = await ACTIONS["invite"](step.ctx(), step_args(
        "invite", {"users": ["@bob", "@carol", "@nobody"], "groups": ["sre"]}))
    members = step.world.sandbox.channel_members(step.channel["id"])
    assert {step.world.bob["id"], step.world.carol["id"]} <= members
    assert result.ok
    assert result.detail["invited"] == ["bob", "carol"] and result.detail["unknown"] == ["nobody"]
    assert result.detail["groups_not_supported"] == ["sre"]
    assert "no user named @nobody" in result.summary and "groups not supported yet: sre" in result.summary


async def test_invite_fails_when_no_named_user_exists(step):
    result = await ACTIONS["invite"](step.ctx(), step_args("invite", {"users": ["@nobody"]}))
    assert not result.ok and "invited nobody" in result.summary


async def test_invite_of_groups_only_is_reported_not_failed(step):
    result = await ACTIONS["invite"](step.ctx(), step_args("invite", {"groups": ["sre", "dba"]}))
    assert result.ok and result.summary == "invited nobody; groups not supported yet: sre, dba"


async def test_invite_reports_a_user_mattermost_refuses(step):
    outsider = step.world.sandbox.create_user("dave")  # not in the team, so Mattermost refuses to add him
    result = await ACTIONS["invite"](step.ctx(), step_args("invite", {"users": ["@dave", "@bob"]}))
    assert outsider["id"] not in step.world.sandbox.channel_members(step.channel["id"])
    assert not result.ok and result.detail["invited"] == ["bob"] and "dave" in result.detail["refused"]
