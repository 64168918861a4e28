"""Helpers for the sandbox tests: URLs and a small websocket client toolkit."""
from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import websockets

from bot.sandbox import Sandbox


def port_of(sandbox: Sandbox) -> int:
    """Return the port the sandbox listens on."""
    return urlsplit(sandbox.url).port


def ws_url(sandbox: Sandbox, query: str = "") -> str:
    """Return the websocket URL of the sandbox, with an optional query string."""
    return sandbox.url.replace("http://", "ws://") + "/api/v4/websocket" + (f"?{query}" if query else "")


async def connect_ws(sandbox: Sandbox, token: str, query: str = ""):
    """Open a Bearer-authenticated websocket."""
    return await websockets.connect(ws_url(sandbox, query), additional_headers={"Authorization": f"Bearer {token}"},
                                    open_timeout=5, close_timeout=1)


async def next_frame(ws, timeout: float = 3.0) -> dict:
    """Return the next frame, decoded."""
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def wait_event(ws, name: str, post_id: str | None = None, timeout: float = 3.0) -> dict:
    """Return the first event with that name (and post id, for post events), skipping others."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await next_frame(ws, max(deadline - loop.time(), 0.01))
        if frame.get("event") != name:
            continue
        if post_id is None or json.loads(frame["data"].get("post", "{}")).get("id") == post_id:
            return frame
