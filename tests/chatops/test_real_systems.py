"""The shipped example commands against the real Prometheus and Alertmanager binaries."""
from __future__ import annotations

from dataclasses import replace

import aiohttp

from bot.config import ChatopsConfig
from tests.alertmanager import start_alertmanager
from tests.conftest import ROOT, World, eventually, eventually_async
from tests.chatops.test_commands_e2e import reply_containing, start_incident, timeline_of
from tests.prometheus import start_prometheus


def example_commands(world: World, tmp_path, **variables):
    return replace(world.config(tmp_path), chatops=ChatopsConfig(dir=ROOT / "playbooks" / "commands",
                                                                 variables=variables))


async def test_prom_renders_an_instant_query_from_the_real_prometheus(world, run_bot, tmp_path):
    prometheus = await start_prometheus(tmp_path)
    try:
        await run_bot(example_commands(world, tmp_path, prometheus=prometheus.url))
        ask = world.say(world.alice, world.town, '@incident-bot prom up{job="prometheus"}')
        answer = (await eventually(reply_containing(world, ask, "series"), timeout=15))["message"]
        port = prometheus.url.rsplit(":", 1)[1]
        assert '`up{job="prometheus"}`: 1 series' in answer
        assert "| __name__ | instance | job | value |" in answer
        assert f"| up | 127.0.0.1:{port} | prometheus | 1 |" in answer

        total = world.say(world.alice, world.town, "@incident-bot prom count(up)")
        answer = (await eventually(reply_containing(world, total, "count(up)"), timeout=15))["message"]
        assert "| value |" in answer and "| 1 |" in answer

        scalar = world.say(world.alice, world.town, "@incident-bot prom scalar(count(up)) * 2")
        assert await eventually(reply_containing(world, scalar, "= **2**"), timeout=15)

        bad = world.say(world.alice, world.town, "@incident-bot prom rate(up[")
        answer = (await eventually(reply_containing(world, bad, "failed"), timeout=15))["message"]
        assert "`prom` failed: GET" in answer and "HTTP 400" in answer and "parse error" in answer
    finally:
        await prometheus.stop()


async def test_silence_is_created_in_alertmanager_and_expired_on_resolve(world, run_bot, tmp_path):
    alertmanager = await start_alertmanager(tmp_path, webhook_url="http://127.0.0.1:9/unused")
    try:
        await run_bot(example_commands(world, tmp_path, alertmanager=alertmanager.url))
        channel = await start_incident(world)
        ask = world.say(world.alice, channel, '@incident-bot silence 2h alertname=HighErrorRate service=~"checkout|cart"')
        answer = (await eventually(reply_containing(world, ask, "Silenced"), timeout=15))["message"]
        assert "`alertname=HighErrorRate` `service=~checkout|cart` until INC-1 resolves" in answer

        async with aiohttp.ClientSession() as session:
            async def silences():
                async with session.get(alertmanager.url + "/api/v2/silences") as response:
                    return await response.json()

            (silence,) = await silences()
            assert silence["status"]["state"] == "active"
            assert silence["createdBy"] == "alice via incident-bot" and silence["comment"] == "INC-1: Checkout down"
            assert {(m["name"], m["value"], m["isRegex"]) for m in silence["matchers"]} == \
                {("alertname", "HighErrorRate", False), ("service", "checkout|cart", True)}
            assert silence["id"] in answer

            world.say(world.alice, channel, "@incident-bot resolve Rolled back")
            expired = await eventually_async(lambda: _expired(silences), timeout=15)
            assert expired
        undo = await eventually_async(lambda: _undo_entries(tmp_path))
        assert "undid `silence` on resolve: DELETE" in undo[0].text
    finally:
        await alertmanager.stop()


async def _expired(silences):
    (silence,) = await silences()
    return silence["status"]["state"] == "expired"


async def _undo_entries(tmp_path):
    return [e for e in await timeline_of(tmp_path) if e.text.startswith("undid")]
