"""Playbooks end to end: an alert picks the outage playbook and its steps reach real (local) systems."""
from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import textwrap
from pathlib import Path

import aiomqtt
import aiosqlite
from aiohttp import web

from bot.config import load_config
from tests.conftest import World, eventually, eventually_async, start_bot_process
from tests.e2e.test_alerts import Monitoring, incidents
from tests.mosquitto import make_broker
from tests.workflow_integrations.local_server import serve_tcp
from tests.workflow_integrations.test_docker_client import FakeEngine
from tests.workflow_integrations.test_zoom_client import ACCOUNT, CLIENT_ID, SECRET, FakeZoom

OUTAGE = """
name: outage
description: A service is down.
applies_to:
  rules: [page]
welcome: "Welcome @{{ user.username }} to {{ incident.key }}."
checklists:
  - title: Triage
    tasks:
      - title: Look at the dashboard
        due: 15m
      - title: Check the namespace
        action: {run_command: {command: echo-ns, args: ["{{ alert.labels.namespace }}"]}}
steps:
  - id: announce
    post: {message: "Playbook started for {{ incident.key }} ({{ alert.name }})", pin: true}
  - id: ticket
    http:
      method: POST
      url: "TICKETS/tickets"
      json: {title: "{{ incident.title }}", severity: "{{ incident.severity.value }}"}
  - id: diagnose
    run_command: {command: echo-ns, args: ["{{ alert.labels.namespace }}"]}
  - id: skipped
    when: "incident.severity.value == 'sev4'"
    post: {message: "never"}
  - id: call
    meeting: {provider: zoom}
  - id: box
    container: {image: busybox}
  - id: event
    publish: {topic: "incidents/{{ incident.key }}", payload: {event: started}, qos: 1}
  - id: flaky
    http: {method: POST, url: "TICKETS/fail", json: {}}
    on_error: continue
  - id: nudge
    remind: {message: "Check the dashboards", after: 1s, to: "@bob"}
  - id: later
    after: 2s
    post: {message: "Two seconds in: {{ incident.key }} still {{ incident.status.value }}"}
"""

BROKEN = """
name: broken
steps:
  - id: x
    pots: {message: hi}
"""

FORBIDDEN = """
name: forbidden
steps:
  - run_command: {command: rm-rf, args: ["/"]}
"""

ESCAPE = """
name: escape
steps:
  - post: {message: "{{ incident.__class__.__mro__[1].__subclasses__() }}"}
"""


