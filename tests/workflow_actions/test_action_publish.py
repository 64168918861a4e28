"""publish to a real Mosquitto: the payload as JSON, with the incident added to mappings."""
from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest

from bot.config import MqttConfig
from bot.workflow.actions import actions
from bot.workflow.context import Integrations
from tests.mosquitto import free_port, make_broker
from tests.workflow_actions.conftest import step_args

publish = actions()["publish"]


@pytest.fixture
async def broker(tmp_path):
    broker = await make_broker(tmp_path, persistent=False)
    yield broker
    await broker.stop()


async def published(broker, ctx, args) -> tuple:
    """Run the action while subscribed to everything; return (result, topic, decoded payload)."""
    # Subscribed as the alert listener is (same client id): reusing it would make the broker drop this session.
    async with aiomqtt.Client(broker.host, broker.port, identifier=ctx.integrations.mqtt.client_id) as subscriber:
        await subscriber.subscribe("#", qos=1)
        result = await publish(ctx, args)
        assert result.ok, result
        async with asyncio.timeout(5):
            async for message in subscriber.messages:
                return result, str(message.topic), json.loads(message.payload)
    raise AssertionError("no message")


def mqtt(broker) -> Integrations:
    return Integrations(mqtt=MqttConfig(host=broker.host, port=broker.port, client_id="incident-bot"))


async def test_a_mapping_payload_is_rendered_and_gets_the_incident(step, broker):
    args = step_args("publish", {"topic": "incidents/{{ incident.key }}/failover",
                                 "payload": {"action": "failover", "ns": "{{ alert.labels.namespace }}", "n": 2},
                                 "qos": 1})
    result, topic, payload = await published(broker, step.ctx(integrations=mqtt(broker)), args)
    assert topic == f"incidents/{step.incident.key}/failover"
    assert payload == {"incident": {"key": step.incident.key, "id": step.incident.id, "title": "Checkout is down",
                                    "severity": "sev2", "status": "open"},
                       "action": "failover", "ns": "shop", "n": 2}
    assert result.detail == {"topic": topic, "qos": 1} and result.summary == f"published to {topic} (qos 1)"


async def test_no_payload_sends_the_incident_and_a_mapping_with_its_own_incident_keeps_it(step, broker):
    ctx = step.ctx(integrations=mqtt(broker))
    _, _, bare = await published(broker, ctx, step_args("publish", {"topic": "incidents/opened"}))
    assert bare == {"incident": {"key": step.incident.key, "id": step.incident.id, "title": "Checkout is down",
                                 "severity": "sev2", "status": "open"}}
    _, _, own = await published(broker, ctx, step_args("publish", {"topic": "t", "payload": {"incident": "x"}}))
    assert own == {"incident": "x"}


async def test_text_is_sent_as_a_json_string(step, broker):
    _, _, text = await published(broker, step.ctx(integrations=mqtt(broker)), step_args(
        "publish", {"topic": "sirens/ops", "payload": "{{ incident.severity.label }} on"}))
    assert text == "SEV2 on"


async def test_an_unreachable_broker_or_no_configuration_fails_the_step(step):
    down = Integrations(mqtt=MqttConfig(host="127.0.0.1", port=free_port()))
    unreachable = await publish(step.ctx(integrations=down), step_args("publish", {"topic": "t"}))
    assert not unreachable.ok and unreachable.summary.startswith("cannot publish to mqtt://127.0.0.1:")
    off = await publish(step.ctx(), step_args("publish", {"topic": "t"}))
    assert (off.ok, off.summary) == (False, "MQTT is not configured")
