"""`incident-bot demo`: a short incident, played against the built-in Mattermost sandbox."""
from __future__ import annotations

import asyncio
import json
import tempfile
import textwrap
from pathlib import Path

import websockets
from aiohttp import web

from bot.app import build_and_run
from bot.runtime import Bot
from bot.config import (AlertsConfig, ChatopsConfig, Config, HttpConfig, MattermostConfig, PlaybooksConfig,
                        StorageConfig)
from bot.incidents.service import channel_name
from bot.sandbox import Sandbox

TITLE = "Checkout API returns 500s"


class Conversation:
    """Prints every post that a user can see, as it arrives over that user's websocket."""

    def __init__(self, url: str, token: str):
        self.url = url.replace("http://", "ws://", 1) + "/api/v4/websocket"
        self.token = token
        self.seen = 0

    async def run(self) -> None:
        async with websockets.connect(self.url, additional_headers={"Authorization": f"Bearer {self.token}"}) as ws:
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("event") != "posted":
                    continue
                data = frame["data"]
                post = json.loads(data["post"])
                if post.get("type", "").startswith("system_"):
                    continue
                self.seen += 1
                where = "~" + data.get("channel_name", "?")
                thread = " (in thread)" if post.get("root_id") else ""
                print(f"\n[{where}]{thread} {data.get('sender_name', '?')}:")
                print(textwrap.indent(post.get("message", ""), "    "), flush=True)


async def _wait_for_bot_reply(sandbox: Sandbox, channel_id: str, bot_id: str, before: int, timeout: float = 15.0):
    """Wait until the bot has posted something new in a channel."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if sum(1 for p in sandbox.posts(channel_id) if p["user_id"] == bot_id) > before:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the bot did not answer in time")


def _bot_posts(sandbox: Sandbox, channel_id: str, bot_id: str) -> int:
    return sum(1 for p in sandbox.posts(channel_id) if p["user_id"] == bot_id)


class DemoDeploys:
    """A stand-in for a CI/CD system's HTTP API, so the demo can show the team's own commands at work."""

    def __init__(self):
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/api/deploys", self.deploys)
        app.router.add_post("/api/rollbacks", self.rollback)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self.url

    async def deploys(self, request: web.Request) -> web.Response:
        return web.json_response({"deploys": [
            {"version": "2026.11.3", "finished_at": "today 09:12", "author": "dana", "status": "succeeded"},
            {"version": "2026.11.2", "finished_at": "yesterday 16:40", "author": "erik", "status": "succeeded"}]})

    async def rollback(self, request: web.Request) -> web.Response:
        return web.json_response({"id": "rb-1"}, status=201)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def run_demo(keep_running: bool = True, port: int = 0) -> None:
    sandbox = Sandbox()
    url = await sandbox.start(port=port)
    state = tempfile.TemporaryDirectory(prefix="incident-bot-demo-")
    deploys = DemoDeploys()
    bot_task: asyncio.Task | None = None
    printer: asyncio.Task | None = None
    try:
        team = sandbox.create_team("demo", "Demo")
        alice = sandbox.create_user("alice", first_name="Alice", last_name="Ops")
        bob = sandbox.create_user("bob", first_name="Bob", last_name="Oncall")
        bot_user, bot_token = sandbox.create_bot("incident-bot", "Incident Bot")
        for user in (sandbox.admin, alice, bob, bot_user):
            sandbox.add_team_member(team["id"], user["id"])
        town = sandbox.channel_by_name(team["id"], "town-square")
        alerts = sandbox.create_channel(team["id"], "alerts", "Alerts")
        for user in (alice, bob):
            sandbox.add_channel_member(town["id"], user["id"])
            sandbox.add_channel_member(alerts["id"], user["id"])
        sandbox.add_channel_member(town["id"], bot_user["id"])

        config = Config(
            mattermost=MattermostConfig(url=url, token=bot_token, team="demo"),
            storage=StorageConfig(path=Path(state.name) / "incident-bot.sqlite"),
            playbooks=PlaybooksConfig(dir=Path("playbooks")),
            alerts=AlertsConfig(channels=("alerts",)),
            http=HttpConfig(port=0),
            chatops=ChatopsConfig(variables={"deploys": await deploys.start(), "deploys_token": "demo"}),
            source="<demo>",
        )
        ready: asyncio.Future[Bot] = asyncio.get_running_loop().create_future()
        bot_task = asyncio.create_task(build_and_run(config, on_ready=ready.set_result))
        bot = await asyncio.wait_for(ready, 15)
        await asyncio.wait_for(bot.synced.wait(), 15)

        print(f"Mattermost sandbox: {url}   (team 'demo', users alice, bob, bot @incident-bot)")
        print("Watching the conversation as @alice sees it:")
        printer = asyncio.create_task(Conversation(url, sandbox.create_token(alice["id"])).run())
        await asyncio.sleep(0.3)

        async def say(user: dict, channel: dict, text: str) -> None:
            before = _bot_posts(sandbox, channel["id"], bot_user["id"])
            sandbox.post(user["id"], channel["id"], text)
            await _wait_for_bot_reply(sandbox, channel["id"], bot_user["id"], before)
            await asyncio.sleep(0.3)

        await say(alice, town, f"@incident-bot start {TITLE} sev2")
        incident_channel = sandbox.channel_by_name(team["id"], channel_name("inc", 1, TITLE))
        sandbox.add_channel_member(incident_channel["id"], bob["id"])
        await say(bob, incident_channel, "@incident-bot ack")
        await say(alice, incident_channel, "@incident-bot update Rolled back release 2026.11.3; error rate is falling")
        await say(alice, incident_channel, "@incident-bot deploys checkout")
        await say(alice, incident_channel, "@incident-bot rollback checkout 2026.11.2")
        question = next(p for p in reversed(sandbox.posts(incident_channel["id"])) if p["props"].get("attachments"))
        confirm = next(a for a in question["props"]["attachments"][0]["actions"] if a["name"] == "Confirm")
        print("\n(@alice clicks Confirm)", flush=True)
        before = _bot_posts(sandbox, incident_channel["id"], bot_user["id"])
        await sandbox.click(alice["id"], question["id"], confirm["id"])
        await _wait_for_bot_reply(sandbox, incident_channel["id"], bot_user["id"], before)
        await asyncio.sleep(0.3)
        await say(bob, incident_channel, "@incident-bot resolve Rollback complete, error rate back to baseline")
        await say(alice, incident_channel, "@incident-bot timeline")
        await say(alice, incident_channel, "@incident-bot dance")

        print("\nThat was the whole incident: every step above is in the bot's SQLite timeline.")
        print(f"\nPoke the sandbox yourself: admin token {sandbox.admin_token}")
        print(f"  curl -s -H 'Authorization: Bearer {sandbox.admin_token}' {url}/api/v4/users/me")
        print(f"  curl -s -H 'Authorization: Bearer {sandbox.admin_token}' "
              f"{url}/api/v4/channels/{incident_channel['id']}/posts")
        if keep_running:
            print("\nThe sandbox and the bot keep running; press Ctrl-C to stop.", flush=True)
            await asyncio.Event().wait()
    finally:
        for task in (printer, bot_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await deploys.stop()
        await sandbox.stop()
        state.cleanup()
