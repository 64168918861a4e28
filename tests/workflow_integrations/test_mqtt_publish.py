"""publish_event against a real Mosquitto: a subscriber receives the JSON event; failures raise PublishError."""
from __future__ import annotations

import asyncio
import getpass
import json
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import aiomqtt
import pytest

from bot.workflow.integrations.mqtt_publish import PublishError, publish_event
from tests.mosquitto import MOSQUITTO, Mosquitto, free_port, make_broker

MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")


@pytest.fixture
async def broker(tmp_path):
    broker = await make_broker(tmp_path, persistent=False)
    yield broker
    await broker.stop()


async def receive_one(broker, topic: str, publish) -> aiomqtt.Message:
    """Subscribe to `topic`, run `publish()`, and return the first message that arrives."""
    async with aiomqtt.Client(broker.host, broker.port) as subscriber:
        await subscriber.subscribe(topic, qos=1)
        await publish()
        async with asyncio.timeout(5):
            async for message in subscriber.messages:
                return message
    raise AssertionError("no message")


@pytest.mark.parametrize("qos", [0, 1, 2])
async def test_subscriber_receives_the_json_event(broker, qos):
    event = {"incident": "INC-42", "status": "mitigated", "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)}
    message = await receive_one(broker, "incidents/+/events", lambda: publish_event(
        broker.host, broker.port, "incidents/INC-42/events", event, qos=qos, client_id="incident-bot-test"))
    assert str(message.topic) == "incidents/INC-42/events"
    assert json.loads(message.payload) == {"incident": "INC-42", "status": "mitigated",
                                           "at": "2026-01-02T03:04:05+00:00"}


async def test_unreachable_broker_raises_publish_error():
    port = free_port()
    with pytest.raises(PublishError) as caught:
        await publish_event("127.0.0.1", port, "incidents/x", {"a": 1}, timeout=2)
    assert f"mqtt://127.0.0.1:{port}/incidents/x" in str(caught.value)


async def test_silent_server_times_out_and_the_connection_is_closed():
    closed = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # take the CONNECT, say nothing, and wait for the client to hang up
        closed.set()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(PublishError, match="no answer within 0.3s"):
            await publish_event("127.0.0.1", port, "incidents/x", {"a": 1}, timeout=0.3)
        await asyncio.wait_for(closed.wait(), 2)
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("topic", ["", "incidents/+", "incidents/#"])
async def test_wildcard_or_empty_topics_are_refused(topic):
    with pytest.raises(PublishError, match="wildcards"):
        await publish_event("127.0.0.1", 1, topic, {"a": 1})


async def test_unserialisable_payload_is_refused():
    with pytest.raises(PublishError, match="not JSON-serialisable"):
        await publish_event("127.0.0.1", 1, "incidents/x", {"blob": object()})


class PasswordBroker(Mosquitto):
    """A Mosquitto that only lets in `alice` with password `wonderland`."""

    def _write_config(self) -> Path:
        password_file = self._workdir / "passwords"
        subprocess.run([MOSQUITTO_PASSWD, "-b", "-c", str(password_file), "alice", "wonderland"], check=True)
        config = self._workdir / "mosquitto.conf"
        config.write_text(f"listener {self.port} {self.host}\nallow_anonymous false\n"
                          f"password_file {password_file}\nuser {getpass.getuser()}\npersistence false\n")
        return config


@pytest.mark.skipif(not (MOSQUITTO and MOSQUITTO_PASSWD), reason="needs mosquitto and mosquitto_passwd")
async def test_credentials_are_used_and_a_refusal_is_reported(tmp_path):
    broker = PasswordBroker(tmp_path, persistent=False)
    await broker.start()
    try:
        await publish_event(broker.host, broker.port, "incidents/x", {"a": 1},
                            username="alice", password="wonderland")
        with pytest.raises(PublishError) as caught:
            await publish_event(broker.host, broker.port, "incidents/x", {"a": 1},
                                username="alice", password="wrong")
        assert "Not authorized" in str(caught.value) or "not authori" in str(caught.value).lower()
    finally:
        await broker.stop()
