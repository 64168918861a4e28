"""Related activity, end to end: a deploy bot's post in another channel and storms of related alerts reach the
open incident's channel as one linked digest and its timeline; `link` adds any post by hand."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import aiosqlite

from bot.config import Config, load_config
from tests.conftest import World, eventually, eventually_async
from tests.e2e.test_incident_lifecycle import command_and_reply, open_incident

TOKEN = "alert-webhook-token"
OPENING = {"name": "CheckoutErrors", "status": "firing", "severity": "critical",
           "labels": {"service": "checkout", "cluster": "eu1"}, "summary": "5xx over 5%"}


def funnel_config(world: World, tmp_path: Path, coalesce: str = "1s") -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"mattermost:\n  url: {world.sandbox.url}\n  token: ${{TEST_BOT_TOKEN}}\n  team: {world.team['name']}\n"
        f"storage:\n  path: state/bot.sqlite\nplaybooks:\n  dir: playbooks\n"
        "alerts:\n  channels: [alerts]\n  rules:\n"
        "    - {name: page, match: {severity: critical}, action: open_incident, title: '{{ alert.name }}'}\n"
        "    - {name: rest, action: ignore}\n"
        f"http:\n  listen: 127.0.0.1:0\n  alerts_token: {TOKEN}\n"
        f"funnel:\n  coalesce: {coalesce}\n  rules:\n"
        "    - {name: deploys, channels: [deployments], from: [deploy-bot], labels: [service]}\n"
        "    - {name: related-alerts, alerts: true, labels: [service, cluster]}\n")
    return load_config(path, {"TEST_BOT_TOKEN": world.bot_token})


def deploy_setup(world: World) -> tuple[dict, dict]:
    """A ~deployments channel the bot is not in yet, and a deploy bot that posts there."""
    deployments = world.sandbox.create_channel(world.team["id"], "deployments", "Deployments")
    deploy_bot, _ = world.sandbox.create_bot("deploy-bot", "Deploy Bot")
    for user in (deploy_bot, world.alice):
        world.sandbox.add_channel_member(deployments["id"], user["id"])
    return deployments, deploy_bot


async def send_alerts(runner, payloads: list[dict]) -> None:
    url = await eventually(lambda: runner.bot.http_url) + "/alerts/generic"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        async def send(payload: dict) -> None:
            async with session.post(url, json=payload) as response:
                assert response.status == 200, await response.text()
        await asyncio.gather(*(send(p) for p in payloads))


async def incident_channel(world: World, tmp_path: Path) -> str:
    async def channel_ready():
        async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
            row = await (await db.execute("SELECT channel_id FROM incidents WHERE id = 1 AND setup_done = 1")).fetchone()
        return row[0] if row else None
    return await eventually_async(channel_ready)


def digests(world: World, channel_id: str) -> list[dict]:
    return [p for p in world.bot_posts(channel_id) if "Related activity" in p["message"]]


async def timeline(tmp_path: Path, kind: str) -> list[tuple[str, dict]]:
    async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
        rows = await (await db.execute("SELECT text, data FROM timeline WHERE incident_id = 1 AND kind = ?",
                                       (kind,))).fetchall()
    return [(text, json.loads(data)) for text, data in rows]


async def pending_items(tmp_path: Path) -> int:
    async with aiosqlite.connect(tmp_path / "state" / "bot.sqlite") as db:
        (count,) = await (await db.execute("SELECT COUNT(*) FROM related_items WHERE digested = 0")).fetchone()
    return count


async def test_a_deploy_bots_post_elsewhere_shows_up_in_the_incident_channels_digest_and_timeline(world, run_bot,
                                                                                              tmp_path):
    deployments, deploy_bot = deploy_setup(world)
    runner = await run_bot(funnel_config(world, tmp_path))
    assert world.bot["id"] in world.sandbox.channel_members(deployments["id"])   # it joined the watched channel
    await send_alerts(runner, [OPENING])
    channel_id = await incident_channel(world, tmp_path)

    deployed = world.sandbox.post(deploy_bot["id"], deployments["id"], "Deployed checkout v1.2.3 to prod")
    world.sandbox.post(deploy_bot["id"], deployments["id"], "Deployed payments v2.0.0 to prod")
    world.say(world.alice, deployments, "checkout looks fine from here")   # not from the deploy bot

    (digest,) = await eventually(lambda: digests(world, channel_id))
    assert "Related activity (1)" in digest["message"]
    assert "deploy-bot" in digest["message"] and "~deployments" in digest["message"]
    assert "Deployed checkout v1.2.3" in digest["message"]
    assert f"{world.sandbox.url}/{world.team['name']}/pl/{deployed['id']}" in digest["message"]
    assert "payments" not in digest["message"] and "CheckoutErrors" not in digest["message"]
    (text, data) = (await eventually_async(lambda: timeline(tmp_path, "related_activity")))[0]
    assert "Deployed checkout v1.2.3" in text and data["count"] == 1 and data["post_id"] == digest["id"]
    assert data["items"][0]["link"].endswith(f"/pl/{deployed['id']}")
    await asyncio.sleep(1.5)
    assert len(digests(world, channel_id)) == 1


async def test_a_storm_of_related_alerts_makes_one_digest_and_a_restart_repeats_nothing(world, run_bot, tmp_path):
    deployments, deploy_bot = deploy_setup(world)
    config = funnel_config(world, tmp_path, coalesce="2s")
    runner = await run_bot(config)
    await send_alerts(runner, [OPENING])
    channel_id = await incident_channel(world, tmp_path)

    storm = [{"name": f"PodRestarting{n}", "status": "firing", "severity": "warning",
              "labels": {"service": "checkout", "cluster": "eu1", "pod": f"checkout-{n}"}} for n in range(50)]
    other = {"name": "PodRestarting", "status": "firing", "severity": "warning",
             "labels": {"service": "checkout", "cluster": "us1"}}
    await send_alerts(runner, storm + [other])
    (digest,) = await eventually(lambda: digests(world, channel_id))
    assert "Related activity (50)" in digest["message"] and "… and 35 more" in digest["message"]
    assert digest["message"].count("PodRestarting") == 15 and "checkout-" not in digest["message"]
    (_, data), = await eventually_async(lambda: timeline(tmp_path, "related_activity"))
    assert data["count"] == 50

    # a related post noted just before a stop is digested after the restart, once; the storm is not repeated
    world.sandbox.post(deploy_bot["id"], deployments["id"], "Deployed checkout v1.2.4")
    await eventually_async(lambda: pending_items(tmp_path))
    await runner.stop()
    await run_bot(config)
    await eventually(lambda: len(digests(world, channel_id)) == 2)
    await asyncio.sleep(3)
    first, second = digests(world, channel_id)
    assert first["id"] == digest["id"]
    assert "Related activity (1)" in second["message"] and "Deployed checkout v1.2.4" in second["message"]
    assert len(await timeline(tmp_path, "related_activity")) == 2


async def test_link_adds_a_post_from_another_channel_with_its_thread(world, run_bot, tmp_path):
    await run_bot()
    _, channel = await open_incident(world)
    clue = world.say(world.bob, world.town, "Checkout latency doubled right after the CDN change @alice")
    world.say(world.carol, world.town, "same here", root_id=clue["id"])
    link = f"{world.sandbox.url}/{world.team['name']}/pl/{clue['id']}"

    reply = await command_and_reply(world, world.alice, channel, f"@incident-bot link {link}?foo=bar")
    assert "Linked bob's post in ~town-square, in a thread of 2 posts" in reply["message"]
    assert reply["root_id"] != "" and link in reply["message"]
    ((text, data),) = await timeline(tmp_path, "linked_post")
    assert text.startswith("bob in ~town-square: Checkout latency doubled")
    assert data["permalink"] == link and data["thread_size"] == 2 and data["by"] == "alice"

    again = await command_and_reply(world, world.alice, channel, f"@incident-bot link {clue['id']}")
    assert "already" in again["message"]
    assert len(await timeline(tmp_path, "linked_post")) == 1


async def test_link_with_garbage_or_an_unreadable_post_says_what_to_do(world, run_bot, tmp_path):
    await run_bot()
    _, channel = await open_incident(world)
    secret = world.sandbox.create_channel(world.team["id"], "secret", "Secret", type="P", creator_id=world.alice["id"])
    hidden = world.say(world.alice, secret, "the root cause, privately")

    garbage = await command_and_reply(world, world.alice, channel, "@incident-bot link that thing from yesterday")
    assert "Copy Link" in garbage["message"] and "Usage: `@incident-bot link" in garbage["message"]
    unreadable = await command_and_reply(
        world, world.alice, channel, f"@incident-bot link {world.sandbox.url}/{world.team['name']}/pl/{hidden['id']}")
    assert "I cannot read that post" in unreadable["message"] and "/invite @incident-bot" in unreadable["message"]
    missing = await command_and_reply(world, world.alice, channel, "@incident-bot link " + "z" * 26)
    assert "I cannot read that post" in missing["message"]
    elsewhere = await command_and_reply(world, world.alice, world.town, f"@incident-bot link {hidden['id']}")
    assert "works in an incident's channel" in elsewhere["message"]

    world.sandbox.add_channel_member(secret["id"], world.bot["id"])   # the bot can read it now; bob still cannot
    world.sandbox.add_channel_member(channel["id"], world.bob["id"])
    refused = await command_and_reply(world, world.bob, channel, f"@incident-bot link {hidden['id']}")
    assert "private channel or conversation you are not in" in refused["message"]
    assert "privately" not in refused["message"]
    assert await timeline(tmp_path, "linked_post") == []
    allowed = await command_and_reply(world, world.alice, channel, f"@incident-bot link {hidden['id']}")
    assert "Linked alice's post in ~secret" in allowed["message"]
