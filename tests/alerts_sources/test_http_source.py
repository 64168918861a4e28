"""The HTTP alert receiver over a real socket: auth, limits, whole-or-nothing validation, retryable failures."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.alerts.http_source import AlertReceiver
from bot.alerts.model import Alert, AlertSeverity, AlertSource, AlertStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
TOKEN = "s3cret-token"
MAX_BODY = 64 * 1024


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


class Recorder:
    """An `on_alerts` that remembers each call, and can be told to fail."""

    def __init__(self) -> None:
        self.calls: list[list[Alert]] = []
        self.fail = False

    async def __call__(self, alerts: list[Alert]) -> None:
        if self.fail:
            raise RuntimeError("store is down")
        self.calls.append(alerts)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def base_url(recorder):
    receiver = AlertReceiver(recorder, token=TOKEN, max_body=MAX_BODY)
    url = await receiver.serve("127.0.0.1", 0)
    yield url
    await receiver.close()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post(http, url, *, json_body=None, data=None, headers=None) -> tuple[int, dict, dict]:
    async with http.post(url, json=json_body, data=data, headers=headers) as response:
        body = await response.json(content_type=None)
        return response.status, body, dict(response.headers)


async def test_alertmanager_webhook_is_handed_on_once(http, base_url, recorder):
    status, body, _ = await post(http, f"{base_url}/alerts/alertmanager",
                                 json_body=load("alertmanager_webhook_firing.json"), headers=bearer())
    assert status == 200
    assert body["alerts"] == 2
    assert len(recorder.calls) == 1
    first, second = recorder.calls[0]
    assert (first.source, first.status, first.name) == (AlertSource.ALERTMANAGER, AlertStatus.FIRING, "InstanceDown")
    assert first.fingerprint == "8675d60ae63d6196"
    assert second.fingerprint == "eda49f6767d045e1"
    assert first.severity is AlertSeverity.CRITICAL
    assert first.labels["instance"] == "10.0.0.11:9100"


async def test_generic_alert_is_handed_on(http, base_url, recorder):
    alert = {"name": "Disk full", "status": "firing", "severity": "high", "labels": {"host": "db01"}}
    status, _, _ = await post(http, f"{base_url}/alerts/generic", json_body=alert, headers=bearer())
    assert status == 200
    [[received]] = recorder.calls
    assert (received.source, received.name, received.severity) == (AlertSource.JSON, "Disk full", AlertSeverity.CRITICAL)


async def test_scheme_is_case_insensitive(http, base_url, recorder):
    status, _, _ = await post(http, f"{base_url}/alerts/alertmanager", json_body=load("alertmanager_webhook_firing.json"),
                              headers={"Authorization": f"bearer {TOKEN}"})
    assert status == 200
    assert len(recorder.calls) == 1


@pytest.mark.parametrize("headers", [
    bearer("wrong-token"),
    bearer(TOKEN + "x"),
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": "Bearer"},
])
async def test_bad_token_is_refused(http, base_url, recorder, headers):
    status, body, response_headers = await post(http, f"{base_url}/alerts/alertmanager",
                                                json_body=load("alertmanager_webhook_firing.json"), headers=headers)
    assert status == 401
    assert body["error"]
    assert response_headers["WWW-Authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in response_headers["WWW-Authenticate"]
    assert recorder.calls == []


@pytest.mark.parametrize("path", ["/alerts/alertmanager", "/alerts/generic"])
async def test_missing_token_is_refused(http, base_url, recorder, path):
    status, body, response_headers = await post(http, f"{base_url}{path}",
                                                json_body=load("alertmanager_webhook_firing.json"))
    assert status == 401
    assert body["error"]
    assert response_headers["WWW-Authenticate"].startswith("Bearer")
    assert recorder.calls == []


async def test_malformed_json_is_refused(http, base_url, recorder):
    status, body, _ = await post(http, f"{base_url}/alerts/alertmanager", data=b'{"version": "4", "alerts": [',
                                 headers={**bearer(), "Content-Type": "application/json"})
    assert status == 400
    assert body["field"] == "body"
    assert "JSON" in body["error"]
    assert recorder.calls == []


async def test_wrong_content_type_is_refused(http, base_url, recorder):
    payload = json.dumps(load("alertmanager_webhook_firing.json")).encode()
    status, body, _ = await post(http, f"{base_url}/alerts/alertmanager", data=payload,
                                 headers={**bearer(), "Content-Type": "text/plain"})
    assert status == 400
    assert body["field"] == "Content-Type"
    assert recorder.calls == []


async def test_one_bad_alert_refuses_the_whole_payload(http, base_url, recorder):
    payload = load("alertmanager_webhook_firing.json")
    payload["alerts"].append(copy.deepcopy(payload["alerts"][0]))
    payload["alerts"][1]["status"] = "exploded"
    status, body, _ = await post(http, f"{base_url}/alerts/alertmanager", json_body=payload, headers=bearer())
    assert status == 400
    assert body["field"] == "alerts[1].status"
    assert body["error"].startswith("alerts[1].status")
    assert recorder.calls == []


async def test_bad_label_value_names_the_label(http, base_url, recorder):
    payload = load("alertmanager_webhook_firing.json")
    payload["alerts"][1]["labels"]["instance"] = 9100
    status, body, _ = await post(http, f"{base_url}/alerts/alertmanager", json_body=payload, headers=bearer())
    assert status == 400
    assert body["field"] == "alerts[1].labels.instance"
    assert recorder.calls == []


async def test_oversize_body_is_refused(http, base_url, recorder):
    payload = load("alertmanager_webhook_firing.json")
    payload["alerts"][0]["annotations"]["description"] = "x" * (MAX_BODY + 1)
    status, body, _ = await post(http, f"{base_url}/alerts/alertmanager", json_body=payload, headers=bearer())
    assert status == 413
    assert body["error"]
    assert recorder.calls == []


async def test_oversize_chunked_body_is_refused(http, base_url, recorder):
    async def chunks():
        for _ in range(MAX_BODY // 1024 + 2):
            yield b" " * 1024

    status, _, _ = await post(http, f"{base_url}/alerts/alertmanager", data=chunks(),
                              headers={**bearer(), "Content-Type": "application/json"})
    assert status == 413
    assert recorder.calls == []


async def test_failing_handler_asks_for_a_retry(http, base_url, recorder):
    recorder.fail = True
    status, body, _ = await post(http, f"{base_url}/alerts/alertmanager",
                                 json_body=load("alertmanager_webhook_firing.json"), headers=bearer())
    assert status == 503
    assert body["error"]
    recorder.fail = False
    status, _, _ = await post(http, f"{base_url}/alerts/alertmanager",
                              json_body=load("alertmanager_webhook_firing.json"), headers=bearer())
    assert status == 200
    assert len(recorder.calls) == 1


async def test_routes_mount_on_another_application(http, recorder):
    receiver = AlertReceiver(recorder, token=TOKEN)
    application = web.Application()
    application.add_routes(receiver.routes())
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        status, _, _ = await post(http, f"http://{host}:{port}/alerts/alertmanager",
                                  json_body=load("alertmanager_webhook_resolved.json"), headers=bearer())
        assert status == 200
        assert recorder.calls[0][0].status is AlertStatus.RESOLVED
    finally:
        await runner.cleanup()


def test_empty_token_is_rejected():
    async def ignore(alerts):
        return None

    with pytest.raises(ValueError):
        AlertReceiver(ignore, token="")
