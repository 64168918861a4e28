"""Noting related items and posting digests, on a real SQLite file with a fake clock and a fake chat."""
from __future__ import annotations

import json
from dataclasses import replace

from bot.alerts.model import Alert, AlertSource, AlertStatus
from bot.clock import FakeClock
from bot.incidents.funnel_config import FunnelConfig, FunnelRule
from bot.incidents.model import Incident, Severity, Status
from bot.incidents.related import RelatedActivity
from bot.incidents.service import Team
from bot.mattermost.events import Post
from bot.store import incidents as incident_store
from bot.store.db import Database
from bot.store.timeline import entries
from bot.templates import Templates
from bot.users import UserDirectory

BOT = "b" * 26
CONFIG = FunnelConfig(rules=(FunnelRule("deploys", labels=("service",), channels=("deployments",)),
                             FunnelRule("alerts", labels=("service",), alerts=True)), coalesce=30)


class FakeChat:
    def __init__(self):
        self.posts: list[tuple[str, str]] = []

    async def create_post(self, channel_id: str, message: str, **_) -> Post:
        self.posts.append((channel_id, message))
        return Post(id=f"digest{len(self.posts)}", channel_id=channel_id, user_id=BOT, message=message)

    async def get_channel(self, channel_id: str) -> dict:
        return {"id": channel_id, "name": "alerts"}


async def setup(tmp_path, clock: FakeClock) -> tuple[Database, FakeChat, RelatedActivity, Incident]:
    db = await Database.open(tmp_path / "bot.sqlite")
    incident = Incident(id=0, title="Checkout down", severity=Severity.SEV2, status=Status.OPEN, reporter_id=BOT,
                        commander_id=BOT, created_at=0, updated_at=0, channel_id="incchannel", setup_done=True,
                        alert=json.dumps({"name": "CheckoutErrors", "labels": {"service": "checkout"}}))
    async with db.transaction() as conn:
        incident = await incident_store.insert_incident(conn, incident)
    chat = FakeChat()

    async def get_user(user_id: str) -> dict:
        return {"id": user_id, "username": "deploy-bot"}

    related = RelatedActivity(db, chat, UserDirectory(get_user), Templates(), clock, config=CONFIG,
                              team=Team("t", "ops"), site_url="http://mm", bot_user_id=BOT)
    related.channel_ids = {"deploychannel": "deployments"}
    return db, chat, related, incident


def deploy(number: int, text: str = "Deployed checkout") -> Post:
    return Post(id=f"{number:026d}", channel_id="deploychannel", user_id="d" * 26, message=f"{text} v{number}",
                create_at=number)


async def test_items_are_noted_once_and_digested_once_per_window(tmp_path):
    clock = FakeClock()
    db, chat, related, incident = await setup(tmp_path, clock)
    try:
        for _ in range(2):   # a catch-up re-read of the same posts adds nothing
            await related.on_post(deploy(1))
            await related.on_post(deploy(2, "Deployed search"))
        await related.flush()
        assert chat.posts == []                      # the window is still open
        clock.advance(30)
        await related.flush()
        ((channel, text),) = chat.posts
        assert channel == "incchannel" and "Related activity (1)" in text and "http://mm/ops/pl/" + deploy(1).id in text
        await related.on_post(deploy(1))
        clock.advance(60)
        await related.flush()
        assert len(chat.posts) == 1                  # digested items never come back
        (entry,) = [e for e in await entries(db, incident.id) if e.kind == "related_activity"]
        assert entry.data["count"] == 1 and entry.data["post_id"] == "digest1"
    finally:
        await db.close()


async def test_a_storm_of_alerts_is_one_digest_and_a_resolved_incident_gets_only_the_timeline(tmp_path):
    clock = FakeClock()
    db, chat, related, incident = await setup(tmp_path, clock)
    try:
        for n in range(50):
            alert = Alert(source=AlertSource.ALERTMANAGER, fingerprint=f"fp{n}", status=AlertStatus.FIRING,
                          name=f"PodRestarting{n}", labels={"service": "checkout"})
            await related.on_alert(alert, Post(id=f"{n:026d}", channel_id="alertchannel", user_id="m"), set())
        await related.on_alert(replace(alert, fingerprint="own"), None, {incident.id})   # its own alert
        clock.advance(30)
        await related.flush()
        ((_, text),) = chat.posts
        assert "Related activity (50)" in text and "… and 35 more" in text and "~alerts" in text

        await related.on_post(deploy(3))
        async with db.transaction() as conn:
            await incident_store.update_fields(conn, incident.id, {"status": Status.RESOLVED})
        clock.advance(30)
        await related.flush()
        assert len(chat.posts) == 1
        digests = [e for e in await entries(db, incident.id) if e.kind == "related_activity"]
        assert [e.data["count"] for e in digests] == [50, 1] and digests[1].data["post_id"] == ""
    finally:
        await db.close()