class Tickets:
    """A ticketing system's HTTP API, recording what it was sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict, dict]] = []
        self.app = web.Application()
        self.app.router.add_post("/tickets", self.create)
        self.app.router.add_post("/fail", self.fail)

    async def fail(self, request: web.Request) -> web.Response:
        return web.json_response({"error": "the ticketing system is down"}, status=500)

    async def create(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.json()))
        return web.json_response({"id": "TICKET-7"}, status=201)


def config_text(world: World, tmp_path: Path, *, tickets: str, zoom: str, docker: str, broker) -> str:
    return textwrap.dedent(f"""\
        mattermost:
          url: {world.sandbox.url}
          token: ${{TEST_BOT_TOKEN}}
          team: {world.team['name']}
        storage:
          path: state/bot.sqlite
        playbooks:
          dir: playbooks
          admin_channel: bot-admin
        alerts:
          channels: [alerts]
          rules:
            - name: page
              match: {{severity: critical}}
              action: open_incident
        commands:
          echo-ns: {{argv: [echo, "namespace:"], max_args: 1}}
        integrations:
          zoom: {{account_id: {ACCOUNT}, client_id: {CLIENT_ID}, client_secret: {SECRET}, oauth_base: "{zoom}",
                 api_base: "{zoom}/v2"}}
          docker: {{url: "{docker}"}}
          mqtt: {{host: {broker.host}, port: {broker.port}}}
        """)


@contextlib.asynccontextmanager
async def systems(tmp_path: Path):
    """The local stand-ins for a ticketing system, Zoom, Docker and an MQTT broker."""
    tickets, zoom, docker = Tickets(), FakeZoom(), FakeEngine()
    broker = await make_broker(tmp_path, persistent=False)
    try:
        async with serve_tcp(tickets.app) as tickets_url, serve_tcp(zoom.app) as zoom_url, \
                serve_tcp(docker.app()) as docker_url:
            yield tickets, tickets_url, zoom_url, docker, docker_url, broker
    finally:
        await broker.stop()


def write_playbooks(tmp_path: Path, tickets_url: str, **extra: str) -> Path:
    folder = tmp_path / "playbooks"
    folder.mkdir(exist_ok=True)
    (folder / "outage.yaml").write_text(OUTAGE.replace("TICKETS", tickets_url))
    for name, text in extra.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


async def step_statuses(tmp_path: Path) -> dict[str, str]:
    async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
        try:
            rows = await (await db.execute("SELECT step_id, status FROM playbook_steps WHERE incident_id = 1")).fetchall()
        except aiosqlite.OperationalError:
            return {}
    return dict(rows)


def alert(namespace: str = "payments") -> dict:
    """Alertmanager's Slack notification with a template that lists the labels (as many teams configure it)."""
    text = (f"Labels:\n - alertname = CheckoutDown\n - namespace = {namespace}\n - severity = critical\n"
            "Annotations:\n - summary = Checkout returns 500s\nSource: http://prometheus.example.com:9090/graph")
    return {"text": "", "attachments": [{"color": "danger", "title": "[FIRING:1] CheckoutDown (critical)",
                                         "fallback": "[FIRING:1] CheckoutDown", "text": text}]}


async def test_an_alert_runs_the_outage_playbook_against_real_systems(world, run_bot, tmp_path):
    world.sandbox.create_channel(world.team["id"], "bot-admin", "Bot admin")
    async with systems(tmp_path) as (tickets, tickets_url, zoom_url, docker, docker_url, broker):
        write_playbooks(tmp_path, tickets_url, broken=BROKEN, escape=ESCAPE, forbidden=FORBIDDEN)
        (tmp_path / "config.yaml").write_text(config_text(world, tmp_path, tickets=tickets_url, zoom=zoom_url,
                                                          docker=docker_url, broker=broker))
        config = load_config(tmp_path / "config.yaml", {"TEST_BOT_TOKEN": world.bot_token})
        events: list[dict] = []

        async def subscribe():
            async with aiomqtt.Client(broker.host, broker.port, identifier="watcher") as client:
                await client.subscribe("incidents/#", qos=1)
                async for message in client.messages:
                    events.append(json.loads(message.payload))

        watcher = asyncio.create_task(subscribe())
        await asyncio.sleep(0.3)
        try:
            await run_bot(config)
            admin = world.sandbox.channel_by_name(world.team["id"], "bot-admin")
            reports = await eventually(lambda: [p["message"] for p in world.bot_posts(admin["id"])])
            text = "\n".join(reports)
            assert "broken.yaml:5:5" in text and "did you mean 'post'" in text
            assert "escape.yaml" in text
            assert "forbidden.yaml:4:19" in text and "'rm-rf' is not in the bot's command allow-list" in text

            post = await Monitoring(world).send(alert())
            await eventually(lambda: world.replies_to(post))
            [(_, _, _, _, channel_id)] = await incidents(tmp_path)

            statuses = await eventually_async(lambda: _all_finished(tmp_path), timeout=20)
            assert statuses == {"announce": "done", "ticket": "done", "diagnose": "done", "skipped": "skipped",
                                "call": "done", "box": "done", "event": "done", "flaky": "failed",
                                "nudge": "done", "later": "done"}
            messages = [p["message"] for p in world.bot_posts(channel_id)]
            assert any("Playbook started for INC-1 (CheckoutDown)" in m for m in messages)
            assert any("namespace: payments" in m for m in messages), messages
            assert any("Two seconds in: INC-1 still open" in m for m in messages)
            assert any("example.zoom.us/j/" in m for m in messages)
            assert any("Step `flaky` failed" in m and "500" in m and "goes on" in m for m in messages)
            await eventually(lambda: [p for p in world.bot_posts(channel_id)
                                      if ":alarm_clock: @bob: Check the dashboards" in p["message"]])
            assert any("Checklist of INC-1" in m and "Look at the dashboard" in m for m in messages)
            pinned = [p["message"] for p in world.sandbox.pinned(channel_id)]
            assert any("Playbook started" in m for m in pinned) and any("zoom.us/j/" in m for m in pinned)

            (headers, body), = tickets.requests
            assert body == {"title": "CheckoutDown", "severity": "sev2"}
            assert headers.get("Idempotency-Key") == "INC-1:ticket"
            assert len(docker.containers) == 1
            assert any(e.get("event") == "started" and e["incident"]["key"] == "INC-1" for e in events)

            incident_channel = {"id": channel_id}
            world.sandbox.add_channel_member(channel_id, world.bob["id"])
            dm = world.direct_channel(world.bob, world.bot)
            await eventually(lambda: [p for p in world.bot_posts(dm["id"]) if "Welcome @bob to INC-1" in p["message"]])
            world.say(world.bob, incident_channel, "@incident-bot task done 2")
            await eventually(lambda: sum("namespace: payments" in p["message"] for p in world.bot_posts(channel_id)) == 2)
            world.say(world.bob, incident_channel, "@incident-bot resolve fixed")
            await eventually(lambda: not docker.containers, timeout=10)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)


