"""The daily digest: what it lists (from a real SQLite file), when it runs (local time, across DST), and that a
restart neither skips nor repeats a day's digest."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FakeClock
from bot.incidents.digest import Digest, next_run, parse_at
from bot.incidents.model import Severity, Status
from bot.mattermost.rest import MattermostRest
from bot.store.db import Database
from bot.store.tasks import TaskStore
from bot.templates import Templates
from bot.users import UserDirectory
from tests.conftest import World
from tests.informing.helpers import RecordingChat, RecordingTimers, add_incident, utc_ms

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
JOB = "digest:ch-digest"


@pytest.fixture
async def db(tmp_path: Path):
    database = await Database.open(tmp_path / "bot.sqlite")
    yield database
    await database.close()


def digest(db, chat, timers, clock, **options) -> Digest:
    return Digest(db, chat, timers, clock, Templates(), channel_id="ch-digest", **options)


async def test_digest_lists_open_incidents_overdue_updates_and_open_tasks_overdue_first(db):
    now = utc_ms(2026, 1, 7, 9, 0)
    clock = FakeClock(now)
    hour = 3600 * 1000
    checkout = await add_incident(db, "Checkout down", severity=Severity.SEV2, status=Status.ACKNOWLEDGED,
                                  created_at=now - 3 * hour, update_due_at=now - 20 * 60 * 1000,
                                  acknowledged_at=now - 2 * hour)
    login = await add_incident(db, "Login slow", severity=Severity.SEV1, created_at=now - hour // 2,
                               commander_id="u-bob", update_due_at=now + hour)
    await add_incident(db, "Old outage", status=Status.RESOLVED, created_at=now - 48 * hour, resolved_at=now - hour)
    tasks = TaskStore(db)
    await tasks.add(checkout.id, "Triage", [
        {"title": "Page the payments team", "due_at": now + hour},
        {"title": "Roll back release", "assignee_id": "u-carol", "due_at": now - hour},
        {"title": "Tell support"},
        {"title": "Already done"},
    ])
    await tasks.complete(checkout.id, 4, "u-alice")
    await tasks.add(login.id, "Triage", [{"title": "Check the identity provider", "due_at": now - 10 * 60 * 1000}])

    chat = RecordingChat()
    post_id = await digest(db, chat, RecordingTimers(), clock).send_now()

    [post] = chat.posts
    assert post["id"] == post_id and post["channel_id"] == "ch-digest"
    message = post["message"]
    lines = message.splitlines()
    assert lines[0] == "#### :newspaper: Incident digest for 2026-01-07"
    assert "**2 open incidents**" in message
    incident_lines = [line for line in lines if line.startswith("- **INC-")]
    assert incident_lines == [
        "- **INC-2** Login slow · SEV1 · Open · open 30m 00s · @bob · ~inc-login-slow",
        "- **INC-1** Checkout down · SEV2 · Acknowledged · open 3h 00m · @alice · ~inc-checkout-down",
    ]
    assert "Old outage" not in message and "INC-3" not in message
    overdue = [line for line in lines if line.startswith("- :hourglass:")]
    assert overdue == ["- :hourglass: **INC-1** was due an update at 08:40 UTC (20m 00s ago) · @alice"]
    task_lines = [line for line in lines if "#" in line and line.startswith("- :")]
    assert "**Open checklist tasks** (4, 2 overdue)" in message
    assert task_lines == [
        "- :warning: **INC-1 #2** Roll back release · @carol · due 08:00 UTC (overdue)",
        "- :warning: **INC-2 #1** Check the identity provider · due 08:50 UTC (overdue)",
        "- :white_large_square: **INC-1 #1** Page the payments team · due 10:00 UTC",
        "- :white_large_square: **INC-1 #3** Tell support",
    ]
    assert "Already done" not in message


async def test_a_day_without_open_incidents_is_one_line(db):
    clock = FakeClock(utc_ms(2026, 1, 7, 9, 0))
    await add_incident(db, "Old outage", status=Status.RESOLVED, created_at=utc_ms(2026, 1, 5, 9, 0))
    chat = RecordingChat()
    await digest(db, chat, RecordingTimers(), clock).send_now()
    assert [p["message"] for p in chat.posts] == [":sunny: **Incident digest for 2026-01-07:** no open incidents."]


async def test_digest_is_posted_through_mattermost_with_names_looked_up(world: World, tmp_path: Path):
    sandbox = world.sandbox
    channel = sandbox.create_channel(world.team["id"], "incidents-digest", "Incident digest",
                                     creator_id=world.bot["id"])
    db = await Database.open(tmp_path / "bot.sqlite")
    rest = MattermostRest(sandbox.url, world.bot_token, backoff_initial=0.01, backoff_max=0.05)
    try:
        await rest.me()
        now = utc_ms(2026, 1, 7, 9, 0)
        incident = await add_incident(db, "Checkout down", created_at=now - 600_000, commander_id=world.alice["id"])
        await TaskStore(db).add(incident.id, "Triage", [{"title": "Roll back", "assignee_id": world.bob["id"]}])
        service = Digest(db, rest, RecordingTimers(), FakeClock(now), Templates(), channel_id=channel["id"],
                         users=UserDirectory(rest.get_user))
        post_id = await service.send_now()
        [post] = world.bot_posts(channel["id"])
        assert post["id"] == post_id
        assert "- **INC-1** Checkout down · SEV2 · Open · open 10m 00s · @alice" in post["message"]
        assert "**INC-1 #1** Roll back · @bob" in post["message"]
        assert post["props"]["incident_bot"] == {"digest": "2026-01-07"}
    finally:
        await rest.aclose()
        await db.close()


def local(zone: ZoneInfo, *args: int) -> int:
    return int(datetime(*args, tzinfo=zone).timestamp() * 1000)


@pytest.mark.parametrize(("after", "at", "zone", "expected"), [
    # Berlin springs forward on 29 March 2026: 09:00 is 08:00 UTC the day before and 07:00 UTC that day.
    (utc_ms(2026, 3, 28, 8, 0), "09:00", BERLIN, utc_ms(2026, 3, 29, 7, 0)),
    (utc_ms(2026, 3, 28, 7, 59), "09:00", BERLIN, utc_ms(2026, 3, 28, 8, 0)),
    (utc_ms(2026, 3, 28, 23, 30), "00:15", BERLIN, utc_ms(2026, 3, 29, 22, 15)),   # 00:30 local: the next 00:15 is CEST
    # 02:30 does not exist that night in Berlin: the digest goes when the clocks jump (03:00 CEST).
    (utc_ms(2026, 3, 28, 12, 0), "02:30", BERLIN, utc_ms(2026, 3, 29, 1, 0)),
    # It falls back on 25 October: 02:30 happens twice, the digest goes at the first, once.
    (utc_ms(2026, 10, 24, 12, 0), "02:30", BERLIN, utc_ms(2026, 10, 25, 0, 30)),
    (utc_ms(2026, 10, 25, 0, 30), "02:30", BERLIN, utc_ms(2026, 10, 26, 1, 30)),
    (utc_ms(2026, 10, 24, 12, 0), "09:00", BERLIN, utc_ms(2026, 10, 25, 8, 0)),
    # New York: a UTC date ahead of the local one.
    (utc_ms(2026, 3, 8, 3, 0), "09:00", NEW_YORK, utc_ms(2026, 3, 8, 13, 0)),
    (utc_ms(2026, 3, 7, 14, 0), "09:00", NEW_YORK, utc_ms(2026, 3, 8, 13, 0)),
    (utc_ms(2026, 11, 1, 2, 0), "09:00", NEW_YORK, utc_ms(2026, 11, 1, 14, 0)),
])
def test_next_run_keeps_the_local_time_across_dst(after, at, zone, expected):
    assert next_run(after, parse_at(at), zone) == expected


async def test_the_job_rearms_itself_for_the_next_local_day_across_spring_forward(db):
    clock = FakeClock(local(BERLIN, 2026, 3, 28, 10, 0))
    timers, chat = RecordingTimers(), RecordingChat()
    service = digest(db, chat, timers, clock, at="09:00", timezone="Europe/Berlin")
    assert await service.start() == utc_ms(2026, 3, 29, 7, 0)
    assert timers.due(JOB) == utc_ms(2026, 3, 29, 7, 0)
    clock.ms = timers.due(JOB)
    await timers.fire(JOB)
    assert len(chat.posts) == 1 and "2026-03-29" in chat.posts[0]["message"]
    assert timers.due(JOB) == utc_ms(2026, 3, 30, 7, 0)     # 09:00 CEST, 24h later
    row = await db.fetch_one("SELECT * FROM digest_schedule")
    assert (row["next_due_at"], row["last_sent_day"], row["last_post_id"]) == (utc_ms(2026, 3, 30, 7, 0),
                                                                               "2026-03-29", "post-1")


async def test_a_restart_after_the_digest_went_out_does_not_send_it_again(tmp_path: Path):
    path = tmp_path / "bot.sqlite"
    clock = FakeClock(utc_ms(2026, 1, 7, 8, 30))
    chat = RecordingChat()
    db = await Database.open(path)
    timers = RecordingTimers()
    service = digest(db, chat, timers, clock)
    await service.start()
    clock.ms = utc_ms(2026, 1, 7, 9, 0)
    await timers.fire(JOB)
    assert len(chat.posts) == 1
    await db.close()

    clock.ms = utc_ms(2026, 1, 7, 9, 5)       # the process is restarted minutes later
    db = await Database.open(path)
    try:
        timers_after = RecordingTimers()
        restarted = digest(db, chat, timers_after, clock)
        assert await restarted.start() == utc_ms(2026, 1, 8, 9, 0)
        await restarted.run_due()                 # a stray firing (an old job) changes nothing
        assert len(chat.posts) == 1
        assert timers_after.due(JOB) == utc_ms(2026, 1, 8, 9, 0)
        clock.ms = utc_ms(2026, 1, 8, 9, 0)
        await timers_after.fire(JOB)
        assert len(chat.posts) == 2 and "2026-01-08" in chat.posts[1]["message"]
    finally:
        await db.close()


async def test_a_digest_missed_while_down_goes_out_once_at_start(tmp_path: Path):
    path = tmp_path / "bot.sqlite"
    clock = FakeClock(utc_ms(2026, 1, 7, 8, 0))
    chat = RecordingChat()
    db = await Database.open(path)
    await digest(db, chat, RecordingTimers(), clock).start()
    await db.close()                              # down from 08:00 to 11:00: 09:00 passes unseen

    for minute in (0, 5):                         # restarted at 11:00, and again at 11:05
        clock.ms = utc_ms(2026, 1, 7, 11, minute)
        db = await Database.open(path)
        try:
            timers = RecordingTimers()
            due = await digest(db, chat, timers, clock).start()
            if due <= clock.ms:
                await timers.fire(JOB)
            assert timers.due(JOB) == utc_ms(2026, 1, 8, 9, 0)
        finally:
            await db.close()
    assert len(chat.posts) == 1 and "2026-01-07" in chat.posts[0]["message"]


async def test_moving_the_time_later_on_a_day_already_sent_waits_for_the_next_day(tmp_path: Path):
    clock = FakeClock(utc_ms(2026, 1, 7, 8, 59))
    chat = RecordingChat()
    db = await Database.open(tmp_path / "bot.sqlite")
    try:
        timers = RecordingTimers()
        await digest(db, chat, timers, clock).start()
        clock.ms = utc_ms(2026, 1, 7, 9, 0)
        await timers.fire(JOB)
        clock.ms = utc_ms(2026, 1, 7, 10, 0)     # restarted with at: 17:00
        assert await digest(db, chat, RecordingTimers(), clock, at="17:00").start() == utc_ms(2026, 1, 8, 17, 0)
    finally:
        await db.close()
    assert len(chat.posts) == 1


def test_bad_settings_are_refused_with_the_value():
    with pytest.raises(ValueError, match="'9am'"):
        parse_at("9am")
    with pytest.raises(ValueError, match="Mars/Olympus"):
        Digest(None, RecordingChat(), RecordingTimers(), FakeClock(), Templates(), channel_id="c",
               timezone="Mars/Olympus")


async def test_a_digest_that_could_not_be_posted_is_tried_again_later(db):
    class FlakyChat(RecordingChat):
        failures = 1

        async def create_post(self, channel_id, message, **options):
            if self.failures:
                self.failures -= 1
                raise ConnectionError("Mattermost is away")
            return await super().create_post(channel_id, message, **options)

    clock = FakeClock(utc_ms(2026, 1, 7, 9, 0))
    timers, chat = RecordingTimers(), FlakyChat()
    service = digest(db, chat, timers, clock, retry_s=60)
    await service.start()
    clock.ms = utc_ms(2026, 1, 8, 9, 0)
    await timers.fire(JOB)
    assert chat.posts == [] and timers.due(JOB) == utc_ms(2026, 1, 8, 9, 1)
    clock.ms = timers.due(JOB)
    await timers.fire(JOB)
    assert len(chat.posts) == 1 and "2026-01-08" in chat.posts[0]["message"]
    assert timers.due(JOB) == utc_ms(2026, 1, 9, 9, 0)
