"""MQTT alert source: subscribe to alert topics and pass each message's alerts on, reconnecting forever.

The session is persistent (`clean_session=False` with a stable client id), so the broker queues QoS 1
messages published while the bot is away and delivers them when it comes back. A message is either an
Alertmanager webhook payload (an `alerts` list and a `version`) or the generic JSON schema; anything
else is logged as not an alert and skipped. Each alert carries its topic in `labels["mqtt_topic"]`.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
from typing import Any, Awaitable, Callable

import aiomqtt

from bot.alerts.model import Alert
from bot.alerts.payloads import PayloadError, alerts_from_alertmanager_webhook, alerts_from_generic_json

log = logging.getLogger(__name__)

OnAlerts = Callable[[list[Alert]], Awaitable[None]]

TOPIC_LABEL = "mqtt_topic"
DEFAULT_MAX_PAYLOAD = 1_048_576


def alerts_from_mqtt_payload(payload: bytes, topic: str) -> list[Alert]:
    """Decode one message into alerts labelled with their topic; raise PayloadError when it is not alerts."""
    if len(payload) == 0:
        raise PayloadError("payload", "is empty")
    try:
        data = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PayloadError("payload", f"is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise PayloadError("payload", f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise PayloadError("payload", "is nested too deeply") from None
    alerts = alerts_from_alertmanager_webhook(data) if _looks_like_webhook(data) else alerts_from_generic_json(data)
    return [dataclasses.replace(alert, labels={**alert.labels, TOPIC_LABEL: topic}) for alert in alerts]


def _looks_like_webhook(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("alerts"), list) and "version" in data


def _backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Exponential backoff with equal jitter: half the delay fixed, half random."""
    delay = min(maximum, initial * (2 ** min(attempt, 30)))
    return delay / 2 + random.random() * delay / 2


class MqttAlertSource:
    """Keep a persistent MQTT session subscribed to alert topics and hand each message's alerts to `on_alerts`."""

    def __init__(
        self,
        on_alerts: OnAlerts,
        *,
        host: str,
        port: int = 1883,
        topics: list[str],
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        qos: int = 1,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        keepalive: int = 30,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
    ) -> None:
        if not topics:
            raise ValueError("the MQTT alert source needs at least one topic")
        for topic in topics:
            aiomqtt.Wildcard(topic)  # raises ValueError naming a malformed filter
        if not client_id:
            raise ValueError("a persistent MQTT session needs a stable, non-empty client_id")
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, not {qos!r}")
        self._on_alerts = on_alerts
        self._host = host
        self._port = port
        self._topics = list(topics)
        self._client_id = client_id
        self._username = username
        self._password = password
        self._qos = qos
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._keepalive = keepalive
        self._max_payload = max_payload
        self.connected = asyncio.Event()
        self.connects = 0

    async def run(self) -> None:
        """Connect, subscribe, read messages, and reconnect with backoff until cancelled."""
        failures = 0
        while True:
            try:
                await self._serve_one_session()
            except aiomqtt.MqttError as exc:
                log.warning("MQTT alert source lost %s:%s: %s", self._host, self._port, exc)
            except Exception:
                log.exception("MQTT alert source loop error; reconnecting")
            finally:
                if self.connected.is_set():
                    failures = 0  # the broker was reachable: start the backoff over
                self.connected.clear()
            delay = _backoff_delay(failures, self._backoff_initial, self._backoff_max)
            failures += 1
            await asyncio.sleep(delay)

    async def _serve_one_session(self) -> None:
        # A fresh client per connection: aiomqtt's reused client can keep stale connection state after an
        # unexpected disconnect (empicano/aiomqtt#288). Messages it already queued are still read out by
        # `client.messages` before it reports the disconnect, so none are dropped on the way.
        client = aiomqtt.Client(
            self._host,
            self._port,
            identifier=self._client_id,
            username=self._username,
            password=self._password,
            clean_session=False,
            keepalive=self._keepalive,
        )
        async with client:
            await client.subscribe([(topic, self._qos) for topic in self._topics])
            self.connects += 1
            self.connected.set()
            log.info("MQTT alert source connected to %s:%s as %r, subscribed to %s",
                     self._host, self._port, self._client_id, ", ".join(self._topics))
            async for message in client.messages:
                await self._handle(message)

    async def _handle(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        payload = message.payload
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        elif not isinstance(payload, (bytes, bytearray)):
            payload = b"" if payload is None else str(payload).encode("utf-8")
        if len(payload) > self._max_payload:
            log.warning("MQTT message on %r is not an alert: payload of %d bytes is over the %d byte limit",
                        topic, len(payload), self._max_payload)
            return
        try:
            alerts = alerts_from_mqtt_payload(bytes(payload), topic)
        except PayloadError as exc:
            log.warning("MQTT message on %r is not an alert: %s: %s", topic, exc.field, exc.reason)
            return
        try:
            await self._on_alerts(alerts)
        except Exception:
            log.exception("MQTT alert source: handling %d alerts from %r failed", len(alerts), topic)
