"""Custom commands that run an allow-listed program, publish to MQTT or run a playbook step, end to end."""
from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import aiomqtt
import pytest

from bot.config import ChatopsConfig, IntegrationsConfig, MqttConfig
from bot.workflow.integrations.commands import CommandAllowList
from tests.chatops.test_commands_e2e import reply_containing, runs_of, start_incident, timeline_of
from tests.conftest import eventually
from tests.mosquitto import make_broker

COMMANDS = """
commands:
  - name: disk
    description: Disk usage of a path on the bot's host.
    args: [{name: path, help: "a folder, like /var"}]
    run_command: {command: du, args: ["{{ args.path }}"]}
  - name: uptime
    description: How long the host has been up, in one line.
    run_command: {command: say, args: ["up since", "{{ user.username }}"]}
    reply: "{{ output.text | trim }} (exit {{ output.exit_code }})"
  - name: failover
    description: Ask the database operator to fail over.
    args: [{name: cluster, type: choice, choices: [main, replica]}]
    incident_only: true
    publish: {topic: "ops/{{ args.cluster }}/failover", payload: {by: "{{ user.username }}"}, qos: 1}
  - name: escalate
    description: Tell leadership, from the incident channel.
    args: [{name: text, type: text}]
    incident_only: true
    step: {post: {message: "Escalated by @{{ user.username }}: {{ args.text }} ({{ incident.key }})", pin: true}}
"""


@pytest.fixture
async def broker(tmp_path):
    broker = await make_broker(tmp_path, persistent=False)
    yield broker
    await broker.stop()


def config(world, tmp_path, broker):
    folder = tmp_path / "commands"
    folder.mkdir()
    (folder / "ops.yaml").write_text(COMMANDS)
    allow_list = CommandAllowList.from_config({"du": {"argv": ["du", "-s"], "max_args": 1},
                                               "say": {"argv": ["echo"], "max_args": 2}})
    base = world.config(tmp_path)
    return replace(base, commands=allow_list, chatops=ChatopsConfig(dir=folder),
                   integrations=IntegrationsConfig(mqtt=MqttConfig(host=broker.host, port=broker.port)))


async def test_allow_listed_programs_mqtt_and_playbook_steps(world, run_bot, tmp_path, broker):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "file").write_bytes(b"x" * 10000)
    await run_bot(config(world, tmp_path, broker))

    ask = world.say(world.alice, world.town, f"@incident-bot disk {tmp_path / 'data'}")
    answer = (await eventually(reply_containing(world, ask, "$ du -s")))["message"]
    assert answer.startswith("```\n$ du -s ") and f"\t{tmp_path / 'data'}" in answer
    ask = world.say(world.alice, world.town, "@incident-bot disk '; rm -rf /'")
    answer = (await eventually(reply_containing(world, ask, "du")))["message"]
    assert "$ du -s '; rm -rf /'" in answer   # one literal argument, no shell
    ask = world.say(world.alice, world.town, "@incident-bot uptime")
    assert await eventually(reply_containing(world, ask, "up since alice (exit 0)"))

    channel = await start_incident(world)
    world.sandbox.add_channel_member(channel["id"], world.bob["id"])
    async with aiomqtt.Client(broker.host, broker.port, identifier="test-subscriber") as subscriber:
        await subscriber.subscribe("ops/#", qos=1)
        ask = world.say(world.bob, channel, "@incident-bot failover Main")
        async with asyncio.timeout(10):
            message = await anext(aiter(subscriber.messages))
    assert str(message.topic) == "ops/main/failover"
    payload = json.loads(message.payload)
    assert payload["by"] == "bob" and payload["incident"]["key"] == "INC-1"
    assert await eventually(reply_containing(world, ask, "Published to `ops/main/failover`"))
    ask = world.say(world.bob, channel, "@incident-bot failover primary")
    assert await eventually(reply_containing(world, ask, "`cluster` must be one of main, replica"))

    ask = world.say(world.bob, channel, "@incident-bot escalate customers see 500s")
    pinned = await eventually(lambda: [p for p in world.bot_posts(channel["id"])
                                       if p["message"] == "Escalated by @bob: customers see 500s (INC-1)"])
    assert pinned[0]["is_pinned"]
    assert await eventually(reply_containing(world, ask, "posted"))

    entries = [e for e in await timeline_of(tmp_path) if e.kind == "command"]
    assert [e.data["command"] for e in entries] == ["failover", "escalate"]
    assert all(e.actor_id == world.bob["id"] and e.data["status"] == "ok" for e in entries)
    assert sorted(r.command for r in await runs_of(tmp_path)) == ["disk", "disk", "escalate", "failover", "uptime"]
