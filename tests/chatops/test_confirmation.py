"""The confirmation step on its own: who may answer, expiry, cancel; against a real SQLite file."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.alerts.buttons import ActionLinks
from bot.chat.context import CommandContext
from bot.chatops.loader import load_commands
from bot.chatops.runner import CommandRunner
from bot.clock import FakeClock
from bot.store import command_runs as runs
from bot.store.db import Database
from bot.users import UserDirectory
from bot.workflow.context import Integrations

ROOT = Path(__file__).resolve().parents[2]
USERS = {"u-alice": {"username": "alice", "roles": "system_user"}, "u-bob": {"username": "bob", "roles": "system_user"},
         "u-root": {"username": "root", "roles": "system_user system_admin"}}


@pytest.fixture
async def runner(tmp_path):
    db = await Database.open(tmp_path / "bot.sqlite")
    commands, _ = load_commands(ROOT / "playbooks" / "commands")

    async def get_user(user_id):
        return USERS.get(user_id)

    runner = CommandRunner(db, chat=None, clock=FakeClock(), users=UserDirectory(get_user), commands=commands,
                           integrations=Integrations(), variables={"deploys": "http://127.0.0.1:9"}, bot_user_id="bot")
    runner.links = ActionLinks("http://bot.example", "secret")
    yield runner
    await db.close()


async def ask(runner: CommandRunner, text: str = "checkout v1") -> dict:
    """Ask for a rollback outside an incident (the runner does not check `incident_only`; the router does)."""
    ctx = CommandContext(actor_id="u-alice", actor_username="alice", channel_id="c1", post_id="", thread_id="",
                         is_direct=False, incident=None, now=runner.clock.now_ms())
    (reply,) = await runner.run(runner.commands["rollback"], ctx, text)
    buttons = reply.props["attachments"][0]["actions"]
    assert [b["name"] for b in buttons] == ["Confirm", "Cancel"]
    assert all(runner.links.verify(b["integration"]["context"]) for b in buttons)
    return {b["id"]: b["integration"]["context"] for b in buttons}


async def test_only_the_asker_or_an_admin_answers_and_a_cancel_runs_nothing(runner):
    buttons = await ask(runner)
    refused = await runner.confirm_click(buttons["run"], "u-bob", "bob")
    assert refused.update is None and "Only @alice" in refused.ephemeral
    cancelled = await runner.confirm_click(buttons["cancel"], "u-root", "root")
    assert cancelled.update.endswith("cancelled by @root.") and cancelled.update.startswith("~~:warning: Roll")
    (run,) = await runs.recent(runner.db)
    assert (run.status, run.summary) == ("cancelled", "cancelled by @root")
    late = await runner.confirm_click(buttons["run"], "u-alice", "alice")
    assert late.ephemeral == "`rollback` is already cancelled." and late.update is None


async def test_a_confirmation_expires_after_ten_minutes(runner):
    buttons = await ask(runner)
    runner.clock.advance(10 * 60 + 1)
    expired = await runner.confirm_click(buttons["run"], "u-alice", "alice")
    assert expired.ephemeral == "Expired: run the command again."
    (run,) = await runs.recent(runner.db)
    assert run.status == "expired"
