"""Alerts in, end to end: monitoring posts through the sandbox's incoming webhook, rules, de-duplication,
resolution, Zabbix edits, buttons, `why`, MQTT on a real broker and the HTTP receiver."""
from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import aiomqtt
import aiosqlite
import pytest

from bot.config import load_config
from tests.conftest import World, eventually, eventually_async
from tests.mosquitto import make_broker

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
RULES = """
  rules:
    - name: page
      match: {severity: critical}
      action: open_incident
      title: "{{ alert.name }}"
      severity: sev2
    - name: look
      match: {severity: warning}
      action: notify
    - name: rest
      action: ignore
"""
TOKEN = "alert-webhook-token"


def alert_config(world: World, tmp_path: Path, extra: str = "", rules: str = RULES):
    path = tmp_path / "config.yaml"
    path.write_text(
        f"mattermost:\n  url: {world.sandbox.url}\n  token: ${{TEST_BOT_TOKEN}}\n  team: {world.team['name']}\n"
        f"storage:\n  path: state/bot.sqlite\nplaybooks:\n  dir: playbooks\n"
        f"alerts:\n  channels: [alerts]\n{rules}{extra}"
        f"http:\n  listen: 127.0.0.1:0\n  alerts_token: {TOKEN}\n")
    return load_config(path, {"TEST_BOT_TOKEN": world.bot_token})


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


class Monitoring:
    """Posts alerts into the watched channel as the monitoring tools do: through an incoming webhook."""

    def __init__(self, world: World):
        self.world = world
        self.user = world.sandbox.create_user("monitoring")
        world.sandbox.add_channel_member(world.alerts["id"], self.user["id"])
        self.hook = world.sandbox.create_incoming_hook(world.alerts["id"], self.user["id"], "Monitoring")

    async def send(self, payload: dict) -> dict:
        """POST a webhook payload; return the post it made."""
        before = {p["id"] for p in self.world.sandbox.posts(self.world.alerts["id"])}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{self.world.sandbox.url}/hooks/{self.hook['id']}", json=payload) as response:
                assert response.status == 200, await response.text()
        new = [p for p in self.world.sandbox.posts(self.world.alerts["id"]) if p["id"] not in before]
        return new[-1]

    async def send_fixture(self, name: str) -> dict:
        post = fixture(name)
        return await self.send({"text": post.get("message", ""), "attachments": post["props"].get("attachments", []),
                                "username": post["props"].get("override_username", "monitoring")})


async def incidents(tmp_path: Path) -> list[tuple]:
    async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
        return await (await db.execute("SELECT id, title, severity, status, channel_id FROM incidents")).fetchall()


async def alert_rows(tmp_path: Path, incident_id: int) -> list[tuple]:
    async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
        return await (await db.execute(
            "SELECT name, status, count FROM incident_alerts WHERE incident_id = ?", (incident_id,))).fetchall()


def with_channel(tmp_path: Path):
    """A check for eventually_async: the incidents, once the first one has its channel."""
    async def check():
        rows = await incidents(tmp_path)
        return rows if rows and rows[0][4] else None
    return check


async def explained(tmp_path: Path, post_id: str) -> tuple | None:
    async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
        return await (await db.execute("SELECT parser, reason, outcome FROM alert_posts WHERE post_id = ?",
                                       (post_id,))).fetchone()


@pytest.mark.parametrize("name,parser,alert_name,status", [
    ("alertmanager_slack_firing.json", "alertmanager", "InstanceDown", "firing"),
    ("alertmanager_slack_resolved.json", "alertmanager", "InstanceDown", "resolved"),
    ("grafana_slack_firing.json", "grafana", "HighCPU", "firing"),
    ("nagios_service_problem.json", "nagios", "web01/HTTP", "firing"),
    ("icinga_service_problem.json", "nagios", "web01/disk /var", "firing"),
    ("uptime_kuma_down.json", "uptime_kuma", "Shop API", "firing"),
])
async def test_each_format_through_the_webhook_becomes_the_right_alert(world, run_bot, tmp_path, name, parser,
                                                                       alert_name, status):
    await run_bot(alert_config(world, tmp_path))
    post = await Monitoring(world).send_fixture(name)
    async def handled():
        row = await explained(tmp_path, post["id"])
        return row if row and json.loads(row[2]) else None

    row = await eventually_async(handled)
    assert row[0] == parser
    (item,) = json.loads(row[2])[:1]
    assert item["alert"]["name"] == alert_name and item["alert"]["status"] == status


