"""The MQTT alert source against a real Mosquitto: wildcards, garbage, persistent sessions, broker restarts."""
from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from bot.alerts.model import Alert, AlertSource
from bot.alerts.mqtt_source import TOPIC_LABEL, MqttAlertSource
from tests.conftest import eventually
from tests.mosquitto import make_broker

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"



@pytest.fixture
async def broker(tmp_path):
    broker = await make_broker(tmp_path, persistent=False)
    yield broker
    await broker.stop()


@pytest.fixture
async def persistent_broker(tmp_path):
    broker = await make_broker(tmp_path, persistent=True)
    yield broker
    await broker.stop()


class Collector:
    """An `on_alerts` that keeps every alert it is given."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.calls = 0

    async def __call__(self, alerts: list[Alert]) -> None:
        self.calls += 1
        self.alerts.extend(alerts)

    def names(self) -> list[str]:
        return [alert.name for alert in self.alerts]


@contextlib.asynccontextmanager
async def running(source: MqttAlertSource):
    """Run the source as a task, wait for its first connection, and cancel it on the way out."""
    task = asyncio.create_task(source.run(), name="mqtt-alert-source")
    try:
        await asyncio.wait_for(source.connected.wait(), 5)
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def source_for(broker, collector: Collector, topics: list[str], client_id: str, **options) -> MqttAlertSource:
    return MqttAlertSource(collector, host=broker.host, port=broker.port, topics=topics, client_id=client_id, **options)


async def publish(broker, *messages: tuple[str, bytes | str]) -> None:
    """Publish each (topic, payload) at QoS 1 from a separate client, in order."""
    async with aiomqtt.Client(broker.host, broker.port, identifier=unique("publisher")) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


def generic(name: str, **extra: Any) -> str:
    return json.dumps({"name": name, "status": "firing", **extra})


async def test_published_alert_is_received_with_its_topic(broker):
    collector = Collector()
    base = unique("alerts")
    async with running(source_for(broker, collector, [f"{base}/#"], unique("bot"))):
        await publish(broker, (f"{base}/prod", generic("Disk full", severity="critical", labels={"host": "db01"})))
        await eventually(lambda: collector.alerts)
    [alert] = collector.alerts
    assert (alert.source, alert.name) == (AlertSource.JSON, "Disk full")
    assert alert.labels[TOPIC_LABEL] == f"{base}/prod"
    assert alert.labels["host"] == "db01"


async def test_alertmanager_payload_is_detected(broker):
    collector = Collector()
    base = unique("alerts")
    payload = (FIXTURES / "alertmanager_webhook_firing.json").read_text()
    async with running(source_for(broker, collector, [f"{base}/#"], unique("bot"))):
        await publish(broker, (f"{base}/am", payload))
        await eventually(lambda: len(collector.alerts) == 2)
    assert collector.calls == 1
    assert {alert.source for alert in collector.alerts} == {AlertSource.ALERTMANAGER}
    assert [alert.fingerprint for alert in collector.alerts] == ["8675d60ae63d6196", "eda49f6767d045e1"]


async def test_wildcard_topics(broker):
    collector = Collector()
    base = unique("wild")
    topics = [f"{base}/alerts/#", f"{base}/site/+/alerts"]
    async with running(source_for(broker, collector, topics, unique("bot"))):
        await publish(
            broker,
            (f"{base}/alerts/prod/db", generic("deep")),
            (f"{base}/site/berlin/alerts", generic("single level")),
            (f"{base}/site/berlin/other", generic("not subscribed")),
            (f"{base}/site/berlin/rack1/alerts", generic("too deep for +")),
            (f"{base}/alerts", generic("parent of #")),
            (f"{base}/alerts/last", generic("sentinel")),
        )
        await eventually(lambda: "sentinel" in collector.names())
    assert collector.names() == ["deep", "single level", "parent of #", "sentinel"]
    assert collector.alerts[1].labels[TOPIC_LABEL] == f"{base}/site/berlin/alerts"


async def test_garbage_is_skipped_and_the_loop_survives(broker):
    collector = Collector()
    base = unique("garbage")
    source = source_for(broker, collector, [f"{base}/#"], unique("bot"))
    async with running(source) as task:
        await publish(
            broker,
            (f"{base}/a", b"not json at all"),
            (f"{base}/a", b"\xff\xfe\x00binary"),
            (f"{base}/a", b""),
            (f"{base}/a", b"[1, 2, 3]"),
            (f"{base}/a", generic("")),
            (f"{base}/a", json.dumps({"name": "typo", "status": "firing", "sumary": "x"})),
            (f"{base}/a", json.dumps({"version": "4", "alerts": [{"status": "firing"}]})),
            (f"{base}/a", b"[" * 100_000),
            (f"{base}/a", generic("good one")),
        )
        await eventually(lambda: collector.alerts)
        await publish(broker, (f"{base}/b", generic("still listening")))
        await eventually(lambda: len(collector.alerts) == 2)
        assert not task.done()
        assert source.connects == 1
    assert collector.names() == ["good one", "still listening"]


async def test_failing_handler_does_not_stop_the_loop(broker):
    received: list[str] = []

    async def flaky(alerts: list[Alert]) -> None:
        received.extend(alert.name for alert in alerts)
        if alerts[0].name == "boom":
            raise RuntimeError("handler bug")

    base = unique("flaky")
    source = MqttAlertSource(flaky, host=broker.host, port=broker.port, topics=[f"{base}/#"], client_id=unique("bot"))
    async with running(source) as task:
        await publish(broker, (f"{base}/a", generic("boom")), (f"{base}/a", generic("after")))
        await eventually(lambda: received == ["boom", "after"])
        assert not task.done()


async def test_persistent_session_delivers_what_was_published_while_away(broker):
    collector = Collector()
    base = unique("session")
    client_id = unique("bot")
    async with running(source_for(broker, collector, [f"{base}/#"], client_id)):
        await publish(broker, (f"{base}/a", generic("before")))
        await eventually(lambda: collector.names() == ["before"])
    # The source is stopped: the broker keeps its session and queues QoS 1 messages for it.
    await publish(broker, (f"{base}/a", generic("while away 1")), (f"{base}/b", generic("while away 2")))
    async with running(source_for(broker, collector, [f"{base}/#"], client_id)):
        await eventually(lambda: len(collector.alerts) == 3)
        await publish(broker, (f"{base}/a", generic("after")))
        await eventually(lambda: len(collector.alerts) == 4)
    assert collector.names() == ["before", "while away 1", "while away 2", "after"]


async def test_reconnects_after_broker_restart_without_losing_qos1(persistent_broker):
    broker = persistent_broker
    collector = Collector()
    base = unique("restart")
    # A first retry no sooner than 0.75 s after the loss, so the broker is back before the source is.
    source = source_for(broker, collector, [f"{base}/#"], unique("bot"), backoff_initial=1.5, backoff_max=2.0)
    async with running(source) as task:
        await publish(broker, (f"{base}/a", generic("before")))
        await eventually(lambda: collector.names() == ["before"])

        await broker.stop()
        await eventually(lambda: not source.connected.is_set())
        await broker.start()
        await publish(broker, (f"{base}/a", generic("while reconnecting")))
        assert not source.connected.is_set(), "the source came back before the message was published"

        await eventually(source.connected.is_set, timeout=8)
        await eventually(lambda: "while reconnecting" in collector.names())
        await publish(broker, (f"{base}/a", generic("after restart")))
        await eventually(lambda: "after restart" in collector.names())
        assert not task.done()
    assert collector.names() == ["before", "while reconnecting", "after restart"]
    assert source.connects == 2


def test_bad_topic_filter_is_rejected():
    async def ignore(alerts):
        return None

    with pytest.raises(ValueError):
        MqttAlertSource(ignore, host="127.0.0.1", port=1, topics=["alerts/#/more"], client_id="bot")
    with pytest.raises(ValueError):
        MqttAlertSource(ignore, host="127.0.0.1", port=1, topics=[], client_id="bot")
