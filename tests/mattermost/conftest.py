"""Fixtures for the Mattermost adapter tests: a sandbox server on port 0 with a bot, a user and a channel."""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

from bot.mattermost import Event, MattermostRest, WebsocketListener
from bot.sandbox import Sandbox

FAST_RETRIES = {"timeout": 2.0, "backoff_initial": 0.01, "backoff_max": 0.05}


@dataclass
class AdapterWorld:
    """A running sandbox and the people and places the tests use."""

    sandbox: Sandbox
    url: str
    team: dict[str, Any]
    channel: dict[str, Any]
    bot: dict[str, Any]
    bot_token: str
    alice: dict[str, Any]
    alice_token: str


@pytest.fixture
async def world() -> AsyncIterator[AdapterWorld]:
    sandbox = Sandbox(rate_limit=False)
    url = await sandbox.start(port=0)
    try:
        bot, bot_token = sandbox.create_bot("incident-bot", display_name="Incident Bot")
        alice = sandbox.create_user("alice")
        alice_token = sandbox.create_token(alice["id"])
        team = sandbox.create_team("ops", "Ops")
        channel = sandbox.create_channel(team["id"], "alerts", "Alerts")
        for user in (bot, alice):
            sandbox.add_team_member(team["id"], user["id"])
            sandbox.add_channel_member(channel["id"], user["id"])
        yield AdapterWorld(sandbox, url, team, channel, bot, bot_token, alice, alice_token)
    finally:
        await sandbox.stop()


@pytest.fixture
async def rest(world: AdapterWorld) -> AsyncIterator[MattermostRest]:
    async with MattermostRest(world.url, world.bot_token, **FAST_RETRIES) as client:
        yield client


@dataclass
class Running:
    """A listener running in a task, with helpers to read what it queued."""

    listener: WebsocketListener
    task: asyncio.Task[None]

    async def next(self, accept: Callable[[Event], bool] = lambda e: True, timeout: float = 3.0) -> Event:
        """Return the next queued event that `accept` likes, dropping the others."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.listener.events.get()
                if accept(event):
                    return event

    def drain(self) -> list[Event]:
        """Take every event queued so far."""
        events = []
        while not self.listener.events.empty():
            events.append(self.listener.events.get_nowait())
        return events

    async def stop(self) -> None:
        """Cancel the listener and wait for it to finish."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def start_listener(world: AdapterWorld) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    """Start bot listeners with test-sized backoff; they are cancelled at the end of the test."""
    started: list[Running] = []

    async def start(**overrides: Any) -> Running:
        options: dict[str, Any] = {"backoff_initial": 0.05, "backoff_max": 0.2, "resume_grace": 0.3}
        options.update(overrides)
        listener = WebsocketListener(world.url, world.bot_token, **options)
        running = Running(listener, asyncio.create_task(listener.run()))
        started.append(running)
        return running

    yield start
    for running in started:
        await running.stop()