async def test_a_critical_alert_opens_one_incident_and_repeats_and_recovery_are_tracked(world, run_bot, tmp_path):
    await run_bot(alert_config(world, tmp_path))
    monitoring = Monitoring(world)
    first = await monitoring.send_fixture("alertmanager_slack_firing.json")

    (link,) = await eventually(lambda: world.replies_to(first))
    assert "INC-1" in link["message"]
    [(incident_id, title, severity, status, channel_id)] = await incidents(tmp_path)
    assert (title, severity, status) == ("InstanceDown", "sev2", "open")
    (header,) = world.sandbox.pinned(channel_id)
    assert "InstanceDown" in header["message"] and "/pl/" + first["id"] in header["message"]

    for _ in range(3):
        await monitoring.send_fixture("alertmanager_slack_firing.json")
    async def counted_four_times():
        rows = await alert_rows(tmp_path, incident_id)
        return rows if rows and rows[0][2] == 4 else None

    assert await eventually_async(counted_four_times) == [("InstanceDown", "firing", 4)]
    assert len(await incidents(tmp_path)) == 1
    status_posts = await eventually(lambda: [p for p in world.bot_posts(channel_id) if "Alerts of INC-1" in p["message"]])
    await eventually(lambda: any("4×" in p["message"] for p in world.bot_posts(channel_id)))
    assert len([p for p in world.bot_posts(channel_id) if "Alerts of INC-1" in p["message"]]) == len(status_posts) == 1

    await monitoring.send_fixture("alertmanager_slack_resolved.json")
    resolved = await eventually(lambda: [p for p in world.bot_posts(channel_id) if "resolved" in p["message"]
                                         and "InstanceDown" in p["message"]])
    assert "Every alert of INC-1 is resolved" in resolved[0]["message"]
    assert len(await incidents(tmp_path)) == 1


async def test_zabbix_recovery_edits_the_original_post(world, run_bot, tmp_path):
    await run_bot(alert_config(world, tmp_path))
    zabbix, token = world.sandbox.create_bot("zabbix", "Zabbix")
    world.sandbox.add_channel_member(world.alerts["id"], zabbix["id"])
    problem = fixture("zabbix_problem.json")
    post = world.sandbox.post(zabbix["id"], world.alerts["id"], problem["message"], props=problem["props"])
    await eventually(lambda: world.replies_to(post))
    [(incident_id, _, _, _, channel_id)] = await incidents(tmp_path)

    recovery = fixture("zabbix_recovery_edited.json")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        async with session.put(f"{world.sandbox.url}/api/v4/posts/{post['id']}/patch",
                               json={"message": recovery["message"], "props": recovery["props"]}) as response:
            assert response.status == 200
    await eventually(lambda: [p for p in world.bot_posts(channel_id) if "resolved" in p["message"]
                              and "High CPU" in p["message"]])
    assert (await alert_rows(tmp_path, incident_id))[0][1] == "resolved"


