"""Publish one JSON event to an MQTT broker for a playbook action."""
from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import aiomqtt

log = logging.getLogger(__name__)

_CLOSE_GRACE = 1.0
_AIOMQTT_TIMEOUT = "Operation timed out"


class PublishError(Exception):
    """The event did not reach the broker; the message says why."""


async def publish_event(
    host: str,
    port: int,
    topic: str,
    payload: dict[str, Any],
    *,
    qos: int = 1,
    client_id: str | None = None,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 5,
) -> None:
    """Connect, publish `payload` as JSON to `topic` and wait for the broker's acknowledgement (QoS 1 and 2)."""
    if not topic or "+" in topic or "#" in topic or "\x00" in topic:
        raise PublishError(f"cannot publish to {topic!r}: a topic must be non-empty and contain no wildcards")
    if qos not in (0, 1, 2):
        raise PublishError(f"qos must be 0, 1 or 2, not {qos!r}")
    try:
        body = json.dumps(payload, default=_plain, ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise PublishError(f"cannot publish to {topic}: payload is not JSON-serialisable: {exc}") from None
    where = f"mqtt://{host}:{port}/{topic}"
    try:
        client = aiomqtt.Client(hostname=host, port=port, identifier=client_id, username=username,
                                password=password, timeout=timeout)
        # aiomqtt's own timeouts bound the connection and the acknowledgement; this outer one is a backstop
        # (cancelling aiomqtt mid-connect would leave its socket open).
        async with asyncio.timeout(2 * timeout + _CLOSE_GRACE), _connected(client):
            await client.publish(topic, payload=body, qos=qos, timeout=timeout)
    except TimeoutError:
        raise PublishError(f"cannot publish to {where}: no answer within {timeout:g}s") from None
    except aiomqtt.MqttCodeError as exc:
        raise PublishError(f"cannot publish to {where}: broker refused ({exc})") from None
    except aiomqtt.MqttError as exc:
        if str(exc) == _AIOMQTT_TIMEOUT:
            raise PublishError(f"cannot publish to {where}: no answer within {timeout:g}s") from None
        raise PublishError(f"cannot publish to {where}: {exc}") from None
    except (OSError, ValueError) as exc:
        raise PublishError(f"cannot publish to {where}: {exc}") from None
    log.debug("published %d bytes to %s", len(body), where)


@contextlib.asynccontextmanager
async def _connected(client: aiomqtt.Client) -> AsyncIterator[aiomqtt.Client]:
    """Connect `client` for the block, closing its socket even when the connection attempt fails."""
    try:
        await client.__aenter__()
    except BaseException:
        # aiomqtt 2.5 leaves the socket open when a broker accepts TCP but never answers CONNECT;
        # its exit path sends DISCONNECT and closes it.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_CLOSE_GRACE):
                await client.__aexit__(None, None, None)
        raise
    try:
        yield client
    finally:
        await client.__aexit__(None, None, None)


def _plain(value: Any) -> Any:
    """Turn the few non-JSON values events carry (times, enums, sets) into JSON ones."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
