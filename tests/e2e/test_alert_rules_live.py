"""Rules over time, end to end: the real Alertmanager, flapping, rule-driven resolution, waiting, silencing."""
from __future__ import annotations

import asyncio
import json

import aiohttp
import aiosqlite

from tests.alertmanager import requires_alertmanager, start_alertmanager
from tests.conftest import World, eventually, eventually_async
from tests.e2e.test_alerts import TOKEN, Monitoring, alert_config, explained, incidents, with_channel

LIVE_RULES = """
  rules:
    - name: slow-disk
      match: {alertname: SlowDisk}
      action: open_incident
      only_after: 1s
    - name: page
      match: {severity: critical}
      action: open_incident
      resolve_incident: true
    - name: look
      match: {severity: warning}
      action: notify
"""


def live_config(world: World, tmp_path):
    return alert_config(world, tmp_path, rules=LIVE_RULES)


async def send_generic(url: str, **alert) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/alerts/generic", json=alert,
                                headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 200, await response.text()


async def statuses(tmp_path) -> list[str]:
    async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
        return [r[0] for r in await (await db.execute("SELECT status FROM incidents ORDER BY id")).fetchall()]


@requires_alertmanager
async def test_alerts_from_the_real_alertmanager_open_exactly_one_incident_each(world, run_bot, tmp_path):
    runner = await run_bot(live_config(world, tmp_path))
    bot_url = await eventually(lambda: runner.bot.http_url)
    monitoring = Monitoring(world)
    am = await start_alertmanager(tmp_path, slack_api_url=f"{world.sandbox.url}/hooks/{monitoring.hook['id']}",
                                  webhook_url=bot_url + "/alerts/alertmanager", webhook_token=TOKEN,
                                  group_wait="300ms", group_interval="300ms")
    try:
        down = [{"labels": {"alertname": "InstanceDown", "instance": f"{host}:9100", "job": "node",
                            "severity": "critical"}, "annotations": {"summary": f"{host} is down"}}
                for host in ("web01", "web02")]
        disk = {"labels": {"alertname": "DiskFull", "instance": "db01:9100", "severity": "critical"},
                "annotations": {"summary": "/var is full"}}
        await am.push([*down, disk])

        async def two_ready():
            rows = await incidents(tmp_path)
            return rows if len(rows) == 2 and all(r[4] for r in rows) else None

        rows = await eventually_async(two_ready, timeout=20)
        assert sorted(r[1].split()[0] for r in rows) == ["DiskFull", "InstanceDown"]
        await eventually(lambda: len(monitoring_posts(world)) >= 2)   # the Slack-format posts arrived too
        await asyncio.sleep(1.5)
        assert len(await incidents(tmp_path)) == 2, "a second notification path must not open a second incident"

        for alert in (*down, disk):
            await am.resolve(alert["labels"])
        await eventually_async(lambda: _statuses_are(tmp_path, ["resolved", "resolved"]), timeout=20)
    finally:
        await am.stop()


def monitoring_posts(world: World) -> list[dict]:
    return [p for p in world.sandbox.posts(world.alerts["id"]) if p["props"].get("from_webhook") == "true"]


async def test_flapping_keeps_one_incident_and_the_rule_resolves_it_when_all_alerts_clear(world, run_bot, tmp_path):
    runner = await run_bot(live_config(world, tmp_path))
    url = await eventually(lambda: runner.bot.http_url)
    api = {"name": "ApiErrors", "severity": "critical", "labels": {"service": "api"}}
    await send_generic(url, status="firing", fingerprint="api-1", **api)
    await send_generic(url, status="firing", fingerprint="api-2", **api)
    [(incident_id, *_)] = await eventually_async(with_channel(tmp_path))
    for status in ("resolved", "firing", "resolved", "firing"):   # api-1 flaps
        await send_generic(url, status=status, fingerprint="api-1", **api)
    assert len(await incidents(tmp_path)) == 1 and await statuses(tmp_path) == ["open"]

    await send_generic(url, status="resolved", fingerprint="api-1", **api)
    await send_generic(url, status="resolved", fingerprint="api-2", **api)
    await eventually_async(lambda: _statuses_are(tmp_path, ["resolved"]))
    channel_id = (await incidents(tmp_path))[0][4]
    await eventually(lambda: [p for p in world.bot_posts(channel_id) if "Every alert of the incident resolved" in
                              p["message"]])

    await send_generic(url, status="firing", fingerprint="api-1", **api)   # after the incident: a new one
    await eventually_async(lambda: _statuses_are(tmp_path, ["resolved", "open"]))
    assert incident_id == 1


async def _statuses_are(tmp_path, expected: list[str]) -> bool:
    return await statuses(tmp_path) == expected


async def test_only_after_waits_before_opening(world, run_bot, tmp_path):
    runner = await run_bot(live_config(world, tmp_path))
    url = await eventually(lambda: runner.bot.http_url)
    await send_generic(url, name="SlowDisk", status="firing", severity="warning", labels={"host": "db01"})
    await asyncio.sleep(0.4)
    assert await incidents(tmp_path) == []
    [(_, title, *_)] = await eventually_async(with_channel(tmp_path), timeout=5)
    assert title == "SlowDisk on db01"


async def test_ignore_for_an_hour_silences_the_alert(world, run_bot, tmp_path):
    await run_bot(live_config(world, tmp_path))
    monitoring = Monitoring(world)
    first = await monitoring.send_fixture("icinga_service_problem.json")
    (reply,) = await eventually(lambda: world.replies_to(first))
    ignore = next(a for a in reply["props"]["attachments"][0]["actions"] if a["name"] == "Ignore for 1h")
    await world.sandbox.click(world.alice["id"], reply["id"], ignore["id"])
    await eventually(lambda: [p for p in world.sandbox.posts(world.alerts["id"])
                              if p["id"] == reply["id"] and "ignored" in p["message"]])

    again = await monitoring.send_fixture("icinga_service_problem.json")
    row = await eventually_async(lambda: _outcome(tmp_path, again["id"]))
    assert row == "silenced"
    assert world.replies_to(again) == []


async def _outcome(tmp_path, post_id: str) -> str | None:
    row = await explained(tmp_path, post_id)
    outcome = json.loads(row[2]) if row else []
    return outcome[0]["decisions"][0]["kind"] if outcome else None
