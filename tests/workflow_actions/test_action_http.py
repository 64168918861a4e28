"""The http action against a local aiohttp server: body, Idempotency-Key, status handling, failures."""
from __future__ import annotations

import pytest
from aiohttp import web

from bot.workflow.actions import actions
from tests.mosquitto import free_port
from tests.workflow_actions.conftest import step_args
from tests.workflow_integrations.local_server import serve_tcp

http = actions()["http"]


class Tickets:
    """A ticketing endpoint that records what it was sent."""

    def __init__(self) -> None:
        self.requests: list[tuple] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/tickets", self.handle)
        self.app.router.add_get("/broken", self.broken)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, request.path_qs, request.headers.copy(), body))
        return web.json_response({"id": "T-1", "long": "x" * 5000}, status=201 if request.method == "POST" else 200)

    async def broken(self, request: web.Request) -> web.Response:
        return web.Response(status=503, text="maintenance")


@pytest.fixture
async def tickets():
    server = Tickets()
    async with serve_tcp(server.app) as url:
        yield server, url


async def test_post_sends_the_rendered_json_with_the_step_key_as_idempotency_key(step, tickets):
    server, url = tickets
    args = step_args("http", {"method": "POST", "url": url + "/tickets?token={{ alert.labels.namespace }}",
                              "headers": {"X-Team": "{{ people.commander }}"},
                              "json": {"title": "{{ incident.key }}: {{ incident.title }}", "priority": 2,
                                       "tags": ["{{ alert.labels.namespace }}", True]}})
    ctx = step.ctx()
    result = await http(ctx, args)
    assert result.ok, result
    method, path, headers, body = server.requests[0]
    assert (method, path) == ("POST", "/tickets?token=shop")
    assert headers["Idempotency-Key"] == ctx.key and headers["X-Team"] == "alice"
    assert body == {"title": f"{step.incident.key}: Checkout is down", "priority": 2, "tags": ["shop", True]}
    assert result.summary == f"POST {url}/tickets → 201"  # no query string: tokens travel there
    assert result.detail["status"] == 201 and result.detail["elapsed_ms"] >= 0
    assert result.detail["body_excerpt"].startswith('{"id": "T-1"') and len(result.detail["body_excerpt"]) == 1000


async def test_a_step_may_set_its_own_idempotency_key(step, tickets):
    server, url = tickets
    args = step_args("http", {"url": url + "/tickets", "headers": {"idempotency-key": "mine-{{ incident.id }}"}})
    assert (await http(step.ctx(), args)).ok
    headers = server.requests[0][2]
    assert headers["Idempotency-Key"] == f"mine-{step.incident.id}"
    assert sum(1 for name in headers if name.lower() == "idempotency-key") == 1


async def test_an_error_status_fails_the_step_unless_expected(step, tickets):
    _, url = tickets
    failed = await http(step.ctx(), step_args("http", {"url": url + "/broken"}))
    assert not failed.ok and failed.summary == f"GET {url}/broken → 503 failed: HTTP 503"
    assert failed.detail["status"] == 503 and failed.detail["body_excerpt"] == "maintenance"
    expected = await http(step.ctx(), step_args("http", {"url": url + "/broken", "expect": [503]}))
    assert expected.ok and expected.summary == f"GET {url}/broken → 503"


async def test_an_unreachable_endpoint_fails_with_the_reason(step):
    url = f"http://127.0.0.1:{free_port()}/tickets"
    result = await http(step.ctx(), step_args("http", {"method": "POST", "url": url, "json": {"a": 1}}))
    assert not result.ok and result.summary == f"POST {url} failed: connection refused"
    assert result.detail["status"] is None and result.detail["error"] == "connection refused"
