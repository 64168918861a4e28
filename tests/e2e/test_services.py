"""PagerDuty and Opsgenie as paging services, the outgoing update webhook and the daily digest, wired
through the bot's config, against local stand-ins that speak the services' routes."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import aiosqlite
from aiohttp import web

from bot.config import load_config
from tests.conftest import World, eventually, eventually_async
from tests.e2e.test_alerts import Monitoring, incidents
from tests.e2e.test_incident_lifecycle import command_and_reply, open_incident
from tests.e2e.test_playbooks import alert
from tests.oncall.fakes import KEY, ROUTING_KEY, TOKEN, FakeEvents, FakeOpsgenie, FakePagerDutyRest
from tests.workflow_integrations.local_server import serve_tcp


def config_with(world: World, tmp_path, extra: str, env: dict[str, str] | None = None):
    path = world.config_file(tmp_path)
    text = path.read_text().replace("alerts:\n  channels: [alerts]\n", "")
    path.write_text(text + extra)
    return load_config(path, {"TEST_BOT_TOKEN": world.bot_token, **(env or {})})


RULES = """
alerts:
  channels: [alerts]
  rules:
    - {name: page, match: {severity: critical}, action: open_incident}
http:
  listen: 127.0.0.1:0
"""


async def test_pagerduty_pages_the_on_call_person_and_its_acknowledgement_comes_back(world, run_bot, tmp_path):
    ana = world.sandbox.create_user("ana", email="ana@example.com")
    world.sandbox.add_team_member(world.team["id"], ana["id"])
    rest, events = FakePagerDutyRest(), FakeEvents()
    async with serve_tcp(rest.app) as rest_url, serve_tcp(events.app) as events_url:
        config = config_with(world, tmp_path, RULES + f"""
oncall:
  escalation: [{{to: pagerduty}}]
  poll: 1s
paging:
  pagerduty: {{token_env: PD_TOKEN, routing_key_env: PD_KEY, schedule_id: PI7DH85,
              api_base: "{rest_url}", events_base: "{events_url}"}}
""", {"PD_TOKEN": TOKEN, "PD_KEY": ROUTING_KEY})
        await run_bot(config)
        await Monitoring(world).send(alert())
        dm = world.direct_channel(ana, world.bot)
        await eventually(lambda: [p for p in world.bot_posts(dm["id"]) if "You are paged for **INC-1" in p["message"]])
        triggered = [body for _, body in events.events if body["event_action"] == "trigger"]
        assert len(triggered) == 1 and triggered[0]["dedup_key"] == "INC-1"
        assert triggered[0]["payload"]["severity"] == "error"      # sev2

        rest.incidents["INC-1"] = ["acknowledged"]                  # someone acknowledged in PagerDuty
        [(_, _, _, _, channel_id)] = await incidents(tmp_path)
        await eventually(lambda: [p for p in world.bot_posts(channel_id) if "acknowledged in pagerduty" in p["message"]],
                         timeout=6)

        async def status():
            async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
                (value,) = await (await db.execute("SELECT status FROM incidents WHERE id = 1")).fetchone()
            return value == "acknowledged"

        await eventually_async(status)
        world.sandbox.add_channel_member(channel_id, world.alice["id"])
        world.say(world.alice, {"id": channel_id}, "@incident-bot resolve fixed")
        await eventually(lambda: [b for _, b in events.events if b["event_action"] == "resolve"
                                  and b["dedup_key"] == "INC-1"])


async def test_opsgenie_gets_an_alert_with_the_incident_key_and_pages_its_on_call(world, run_bot, tmp_path):
    genie = FakeOpsgenie()
    genie.schedules["Platform Primary"] = (genie.schedules["Platform Primary"][0], ["alice@sandbox.invalid"])
    async with serve_tcp(genie.app) as genie_url:
        config = config_with(world, tmp_path, RULES + f"""
oncall:
  escalation: [{{to: opsgenie}}]
paging:
  opsgenie: {{key_env: OG_KEY, schedule: Platform Primary, api_base: "{genie_url}"}}
""", {"OG_KEY": KEY})
        await run_bot(config)
        await Monitoring(world).send(alert())
        dm = world.direct_channel(world.alice, world.bot)
        await eventually(lambda: [p for p in world.bot_posts(dm["id"]) if "You are paged for **INC-1" in p["message"]])
        created = [body for method, ident, _, _, body in genie.requests if method == "POST" and not ident]
        assert created[0]["alias"] == "INC-1" and created[0]["priority"] == "P2"


async def test_updates_reach_the_webhook_and_the_digest_is_scheduled(world, run_bot, tmp_path):
    received: list[tuple[dict, dict]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.json()))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/events", receive)
    world.sandbox.create_channel(world.team["id"], "daily", "Daily")
    async with serve_tcp(app) as url:
        config = config_with(world, tmp_path, f"""
alerts:
  channels: [alerts]
updates:
  webhook: "{url}/events"
  webhook_header: "X-Token: s3cret"
digest:
  channel: daily
  at: "07:30"
  timezone: Europe/Berlin
""")
        await run_bot(config)
        _, channel = await open_incident(world)
        await command_and_reply(world, world.alice, channel, "@incident-bot update Rolled back")
        headers, event = (await eventually(lambda: received))[0]
        assert event["type"] == "status_update" and event["text"] == "Rolled back"
        assert event["incident"]["key"] == "INC-1" and event["author"]["username"] == "alice"
        assert headers["X-Token"] == "s3cret" and headers["Idempotency-Key"] == event["id"]

    async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
        (due,) = await (await db.execute("SELECT next_due_at FROM digest_schedule")).fetchone()
    local = datetime.fromtimestamp(due / 1000, ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (7, 30), "the first digest is armed for 07:30 Berlin time"
