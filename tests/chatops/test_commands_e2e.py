"""Custom commands end to end: the bot against the sandbox and a CI/CD API on real HTTP."""
from __future__ import annotations

import asyncio
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web

from bot.chat.commands import BUILTIN_WORDS
from bot.config import ChatopsConfig, HttpConfig
from bot.incidents.service import channel_name
from bot.store import command_runs
from bot.store.db import Database
from bot.store import timeline
from tests.conftest import ROOT, World, eventually, eventually_async
from tests.e2e.test_postmortem import draft_of
from tests.mosquitto import free_port

EXTRA_COMMANDS = """
commands:
  - name: broken
    description: Calls an endpoint that fails.
    http: {url: "{{ vars.deploys }}/api/broken"}
  - name: slow
    description: Calls an endpoint that never answers in time.
    http: {url: "{{ vars.deploys }}/api/slow", timeout: 1s}
  - name: whoami
    description: Says who ran it, only to them.
    answer: ephemeral
    http: {url: "{{ vars.deploys }}/api/deploys?service=x"}
    reply: "You are @{{ user.username }}."
  - name: lock
    description: Take a deploy lock until the incident resolves.
    args: [{name: service}]
    incident_only: true
    http: {method: POST, url: "{{ vars.deploys }}/api/locks", json: {service: "{{ args.service }}"}}
    reply: "Locked {{ args.service }} ({{ response.json.id }})."
    on_resolve:
      http: {method: DELETE, url: "{{ vars.deploys }}/api/locks/{{ result.json.id }}"}
  - name: slowly
    description: Answers privately after 3 seconds.
    answer: ephemeral
    http: {url: "{{ vars.deploys }}/api/wait", timeout: 10s}
    reply: "Waited for @{{ user.username }}."
  - name: page-sre
    description: Only carol may run this.
    allowed: ["@carol"]
    http: {url: "{{ vars.deploys }}/api/deploys?service=x"}
"""


