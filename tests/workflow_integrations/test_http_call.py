"""http_request against a local aiohttp server: success, HTTP errors, timeouts, refusals, redirects, big bodies."""
from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from bot.workflow.integrations.http_call import HttpOutcome, http_request
from tests.mosquitto import free_port
from tests.workflow_integrations.local_server import serve_tcp


async def echo(request: web.Request) -> web.Response:
    body = await request.json() if request.can_read_body else None
    return web.json_response({"method": request.method, "token": request.headers.get("X-Token"), "body": body})


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="late")


async def endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    while True:  # never ends: the client must stop reading on its own
        await response.write(b"x" * 8192)
        await asyncio.sleep(0)


def reply(**kwargs):
    """A handler that always answers with `web.Response(**kwargs)`."""
    async def handler(request: web.Request) -> web.Response:
        return web.Response(**kwargs)
    return handler


def app() -> web.Application:
    application = web.Application()

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def to_ftp(request: web.Request) -> web.Response:
        raise web.HTTPFound("ftp://127.0.0.1/secret")

    async def to_ok(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    application.router.add_get("/ok", reply(text="hello"))
    application.router.add_get("/fail", reply(status=500, text="boom"))
    application.router.add_get("/missing", reply(status=404, text="nope"))
    application.router.add_route("*", "/echo", echo)
    application.router.add_get("/slow", slow)
    application.router.add_get("/endless", endless)
    application.router.add_get("/loop", loop)
    application.router.add_get("/to-ftp", to_ftp)
    application.router.add_get("/to-ok", to_ok)
    application.router.add_get("/latin1", reply(body="café".encode("latin-1"),
                                                                 content_type="text/plain", charset="latin-1"))
    application.router.add_get("/garbage", reply(body=b"ok \xff\xfe done", content_type="text/plain"))
    return application


@pytest.fixture
async def base():
    async with serve_tcp(app()) as url:
        yield url


async def test_success_returns_status_and_body(base):
    outcome = await http_request("GET", f"{base}/ok")
    assert isinstance(outcome, HttpOutcome)
    assert (outcome.ok, outcome.status, outcome.body_excerpt, outcome.error) == (True, 200, "hello", "")
    assert outcome.elapsed_ms >= 0


async def test_headers_and_json_body_are_sent(base):
    outcome = await http_request("post", f"{base}/echo", headers={"X-Token": "t0k"}, json_body={"incident": "INC-7"})
    assert outcome.ok
    assert json.loads(outcome.body_excerpt) == {"method": "POST", "token": "t0k", "body": {"incident": "INC-7"}}


async def test_server_error_is_not_ok_and_keeps_the_body(base):
    outcome = await http_request("GET", f"{base}/fail")
    assert (outcome.ok, outcome.status, outcome.error, outcome.body_excerpt) == (False, 500, "HTTP 500", "boom")


async def test_expect_decides_which_statuses_count_as_success(base):
    assert (await http_request("GET", f"{base}/missing", expect={404})).ok
    outcome = await http_request("GET", f"{base}/ok", expect=[201])
    assert (outcome.ok, outcome.error) == (False, "HTTP 200")


async def test_timeout_becomes_an_error_not_an_exception(base):
    outcome = await http_request("GET", f"{base}/slow", timeout=0.2)
    assert (outcome.ok, outcome.status, outcome.error) == (False, None, "timeout after 0.2s")
    assert outcome.elapsed_ms < 2000


async def test_connection_refused():
    outcome = await http_request("GET", f"http://127.0.0.1:{free_port()}/", timeout=2)
    assert (outcome.ok, outcome.status, outcome.error) == (False, None, "connection refused")


async def test_unresolvable_host():
    outcome = await http_request("GET", "http://no-such-host.invalid/", timeout=5)
    assert not outcome.ok
    assert outcome.error in ("cannot resolve host no-such-host.invalid", "timeout after 5s")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://h/", "http:///x", "nonsense"])
async def test_only_http_and_https_urls_are_called(url):
    outcome = await http_request("GET", url)
    assert not outcome.ok and outcome.status is None
    assert "only http and https" in outcome.error or "invalid URL" in outcome.error


async def test_redirects_are_followed_but_limited(base):
    followed = await http_request("GET", f"{base}/to-ok")
    assert (followed.ok, followed.body_excerpt) == (True, "hello")
    looping = await http_request("GET", f"{base}/loop")
    assert not looping.ok and "too many redirects" in looping.error


async def test_redirect_to_another_scheme_is_refused(base):
    outcome = await http_request("GET", f"{base}/to-ftp")
    assert not outcome.ok
    assert "ftp://127.0.0.1/secret" in outcome.error and "only http and https" in outcome.error


async def test_body_is_capped_without_reading_an_endless_stream(base):
    outcome = await http_request("GET", f"{base}/endless", max_body=100, timeout=5)
    assert (outcome.ok, outcome.body_excerpt) == (True, "x" * 100)


async def test_bodies_are_decoded_leniently(base):
    assert (await http_request("GET", f"{base}/latin1")).body_excerpt == "café"
    garbage = await http_request("GET", f"{base}/garbage")
    assert garbage.ok and garbage.body_excerpt.startswith("ok ") and garbage.body_excerpt.endswith(" done")
