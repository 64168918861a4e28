"""Rate limiting, fault injection, latency, the request log and the HTTP controls."""
from __future__ import annotations

import asyncio
import time

import requests
import websockets

from bot.sandbox import Sandbox
from sandbox_helpers import ws_url


def get_me(sandbox: Sandbox, token: str | None = None) -> requests.Response:
    """GET /users/me as the admin (or the given token)."""
    return requests.get(f"{sandbox.url}/api/v4/users/me",
                        headers={"Authorization": f"Bearer {token or sandbox.admin_token}"}, timeout=5)


async def test_rate_limit_429_headers_and_recovery():
    sandbox = Sandbox(rate_limit=True, per_sec=10, burst=5)
    await sandbox.start()
    try:
        first = await asyncio.to_thread(get_me, sandbox)
        assert first.status_code == 200
        assert first.headers["X-RateLimit-Limit"] == "6" and first.headers["X-RateLimit-Remaining"] == "5"
        responses = [await asyncio.to_thread(get_me, sandbox) for _ in range(10)]
        limited = next(r for r in responses if r.status_code == 429)
        assert limited.text == "limit exceeded\n"
        assert limited.headers["Content-Type"].startswith("text/plain")
        assert limited.headers["Retry-After"] == "1" and limited.headers["X-RateLimit-Remaining"] == "0"
        assert int(limited.headers["X-RateLimit-Reset"]) >= 1
        with_config = await asyncio.to_thread(requests.get, f"{sandbox.url}/api/v4/config", timeout=5,
                                              headers={"Authorization": f"Bearer {sandbox.admin_token}"})
        assert with_config.status_code in (200, 429)
        await asyncio.sleep(int(limited.headers["Retry-After"]))
        assert (await asyncio.to_thread(get_me, sandbox)).status_code == 200
        assert ("GET", "/api/v4/users/me", 429) in sandbox.request_log
    finally:
        await sandbox.stop()


async def test_rate_limit_applies_to_the_websocket_upgrade(sandbox):
    sandbox.set_rate_limit(True, per_sec=1, burst=0)
    assert (await asyncio.to_thread(get_me, sandbox)).status_code == 200
    try:
        await websockets.connect(ws_url(sandbox), open_timeout=3)
        raise AssertionError("the upgrade was not limited")
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code == 429
        assert refused.response.headers["Retry-After"] == "1"


async def test_config_reports_rate_limit_settings(sandbox):
    sandbox.set_rate_limit(True, per_sec=50, burst=200)
    config = (await asyncio.to_thread(requests.get, f"{sandbox.url}/api/v4/config", timeout=5,
                                      headers={"Authorization": f"Bearer {sandbox.admin_token}"})).json()
    assert config["RateLimitSettings"]["Enable"] is True
    assert (config["RateLimitSettings"]["PerSec"], config["RateLimitSettings"]["MaxBurst"]) == (50, 200)


async def test_fail_next_matches_prefix_and_counts_down(sandbox, world):
    sandbox.fail_next(2, status=503, path_prefix="/api/v4/users")
    assert (await asyncio.to_thread(requests.get, f"{sandbox.url}/api/v4/system/ping")).status_code == 200
    failed = await asyncio.to_thread(get_me, sandbox)
    assert failed.status_code == 503
    body = failed.json()
    assert body["status_code"] == 503 and body["request_id"] == failed.headers["X-Request-Id"]
    assert (await asyncio.to_thread(get_me, sandbox)).status_code == 503
    assert (await asyncio.to_thread(get_me, sandbox)).status_code == 200


async def test_latency_delays_rest_responses(sandbox):
    sandbox.latency = 0.3
    started = time.monotonic()
    assert (await asyncio.to_thread(get_me, sandbox)).status_code == 200
    assert time.monotonic() - started >= 0.3
    sandbox.latency = 0.0


async def test_request_log_and_common_headers(sandbox):
    response = await asyncio.to_thread(requests.get, f"{sandbox.url}/api/v4/no/such/route")
    assert response.status_code == 404 and response.json()["id"] == "api.context.404.app_error"
    assert response.headers["X-Request-Id"] and response.headers["X-Version-Id"].startswith("11.6.0.")
    bad_id = await asyncio.to_thread(get_me, sandbox, "x" * 26)
    assert bad_id.status_code == 401 and bad_id.json()["id"] == "api.context.session_expired.app_error"
    assert sandbox.request_log[-2:] == [("GET", "/api/v4/no/such/route", 404), ("GET", "/api/v4/users/me", 401)]


async def test_http_controls_need_an_admin(sandbox, world):
    def control(method: str, path: str, token: str, **kw) -> requests.Response:
        return requests.request(method, f"{sandbox.url}/sandbox/v1{path}", timeout=5,
                                headers={"Authorization": f"Bearer {token}"}, **kw)

    denied = await asyncio.to_thread(control, "GET", "/stats", world.bob_token)
    assert denied.status_code == 403
    set_fault = await asyncio.to_thread(control, "POST", "/faults", sandbox.admin_token,
                                        json={"count": 1, "status": 502, "path_prefix": "/api/v4/system"})
    assert set_fault.json()["pending"] == [{"count": 1, "status": 502, "path_prefix": "/api/v4/system"}]
    ping = await asyncio.to_thread(requests.get, f"{sandbox.url}/api/v4/system/ping")
    assert ping.status_code == 502
    limit = await asyncio.to_thread(control, "PUT", "/rate_limit", sandbox.admin_token,
                                    json={"enabled": True, "per_sec": 20, "burst": 40})
    assert limit.json() == {"enabled": True, "per_sec": 20, "burst": 40}
    stats = (await asyncio.to_thread(control, "GET", "/stats", sandbox.admin_token)).json()
    assert stats["rate_limit"]["enabled"] is True and stats["users"] >= 3
    dropped = await asyncio.to_thread(control, "POST", "/websockets/drop", sandbox.admin_token, json={})
    assert dropped.json() == {"dropped": 0}


async def test_fail_next_replaces_and_zero_clears(sandbox):
    sandbox.fail_next(5, status=500)
    sandbox.fail_next(1, status=502)
    assert (await asyncio.to_thread(get_me, sandbox)).status_code == 502
    assert (await asyncio.to_thread(get_me, sandbox)).status_code == 200
    sandbox.fail_next(3)
    sandbox.fail_next(0)
    assert (await asyncio.to_thread(get_me, sandbox)).status_code == 200