class FakeDeploys:
    """A CI/CD API: recent deploys, rollbacks (recorded), a 500 and a hang."""

    def __init__(self):
        self.rollbacks: list[dict] = []
        self.locks: dict[str, str] = {}      # id -> state
        self.auth: list[str] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/deploys", self.deploys)
        app.router.add_post("/api/rollbacks", self.rollback)
        app.router.add_get("/api/broken", self.broken)
        app.router.add_get("/api/slow", self.slow)
        app.router.add_get("/api/wait", self.wait)
        app.router.add_post("/api/locks", self.lock)
        app.router.add_delete("/api/locks/{id}", self.unlock)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def deploys(self, request: web.Request) -> web.Response:
        self.auth.append(request.headers.get("Authorization", ""))
        service = request.query["service"]
        limit = int(request.query.get("limit", 5))
        deploys = [{"version": f"v1.2.{n}", "finished_at": f"2026-11-2{n}T10:00:00Z", "author": "dana",
                    "status": "succeeded"} for n in range(3, 0, -1)] if service == "checkout" else []
        return web.json_response({"deploys": deploys[:limit]})

    async def rollback(self, request: web.Request) -> web.Response:
        self.rollbacks.append({**await request.json(), "key": request.headers.get("Idempotency-Key")})
        return web.json_response({"id": f"rb-{len(self.rollbacks)}"}, status=201)

    async def lock(self, request: web.Request) -> web.Response:
        lock_id = f"lock-{len(self.locks) + 1}"
        self.locks[lock_id] = "held"
        return web.json_response({"id": lock_id})

    async def unlock(self, request: web.Request) -> web.Response:
        self.locks[request.match_info["id"]] = "released"
        return web.json_response({})

    async def broken(self, request: web.Request) -> web.Response:
        return web.json_response({"error": "database is locked"}, status=500)

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    async def wait(self, request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.json_response({})

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def deploys_api():
    api = FakeDeploys()
    await api.start()
    yield api
    await api.stop()


def chatops_config(world: World, tmp_path: Path, api: FakeDeploys, *, slash_token: str = ""):
    folder = tmp_path / "commands"
    shutil.copytree(ROOT / "playbooks" / "commands", folder)
    (folder / "extra.yaml").write_text(EXTRA_COMMANDS)
    port = free_port()
    return replace(world.config(tmp_path, http=HttpConfig(port=port, slash_token=slash_token)),
                   chatops=ChatopsConfig(dir=folder, variables={"deploys": api.url, "deploys_token": "s3cret"}))


async def start_incident(world: World, title: str = "Checkout down") -> dict:
    world.say(world.alice, world.town, f"@incident-bot start {title} sev2")
    return await eventually(lambda: world.sandbox.channel_by_name(world.team["id"], channel_name("inc", 1, title)))


def reply_containing(world: World, post: dict, text: str):
    return lambda: next((p for p in world.replies_to(post) if text in p["message"]), None)


async def runs_of(tmp_path: Path) -> list:
    db = await Database.open(tmp_path / "state" / "bot.sqlite")
    try:
        return await command_runs.recent(db, limit=50)
    finally:
        await db.close()


async def timeline_of(tmp_path: Path, incident_id: int = 1) -> list:
    db = await Database.open(tmp_path / "state" / "bot.sqlite")
    try:
        return await timeline.entries(db, incident_id)
    finally:
        await db.close()


async def test_a_query_command_answers_with_a_table_and_is_audited(world, run_bot, tmp_path, deploys_api):
    await run_bot(chatops_config(world, tmp_path, deploys_api))
    ask = world.say(world.alice, world.town, "@incident-bot deploys checkout 2")
    answer = await eventually(reply_containing(world, ask, "Recent deploys of **checkout**"))
    assert "| v1.2.3 |" in answer["message"] and "| v1.2.2 |" in answer["message"]
    assert "v1.2.1" not in answer["message"]
    assert deploys_api.auth == ["Bearer s3cret"]
    (run,) = await runs_of(tmp_path)
    assert (run.command, run.args_text, run.actor_id, run.status, run.incident_id) == \
        ("deploys", "checkout 2", world.alice["id"], "ok", None)

    help_post = world.say(world.alice, world.town, "@incident-bot help")
    listed = (await eventually(reply_containing(world, help_post, "deploys <service> [count]")))["message"]
    assert "Roll a service back" in listed and "prom <query>" in listed
    assert listed.index("#### Your team's commands") < listed.index("deploys <service>")
    assert listed.index("`resolve <text>`") < listed.index("#### Your team's commands")

    help_post = world.say(world.alice, world.town, "@incident-bot help silence")
    detail = (await eventually(reply_containing(world, help_post, "silence [duration] <matchers>")))["message"]
    assert "- `duration` (duration, default 4h): the longest the silence lasts" in detail
    assert "- `matchers` (matchers): label matchers, like alertname=HighErrorRate" in detail
    assert "It is undone when the incident resolves." in detail and "Who may run it: team." in detail
    help_post = world.say(world.alice, world.town, "@incident-bot help rollbak")
    assert await eventually(reply_containing(world, help_post, "Did you mean `rollback`?"))


async def test_bad_arguments_failures_and_timeouts_get_clear_answers(world, run_bot, tmp_path, deploys_api):
    await run_bot(chatops_config(world, tmp_path, deploys_api))
    cases = {
        "@incident-bot deploys": "`service` is missing: the service, like checkout",
        "@incident-bot deploys checkout many": "`count` must be a whole number, not `many`",
        "@incident-bot broken": "`broken` failed: GET http://127.0.0.1",
        "@incident-bot slow": "`slow` failed: GET",
        "@incident-bot deploy checkout": "deploys",      # did you mean
        "@incident-bot page-sre": "Only @carol may run this command",
    }
    asks = {text: world.say(world.alice, world.town, text) for text in cases}
    for text, expected in cases.items():
        answer = await eventually(reply_containing(world, asks[text], expected))
        assert answer is not None
    broken = next(p for p in world.replies_to(asks["@incident-bot broken"]))
    assert "HTTP 500" in broken["message"] and "database is locked" in broken["message"]
    slow = next(p for p in world.replies_to(asks["@incident-bot slow"]))
    assert "timeout after 1s" in slow["message"]
    statuses = sorted(run.status for run in await runs_of(tmp_path))
    assert statuses == ["failed", "failed"]   # bad arguments and refusals run nothing
    again = world.say(world.alice, world.town, "@incident-bot deploys checkout")
    assert await eventually(reply_containing(world, again, "Recent deploys"))   # the bot is unharmed


async def test_ephemeral_answers_reach_only_the_asker(world, run_bot, tmp_path, deploys_api):
    await run_bot(chatops_config(world, tmp_path, deploys_api))
    world.sandbox.core.state.users[world.bot["id"]]["roles"] += " system_admin"   # may post ephemeral messages
    ask = world.say(world.bob, world.town, "@incident-bot whoami")
    shown = await eventually(lambda: [e for e in world.sandbox.core.posting.ephemerals
                                      if e["message"] == "You are @bob."])
    assert shown[0]["to_user_id"] == world.bob["id"] and shown[0]["channel_id"] == world.town["id"]
    await asyncio.sleep(0.2)
    assert world.replies_to(ask) == []


async def test_without_ephemeral_posts_a_private_answer_comes_by_direct_message(world, run_bot, tmp_path, deploys_api):
    await run_bot(chatops_config(world, tmp_path, deploys_api))   # the bot is no system admin: no ephemeral posts
    ask = world.say(world.bob, world.town, "@incident-bot whoami")
    dm = await eventually(lambda: world.sandbox.core.state.channel_by_name(
        "", "__".join(sorted((world.bob["id"], world.bot["id"])))))
    assert await eventually(lambda: [p for p in world.bot_posts(dm["id"]) if p["message"] == "You are @bob."])
    assert world.replies_to(ask) == []


async def test_a_dangerous_command_runs_only_after_its_asker_confirms(world, run_bot, tmp_path, deploys_api):
    await run_bot(chatops_config(world, tmp_path, deploys_api))
    channel = await start_incident(world)
    outside = world.say(world.alice, world.town, "@incident-bot rollback checkout v1.2.2")
    assert await eventually(reply_containing(world, outside, "works in an incident's channel"))

    ask = world.say(world.alice, channel, "@incident-bot rollback checkout v1.2.2")
    question = await eventually(reply_containing(world, ask, "Roll **checkout** back to **v1.2.2**?"))
    buttons = {a["name"]: a["id"] for a in question["props"]["attachments"][0]["actions"]}
    assert set(buttons) == {"Confirm", "Cancel"}
    await asyncio.sleep(0.3)
    assert deploys_api.rollbacks == []

    await world.sandbox.click(world.bob["id"], question["id"], buttons["Confirm"])
    told = await eventually(lambda: [e for e in world.sandbox.core.posting.ephemerals if "Only @alice" in e["message"]])
    assert told[0]["to_user_id"] == world.bob["id"]
    assert deploys_api.rollbacks == []

    clicks = [world.sandbox.click(world.alice["id"], question["id"], buttons["Confirm"]) for _ in range(2)]
    await asyncio.gather(*clicks, return_exceptions=True)   # a double click: it runs once
    done = await eventually(reply_containing(world, ask, "Rollback of **checkout** to **v1.2.2** started (deploy rb-1)"))
    assert done is not None
    assert [(r["service"], r["version"], r["requested_by"]) for r in deploys_api.rollbacks] == \
        [("checkout", "v1.2.2", "alice")]
    assert deploys_api.rollbacks[0]["reason"] == "INC-1: Checkout down"
    edited = next(p for p in world.sandbox.posts(channel["id"]) if p["id"] == question["id"])
    assert "Confirmed by @alice" in edited["message"] and not edited["props"].get("attachments")
    await asyncio.sleep(0.3)
    assert len(deploys_api.rollbacks) == 1

    entries = [e for e in await timeline_of(tmp_path) if e.kind == "command"]
    assert len(entries) == 1 and entries[0].actor_id == world.alice["id"]
    assert entries[0].text.startswith("`rollback checkout v1.2.2` (confirmed by @alice): POST http://127.0.0.1")
    assert entries[0].data["confirmed_by"] == world.alice["id"] and entries[0].data["status"] == "ok"

    second = world.say(world.alice, channel, "@incident-bot rollback checkout v1.2.1")
    question = await eventually(reply_containing(world, second, "back to **v1.2.1**?"))
    cancel = next(a["id"] for a in question["props"]["attachments"][0]["actions"] if a["name"] == "Cancel")
    await world.sandbox.click(world.alice["id"], question["id"], cancel)
    await eventually(lambda: "cancelled by @alice" in next(
        p for p in world.sandbox.posts(channel["id"]) if p["id"] == question["id"])["message"])
    assert len(deploys_api.rollbacks) == 1
    statuses = sorted(run.status for run in await runs_of(tmp_path))
    assert statuses == ["cancelled", "ok"]

    world.say(world.alice, channel, "@incident-bot resolve Rolled back")   # the post-mortem draft lists the run
    draft = await eventually(lambda: draft_of(world, channel["id"]))
    assert "command (@alice): `rollback checkout v1.2.2` (confirmed by @alice): POST" in draft


async def test_custom_commands_over_the_slash_command(world, run_bot, tmp_path, deploys_api):
    port_config = chatops_config(world, tmp_path, deploys_api)
    command = world.sandbox.create_command(world.team["id"], "incident",
                                           f"http://127.0.0.1:{port_config.http.port}/mattermost/command",
                                           world.sandbox.admin["id"])
    await run_bot(replace(port_config, http=replace(port_config.http, slash_token=command["token"])))
    await world.sandbox.slash(world.alice["id"], world.town["id"], "/incident deploys checkout 1")
    posted = await eventually(lambda: [p for p in world.bot_posts(world.town["id"])
                                       if "Recent deploys of **checkout**" in p["message"]])
    assert "| v1.2.3 |" in posted[0]["message"]
    await world.sandbox.slash(world.alice["id"], world.town["id"], "/incident deploys")
    assert await eventually(lambda: [p for p in world.bot_posts(world.town["id"]) if "`service` is missing" in p["message"]])

    answer = await world.sandbox.slash(world.bob["id"], world.town["id"], "/incident whoami")
    assert answer["text"] == "You are @bob." and answer.get("response_type", "ephemeral") == "ephemeral"
    answer = await world.sandbox.slash(world.bob["id"], world.town["id"], "/incident slowly")
    assert "Working on `/incident slowly`" in answer["text"]
    later = await eventually(lambda: [e for e in world.sandbox.core.posting.ephemerals
                                      if e["message"] == "Waited for @bob."])
    assert later[0]["to_user_id"] == world.bob["id"]
    assert not [p for p in world.sandbox.posts(world.town["id"]) if "Waited for" in p["message"]]


async def test_the_builtin_words_known_to_check_match_the_running_bot(world, run_bot, tmp_path, deploys_api):
    runner = await run_bot(chatops_config(world, tmp_path, deploys_api))
    custom = {"prom", "deploys", "rollback", "silence", "broken", "slow", "whoami", "page-sre", "lock", "slowly"}
    words = {w for spec in runner.bot.router.registry.specs for w in (spec.name, *spec.aliases)}
    assert custom <= words
    assert words - custom == set(BUILTIN_WORDS)


async def test_a_restart_reports_a_run_it_cut_off_and_never_repeats_it(world, run_bot, tmp_path, deploys_api):
    config = chatops_config(world, tmp_path, deploys_api)
    first = await run_bot(config)
    ask = world.say(world.alice, world.town, "@incident-bot slow")
    await eventually_async(lambda: _statuses(tmp_path, "running"))
    await first.stop()                      # the bot dies while `slow` waits for its answer
    await run_bot(config)
    told = await eventually(reply_containing(world, ask, "I was restarted while running `slow`"))
    assert "check whether it took effect" in told["message"]
    await asyncio.sleep(0.5)
    assert [r.status for r in await runs_of(tmp_path)] == ["interrupted"]
    assert len([p for p in world.replies_to(ask)]) == 1


async def test_undo_on_resolve_also_after_a_restart(world, run_bot, tmp_path, deploys_api):
    config = chatops_config(world, tmp_path, deploys_api)
    first = await run_bot(config)
    channel = await start_incident(world)
    ask = world.say(world.alice, channel, "@incident-bot lock checkout")
    assert await eventually(reply_containing(world, ask, "Locked checkout (lock-1)."))
    await first.stop()
    db = await Database.open(tmp_path / "state" / "bot.sqlite")     # resolved, and the bot died before undoing
    async with db.transaction() as conn:
        await conn.execute("UPDATE incidents SET status = 'resolved', resolved_at = updated_at WHERE id = 1")
    await db.close()
    await run_bot(config)
    await eventually(lambda: deploys_api.locks == {"lock-1": "released"})
    entries = await eventually_async(lambda: _undo_entries(tmp_path))
    assert entries[0].text.startswith("undid `lock` on resolve: DELETE http://127.0.0.1")

    ask = world.say(world.alice, channel, "@incident-bot runs")
    listed = await eventually(reply_containing(world, ask, "| # | when (UTC) | who | command | outcome |"))
    assert "| @alice | `lock checkout` | ok: POST http://127.0.0.1" in listed["message"]


async def _statuses(tmp_path: Path, status: str) -> bool:
    return any(run.status == status for run in await runs_of(tmp_path))


async def _undo_entries(tmp_path: Path) -> list:
    return [e for e in await timeline_of(tmp_path) if e.text.startswith("undid")]


async def test_edited_command_files_are_picked_up_and_a_broken_edit_keeps_the_last_good_one(world, run_bot, tmp_path,
                                                                                              deploys_api):
    config = chatops_config(world, tmp_path, deploys_api)
    admin = world.sandbox.create_channel(world.team["id"], "bot-admin", "Bot admin")
    runner = await run_bot(replace(config, playbooks=replace(config.playbooks, admin_channel="bot-admin")))
    files = runner.bot.services["command-files"].__self__
    extra = config.chatops.dir / "extra.yaml"
    extra.write_text(EXTRA_COMMANDS.replace("Says who ran it, only to them.", "Says who you are.")
                     + "  - name: ping\n    description: Pong.\n    http: {url: \"{{ vars.deploys }}/api/deploys?service=x\"}\n"
                       "    reply: pong\n")
    assert await files.reload_if_changed()
    ask = world.say(world.alice, world.town, "@incident-bot ping")
    assert await eventually(reply_containing(world, ask, "pong"))

    extra.write_text(extra.read_text() + "  - name: broken-edit\n    descripton: typo\n")
    assert not await files.reload_if_changed()          # the file's last good commands stay
    told = await eventually(lambda: [p for p in world.bot_posts(admin["id"]) if "descripton" in p["message"]])
    assert "extra.yaml" in told[0]["message"] and "did you mean 'description'?" in told[0]["message"]
    ask = world.say(world.alice, world.town, "@incident-bot ping")
    assert await eventually(reply_containing(world, ask, "pong"))

    extra.unlink()
    assert await files.reload_if_changed()
    ask = world.say(world.alice, world.town, "@incident-bot ping")
    assert await eventually(reply_containing(world, ask, "I don't know the command `ping`"))
