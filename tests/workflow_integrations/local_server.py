"""Run an aiohttp application on a real socket (TCP port 0 or a unix socket) for the length of a test."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web


@contextlib.asynccontextmanager
async def serve_tcp(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 with a free port and yield its base URL."""
    # Handlers still sleeping when the test ends are cancelled rather than waited for.
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def serve_unix(app: web.Application, path: Path) -> AsyncIterator[str]:
    """Serve `app` on the unix socket `path` and yield a unix:// URL for it."""
    # Handlers still sleeping when the test ends are cancelled rather than waited for.
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    site = web.UnixSite(runner, str(path))
    await site.start()
    try:
        yield f"unix://{path}"
    finally:
        await runner.cleanup()
