"""Shared fixtures: a Mattermost sandbox over a real socket, a seeded team, and the bot running against it."""
from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from bot.app import build_and_run
from bot.runtime import Bot
from bot.config import AlertsConfig, Config, HttpConfig, MattermostConfig, PlaybooksConfig, StorageConfig
from bot.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]


async def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll until `check()` returns something truthy; fail with the last value after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    value = None
    while asyncio.get_running_loop().time() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")


async def eventually_async(check: Callable[[], Awaitable[Any]], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Like `eventually`, for a check that has to await (a database query, say)."""
    deadline = asyncio.get_running_loop().time() + timeout
    value = None
    while asyncio.get_running_loop().time() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")


@dataclass
class World:
    """A team as a small ops org has it: people, a town square, an alerts channel, the bot account."""

    sandbox: Sandbox
    team: dict
    alice: dict
    bob: dict
    carol: dict
    bot: dict
    bot_token: str
    town: dict
    alerts: dict

    def say(self, user: dict, channel: dict, text: str, root_id: str = "") -> dict:
        return self.sandbox.post(user["id"], channel["id"], text, root_id=root_id)

    def direct_channel(self, user: dict, other: dict) -> dict:
        return self.sandbox.core.channels.direct_channel(user["id"], other["id"], user["id"])

    def bot_is_online(self) -> bool:
        """Whether the bot has a live websocket to the sandbox."""
        return self.bot["id"] in self.sandbox.core.hub.online_user_ids()

    def bot_posts(self, channel_id: str) -> list[dict]:
        """The bot's own messages in a channel (not the system posts about it joining)."""
        return [p for p in self.sandbox.posts(channel_id)
                if p["user_id"] == self.bot["id"] and not p["type"].startswith("system_")]

    def replies_to(self, post: dict) -> list[dict]:
        return [p for p in self.bot_posts(post["channel_id"]) if p["root_id"] == post["id"]]

    def config(self, tmp_path: Path, *, alerts: AlertsConfig | None = None, http: HttpConfig | None = None) -> Config:
        return Config(
            mattermost=MattermostConfig(url=self.sandbox.url, token=self.bot_token, team=self.team["name"]),
            storage=StorageConfig(path=tmp_path / "state" / "bot.sqlite"),
            playbooks=PlaybooksConfig(dir=ROOT / "playbooks"),
            alerts=alerts or AlertsConfig(channels=("alerts",)),
            http=http,
            source=str(tmp_path / "config.yaml"),
        )

    def config_file(self, tmp_path: Path) -> Path:
        path = tmp_path / "config.yaml"
        path.write_text(
            f"mattermost:\n  url: {self.sandbox.url}\n  token: ${{TEST_BOT_TOKEN}}\n  team: {self.team['name']}\n"
            f"storage:\n  path: state/bot.sqlite\nplaybooks:\n  dir: {ROOT / 'playbooks'}\n"
            f"alerts:\n  channels: [alerts]\nlog_level: DEBUG\n")
        return path


@pytest.fixture
async def sandbox():
    server = Sandbox()
    await server.start(port=0)
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def world(sandbox: Sandbox) -> World:
    team = sandbox.create_team("ops", "Ops")
    alice = sandbox.create_user("alice", first_name="Alice")
    bob = sandbox.create_user("bob", first_name="Bob")
    carol = sandbox.create_user("carol", first_name="Carol")
    bot, token = sandbox.create_bot("incident-bot", "Incident Bot")
    for user in (alice, bob, carol, bot):
        sandbox.add_team_member(team["id"], user["id"])
    town = sandbox.channel_by_name(team["id"], "town-square")   # every team has one, as in Mattermost
    alerts = sandbox.create_channel(team["id"], "alerts", "Alerts")
    for user in (alice, bob, carol, bot):
        sandbox.add_channel_member(town["id"], user["id"])
    for user in (alice, bob):
        sandbox.add_channel_member(alerts["id"], user["id"])
    return World(sandbox, team, alice, bob, carol, bot, token, town, alerts)


class BotRunner:
    """Runs the bot in this process's event loop, as `incident-bot run` would."""

    def __init__(self, config: Config, clock=None, **listener_options):
        self.config = config
        self.clock = clock
        self.listener_options = {"backoff_initial": 0.05, "backoff_max": 0.5, **listener_options}
        self.task: asyncio.Task | None = None
        self.bot: Bot | None = None

    async def start(self) -> Bot:
        ready: asyncio.Future[Bot] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(build_and_run(self.config, on_ready=ready.set_result, clock=self.clock,
                                                      listener_options=self.listener_options))
        done, _ = await asyncio.wait({ready, self.task}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            self.task.result()  # raises the startup error
        self.bot = ready.result()
        await asyncio.wait_for(self.bot.synced.wait(), 15)
        return self.bot

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None


@pytest.fixture
async def run_bot(world: World, tmp_path: Path):
    runners: list[BotRunner] = []

    async def start(config: Config | None = None, clock=None, **listener_options) -> BotRunner:
        runner = BotRunner(config or world.config(tmp_path), clock, **listener_options)
        runners.append(runner)
        await runner.start()
        return runner

    yield start
    for runner in runners:
        await runner.stop()


async def start_bot_process(world: World, tmp_path: Path, config: Path | None = None) -> asyncio.subprocess.Process:
    """Start `python -m bot run` as a separate process (so a test can kill -9 it)."""
    env = dict(os.environ, TEST_BOT_TOKEN=world.bot_token, PYTHONPATH=str(ROOT))
    log = open(tmp_path / "bot.log", "ab")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config or world.config_file(tmp_path)),
        cwd=str(tmp_path), env=env, stdout=log, stderr=log)