async def _all_finished(tmp_path: Path) -> dict[str, str] | None:
    statuses = await step_statuses(tmp_path)
    return statuses if len(statuses) == 10 and all(s in ("done", "skipped", "failed") for s in statuses.values()) \
        else None


RESUMABLE = """
name: outage
applies_to:
  rules: [page]
steps:
  - id: first
    post: {message: "first step"}
  - id: second
    after: 3s
    post: {message: "second step"}
  - id: ticket
    http: {method: POST, url: "TICKETS/tickets", json: {title: "{{ incident.title }}"}}
"""


async def test_killed_mid_run_the_playbook_finishes_after_a_restart_without_repeating_steps(world, tmp_path):
    tickets = Tickets()
    async with serve_tcp(tickets.app) as tickets_url:
        folder = tmp_path / "playbooks"
        folder.mkdir()
        (folder / "outage.yaml").write_text(RESUMABLE.replace("TICKETS", tickets_url))
        config = world.config_file(tmp_path)
        config.write_text(config.read_text().replace(f"dir: {Path(__file__).resolve().parents[2] / 'playbooks'}",
                                                     "dir: playbooks")
                          .replace("  channels: [alerts]\n", "  channels: [alerts]\n  rules:\n    - name: page\n"
                                   "      match: {severity: critical}\n      action: open_incident\n"))
        process = await start_bot_process(world, tmp_path, config)
        try:
            await eventually(lambda: world.bot_is_online(), timeout=20)
            post = await Monitoring(world).send(alert())
            await eventually(lambda: world.replies_to(post), timeout=20)
            [(_, _, _, _, channel_id)] = await incidents(tmp_path)
            await eventually(lambda: [p for p in world.bot_posts(channel_id) if p["message"] == "first step"])
            process.send_signal(signal.SIGKILL)
            await process.wait()

            process = await start_bot_process(world, tmp_path, config)
            await eventually(lambda: [p for p in world.bot_posts(channel_id) if p["message"] == "second step"],
                             timeout=20)
            await eventually(lambda: tickets.requests, timeout=10)
            await asyncio.sleep(1.0)
            assert [p["message"] for p in world.bot_posts(channel_id)].count("first step") == 1
            assert [p["message"] for p in world.bot_posts(channel_id)].count("second step") == 1
            assert len(tickets.requests) == 1
            assert await step_statuses(tmp_path) == {"first": "done", "second": "done", "ticket": "done"}
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 10)


