"""The bot's own HTTP server: alert webhooks (Alertmanager, generic JSON) and Mattermost button clicks."""
from __future__ import annotations

import asyncio
import logging

from aiohttp import web

log = logging.getLogger(__name__)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def serve_http(routes: list[web.RouteDef], host: str, port: int, on_bound=None) -> None:
    """Serve the routes until cancelled; `on_bound(url)` is called once the socket listens."""
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app.add_routes([web.get("/healthz", health), *routes])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0]
        url = f"http://{bound[0]}:{bound[1]}"
        log.info("HTTP server listening on %s", url)
        if on_bound is not None:
            on_bound(url)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
