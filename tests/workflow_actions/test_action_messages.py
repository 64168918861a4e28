"""post and broadcast against the sandbox, through a real MattermostRest."""
from __future__ import annotations

from dataclasses import replace

from bot.workflow.actions import actions
from bot.workflow.model import Playbook
from tests.workflow_actions.conftest import step_args

post = actions()["post"]
broadcast = actions()["broadcast"]


def by_message(posts: list[dict], text: str) -> dict:
    matches = [p for p in posts if p["message"] == text]
    assert len(matches) == 1, posts
    return matches[0]


async def test_post_renders_the_message_in_the_incident_channel_with_the_step_props(step):
    ctx = step.ctx()
    result = await post(ctx, step_args("post", {"message": "{{ incident.key }} is open: {{ incident.title }}"}))
    assert result.ok, result
    posted = by_message(step.bot_posts(), f"{step.incident.key} is open: Checkout is down")
    assert posted["props"]["incident_bot_step"] == f"{step.incident.key}/the-step"
    assert not posted["is_pinned"] and posted["root_id"] == ""
    assert result.detail == {"post_id": posted["id"], "channel_id": step.channel["id"]}
    assert result.summary == f"posted in ~{step.channel['name']}"


async def test_pin_pins_and_thread_replies_under_the_summary_post(step):
    pinned = await post(step.ctx(), step_args("post", {"message": "pin me", "pin": True}))
    threaded = await post(step.ctx(), step_args("post", {"message": "in the thread", "thread": True}))
    assert pinned.ok and threaded.ok
    assert by_message(step.bot_posts(), "pin me")["is_pinned"]
    assert pinned.detail["pinned"] is True and "pinned" in pinned.summary
    reply = by_message(step.bot_posts(), "in the thread")
    assert reply["root_id"] == step.incident.header_post_id == threaded.detail["root_id"]


async def test_thread_without_a_summary_post_posts_in_the_channel(step):
    incident = replace(step.incident, header_post_id="")
    result = await post(step.ctx(incident=incident), step_args("post", {"message": "no thread", "thread": True}))
    assert result.ok and "not in a thread" in result.summary
    assert by_message(step.bot_posts(), "no thread")["root_id"] == ""


async def test_post_to_another_channel_joins_a_public_one_the_bot_is_not_in(step):
    alerts = step.world.alerts
    assert step.world.bot["id"] not in step.world.sandbox.channel_members(alerts["id"])
    result = await post(step.ctx(), step_args("post", {"message": "see ~{{ incident.channel_name }}",
                                                       "channel": "alerts"}))
    assert result.ok, result
    assert by_message(step.bot_posts(alerts["id"]), f"see ~{step.channel['name']}")
    assert result.summary == "posted in ~alerts"


async def test_post_to_a_user_is_a_direct_message(step):
    result = await post(step.ctx(), step_args("post", {"message": "you are on call", "channel": "@bob"}))
    assert result.ok, result
    direct = step.world.direct_channel(step.world.bot, step.world.bob)
    posted = by_message(step.bot_posts(direct["id"]), "you are on call")
    assert result.detail["channel_id"] == direct["id"] and posted["props"]["incident_bot_step"]


async def test_unknown_channel_or_user_fails_the_step_without_posting(step):
    before = len(step.bot_posts())
    no_channel = await post(step.ctx(), step_args("post", {"message": "x", "channel": "nope"}))
    no_user = await post(step.ctx(), step_args("post", {"message": "x", "channel": "@nobody"}))
    assert (no_channel.ok, no_channel.summary) == (False, "no channel named 'nope'")
    assert (no_user.ok, no_user.summary) == (False, "no user named @nobody")
    assert len(step.bot_posts()) == before


async def test_a_template_that_fails_on_this_incident_fails_the_step(step):
    step.labels = {}  # the alert has no namespace label this time
    result = await post(step.ctx(), step_args("post", {"message": "ns {{ alert.labels.namespace }}"}))
    assert not result.ok and result.summary.startswith("template error:")


async def test_mattermost_refusing_the_post_fails_the_step_instead_of_raising(step):
    step.world.sandbox.fail_next(1, status=400, path_prefix="/api/v4/posts")
    result = await post(step.ctx(), step_args("post", {"message": "refused"}))
    assert not result.ok and result.summary.startswith("Mattermost refused (HTTP 400)")


async def test_broadcast_posts_to_each_playbook_channel_and_reports_the_missing_one(step):
    sandbox, team = step.world.sandbox, step.world.team
    leadership = sandbox.create_channel(team["id"], "leadership", "Leadership", creator_id=step.world.bot["id"])
    args = step_args("broadcast", {"message": "{{ incident.key }} ({{ incident.severity.label }})"},
                     top={"broadcast": ["leadership", "town-square", "status-page"]})
    playbook = Playbook(name="test", file="test.yaml", broadcast=("leadership", "town-square", "status-page"))
    result = await broadcast(step.ctx(playbook=playbook), args)
    text = f"{step.incident.key} (SEV2)"
    assert by_message(step.bot_posts(leadership["id"]), text)
    assert by_message(step.bot_posts(step.world.town["id"]), text)
    assert not result.ok
    assert set(result.detail["posts"]) == {"leadership", "town-square"}
    assert result.detail["failed"] == {"status-page": "no channel named 'status-page'"}
    assert "~status-page" in result.summary and "~leadership" in result.summary


async def test_broadcast_to_listed_channels_succeeds(step):
    result = await broadcast(step.ctx(), step_args("broadcast", {"message": "hi", "channels": ["town-square"]}))
    assert result.ok and result.summary == "broadcast to ~town-square"
