"""The post-mortem draft on resolve, follow-ups, and redaction of what it contains."""
from __future__ import annotations

from aiohttp import web

from bot.clock import FakeClock
from bot.config import load_config
from tests.conftest import World, eventually
from tests.e2e.test_incident_lifecycle import command_and_reply, open_incident
from tests.workflow_integrations.local_server import serve_tcp


def draft_of(world: World, channel_id: str) -> str | None:
    for post in world.bot_posts(channel_id):
        if "post-mortem draft" in post["message"] and post["file_ids"]:
            return world.sandbox.core.state.file_data[post["file_ids"][0]].decode()
    return None


async def test_resolving_drafts_the_postmortem_with_the_right_times_and_entries(world, run_bot):
    clock = FakeClock(start_ms=world.alice["create_at"])
    await run_bot(clock=clock)
    _, channel = await open_incident(world)
    world.sandbox.add_channel_member(channel["id"], world.bob["id"])
    clock.advance(300)
    await command_and_reply(world, world.bob, channel, "@incident-bot ack")
    await command_and_reply(world, world.alice, channel, "@incident-bot note mail from ops@example.com said the "
                                                         "CDN token Bearer abc123def456 leaked")
    await command_and_reply(world, world.bob, channel, "@incident-bot update Rolled back the deploy")
    reply = await command_and_reply(world, world.alice, channel,
                                    "@incident-bot followup add an alert on checkout 5xx @bob")
    assert "Follow-up 1 recorded for @bob" in reply["message"]
    clock.advance(1500)
    await command_and_reply(world, world.bob, channel, "@incident-bot resolve Rollback complete")

    draft = await eventually(lambda: draft_of(world, channel["id"]))
    assert draft.startswith("# Post-mortem: INC-1 Checkout API returns 500s")
    assert "| Acknowledged |" in draft and "| 5m 00s |" in draft and "| 30m 00s |" in draft
    assert "(30m 00s)" in draft                                        # the impact window
    assert "@bob: Rolled back the deploy" in draft
    assert "add an alert on checkout 5xx (@bob)" in draft
    assert "Commander: @alice" in draft and "@bob" in draft
    assert "ops@example.com" not in draft and "abc123def456" not in draft and "[redacted:" in draft

    reply = await command_and_reply(world, world.alice, channel, "@incident-bot postmortem")
    assert "post-mortem draft" in reply["message"]


async def test_a_playbook_template_archiving_and_the_followup_webhook(world, run_bot, tmp_path):
    tickets: list[dict] = []

    async def ticket(request: web.Request) -> web.Response:
        tickets.append(await request.json())
        return web.json_response({"id": "JIRA-1"}, status=201)

    app = web.Application()
    app.router.add_post("/followups", ticket)
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "custom.yaml").write_text('name: custom\narchive_on_resolve: true\npostmortem: "Custom review of '
                                        '{{ incident.key }}: {{ followups | length }} follow-up(s)"\n')
    async with serve_tcp(app) as url:
        path = world.config_file(tmp_path)
        text = path.read_text().split("playbooks:")[0] + "playbooks:\n  dir: playbooks\n  default: custom\n" + \
            "alerts:\n  channels: [alerts]\n" + \
            f"postmortem:\n  followup_webhook: {url}/followups\n"   # archiving comes from the playbook
        path.write_text(text)
        await run_bot(load_config(path, {"TEST_BOT_TOKEN": world.bot_token}))
        _, channel = await open_incident(world)
        reply = await command_and_reply(world, world.alice, channel, "@incident-bot followup page the DBA sooner")
        assert "Ticket: sent (201)" in reply["message"]
        assert tickets == [{"incident": "INC-1", "title": "Checkout API returns 500s",
                            "followup": "page the DBA sooner", "owner": ""}]
        world.say(world.alice, channel, "@incident-bot resolve done")
        draft = await eventually(lambda: draft_of(world, channel["id"]))
        assert draft == "Custom review of INC-1: 1 follow-up(s)"
        await eventually(lambda: world.sandbox.core.state.channels[channel["id"]]["delete_at"] > 0)