async def test_garbage_in_the_watched_channel_is_not_an_alert_and_why_says_so(world, run_bot, tmp_path):
    runner = await run_bot(alert_config(world, tmp_path))
    monitoring = Monitoring(world)
    garbage = [
        {"text": "", "attachments": [{"text": ""}]},
        {"text": "x" * 16000},
        {"text": "\u202e\u0000 odd \U0001F525 unicode \udcff".encode("utf-8", "replace").decode()},
        {"text": "looks like [FIRING:abc] but is not", "attachments": [{"title": None, "fields": "nope"}]},
        {"text": "props of the wrong type", "props": {"attachments": "not a list"}},
    ]
    posts = [await monitoring.send(payload) for payload in garbage]
    for post in posts:
        parser, reason, _ = await eventually_async(lambda: explained(tmp_path, post["id"]))
        assert parser == "" and reason, post["message"][:40]
    assert runner.task is not None and not runner.task.done()

    question = world.say(world.alice, world.alerts, "@incident-bot why", root_id=posts[1]["id"])
    (answer,) = await eventually(lambda: [p for p in world.bot_posts(world.alerts["id"])
                                          if p["root_id"] == posts[1]["id"]])
    assert "Not an alert" in answer["message"]
    assert question["id"]

    real = await monitoring.send_fixture("nagios_host_problem.json")
    await eventually(lambda: world.replies_to(real))
    world.say(world.alice, world.alerts, "@incident-bot why", root_id=real["id"])
    answer = await eventually(lambda: [p for p in world.bot_posts(world.alerts["id"])
                                       if p["root_id"] == real["id"] and "What I did" in p["message"]])
    text = answer[0]["message"]
    assert "**nagios** parser" in text and "rule `page`" in text and "open incident" in text and "INC-1" in text


async def test_a_warning_gets_buttons_and_start_incident_opens_one(world, run_bot, tmp_path):
    await run_bot(alert_config(world, tmp_path))
    post = await Monitoring(world).send_fixture("icinga_service_problem.json")
    (reply,) = await eventually(lambda: world.replies_to(post))
    actions = reply["props"]["attachments"][0]["actions"]
    assert [a["name"] for a in actions] == ["Acknowledge", "Start incident", "Ignore for 1h"]
    assert await incidents(tmp_path) == []

    start = next(a for a in actions if a["name"] == "Start incident")
    await world.sandbox.click(world.bob["id"], reply["id"], start["id"])
    [(_, title, _, _, channel_id)] = await eventually_async(with_channel(tmp_path))
    assert title.startswith("web01/disk /var")
    assert world.bob["id"] in world.sandbox.channel_members(channel_id)
    updated = await eventually(lambda: [p for p in world.sandbox.posts(world.alerts["id"])
                                        if p["id"] == reply["id"] and "started **INC-1**" in p["message"]])
    assert not updated[0]["props"].get("attachments")


async def test_the_http_receiver_opens_incidents_and_refuses_bad_requests(world, run_bot, tmp_path):
    runner = await run_bot(alert_config(world, tmp_path))
    url = await eventually(lambda: runner.bot.http_url) + "/alerts/alertmanager"
    payload = fixture("alertmanager_webhook_firing.json")
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=payload, headers={"Authorization": "Bearer wrong"}) as response:
            assert response.status == 401
        async with session.post(url, data=b"{not json", headers={"Authorization": f"Bearer {TOKEN}",
                                                                  "Content-Type": "application/json"}) as response:
            assert response.status == 400
        assert await incidents(tmp_path) == []
        async with session.post(url, json=payload, headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 200
    assert len(await eventually_async(with_channel(tmp_path))) == 1
    link = await eventually(lambda: [p for p in world.bot_posts(world.alerts["id"]) if "INC-1" in p["message"]])
    assert link[0]["root_id"] == ""


async def test_an_alert_over_mqtt_from_a_real_broker_opens_an_incident(world, run_bot, tmp_path):
    broker = await make_broker(tmp_path, persistent=False)
    try:
        extra = (f"  mqtt:\n    host: {broker.host}\n    port: {broker.port}\n    topics: [alerts/#]\n"
                 f"    client_id: incident-bot-test-{world.team['id'][:6]}\n")
        await run_bot(alert_config(world, tmp_path, extra))
        payload = json.dumps({"name": "DiskFull", "status": "firing", "severity": "critical",
                              "labels": {"host": "db01"}, "summary": "/var is 99% full"})

        async def publish_until_opened():
            # the bot subscribes a moment after it starts; repeats of the same alert are only counted
            async with aiomqtt.Client(broker.host, broker.port, identifier="publisher") as client:
                await client.publish("alerts/db", payload, qos=1)
            return await with_channel(tmp_path)()

        [(_, title, severity, _, _)] = await eventually_async(publish_until_opened, interval=0.3)
        assert title == "DiskFull" and severity == "sev2"
    finally:
        await broker.stop()