async def test_playbooks_from_chat_tasks_and_a_live_edit(world, run_bot, tmp_path):
    folder = tmp_path / "playbooks"
    folder.mkdir()
    generic = (Path(__file__).resolve().parents[2] / "playbooks" / "generic.yaml").read_text()
    generic = generic.replace("  severity: sev3\n", "  severity: sev3\n  commander: \"@carol\"\n")
    (folder / "generic.yaml").write_text(generic)
    world.sandbox.create_channel(world.team["id"], "bot-admin", "Bot admin")
    config = world.config(tmp_path)
    config = type(config)(**{**config.__dict__, "playbooks": type(config.playbooks)(dir=folder,
                                                                                       admin_channel="bot-admin")})
    runner = await run_bot(config)

    listing = world.say(world.alice, world.town, "@incident-bot playbooks")
    (reply,) = await eventually(lambda: world.replies_to(listing))
    assert "`generic`" in reply["message"] and "Generic incident" in reply["message"]

    unknown = world.say(world.alice, world.town, "@incident-bot start Disk full --playbook nope")
    (reply,) = await eventually(lambda: world.replies_to(unknown))
    assert "no playbook named `nope`" in reply["message"] and "`generic`" in reply["message"]

    command = world.say(world.alice, world.town, "@incident-bot start Disk full sev2 --playbook generic")
    await eventually(lambda: world.replies_to(command))
    channel = world.sandbox.channel_by_name(world.team["id"], "inc-1-disk-full")
    assert channel is not None, "the playbook's channel_name template names the channel"
    await eventually(lambda: [p for p in world.bot_posts(channel["id"]) if "Checklist of INC-1" in p["message"]])
    announce = await eventually(lambda: [p for p in world.sandbox.pinned(channel["id"])
                                         if "INC-1 is open: **Disk full** (SEV2)" in p["message"]])
    assert "Commander: @carol" in announce[0]["message"], "the playbook's default commander"
    assert world.carol["id"] in world.sandbox.channel_members(channel["id"])
    await eventually(lambda: "@carol" in world.sandbox.pinned(channel["id"])[0]["message"])

    world.sandbox.add_channel_member(channel["id"], world.bob["id"])
    for text, expected in (("@incident-bot task assign 1 @bob", "Task 1 is now @bob's"),
                           ("@incident-bot task done 1", "@alice finished task 1"),
                           ("@incident-bot task skip write the post-mortem", "@alice skipped task 5"),
                           ("@incident-bot task done 42", "there is no task '42'"),
                           ("@incident-bot task frobnicate", "Usage")):
        post = world.say(world.alice, channel, text)
        (reply,) = await eventually(lambda: world.replies_to(post))
        assert expected in reply["message"], (text, reply["message"])
    post = world.say(world.alice, channel, "@incident-bot tasks")
    (reply,) = await eventually(lambda: world.replies_to(post))
    assert ":white_check_mark: **1.** Confirm the impact · @bob" in reply["message"]
    assert ":heavy_minus_sign: **5.** Write the post-mortem" in reply["message"]

    # A broken edit is reported and the last good version keeps working; a good edit is picked up.
    (folder / "generic.yaml").write_text(generic.replace("checklists:", "checklist:"))
    await runner.bot.engine.library.check_for_changes()   # what the watcher does every 2 s
    admin = world.sandbox.channel_by_name(world.team["id"], "bot-admin")
    report = await eventually(lambda: [p["message"] for p in world.bot_posts(admin["id"])])
    assert "generic.yaml:14:1: checklist: unknown key" in report[0] and "did you mean 'checklists'" in report[0]
    (folder / "generic.yaml").write_text(generic.replace("is open:", "has started:"))
    await runner.bot.engine.library.check_for_changes()   # what the watcher does every 2 s
    second = world.say(world.alice, world.town, "@incident-bot start Second one --playbook generic")
    await eventually(lambda: world.replies_to(second))
    channel2 = world.sandbox.channel_by_name(world.team["id"], "inc-2-second-one")
    await eventually(lambda: [p for p in world.bot_posts(channel2["id"]) if "INC-2 has started" in p["message"]])
