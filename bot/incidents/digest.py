"""The daily digest: once a day, at a local time, post the open incidents, the overdue status updates and the
open checklist tasks to one channel.

The next run is kept in SQLite (`digest_schedule`) with the last local day sent, so a restart re-arms it: a
digest missed while the bot was down goes out at start, and one already sent is not sent again.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone as utc_zone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.clock import Clock, format_duration
from bot.incidents.model import Incident, Status
from bot.oncall.rotation_model import local_instant
from bot.store import incidents as incident_store
from bot.store.db import Database
from bot.store.tasks import TaskRow, TaskStore
from bot.templates import Templates
from bot.users import UserDirectory
from bot.workflow.timers import Timers

log = logging.getLogger(__name__)


def parse_at(text: str) -> time:
    """'09:00' -> 09:00; ValueError naming the text otherwise."""
    hours, sep, minutes = text.strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2
            and 0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
        raise ValueError(f"not a time of day (HH:MM): {text!r}")
    return time(int(hours), int(minutes))


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone: {name!r}") from None


def next_run(after_ms: int, at: time, zone: ZoneInfo) -> int:
    """The first instant strictly after `after_ms` whose local time in `zone` is `at` (in a DST gap: its end)."""
    after = datetime.fromtimestamp(after_ms / 1000, tz=utc_zone.utc)
    day = after.astimezone(zone).date() - timedelta(days=1)   # a day back: the local date can lag the UTC one
    while True:
        instant = local_instant(datetime.combine(day, at), zone)
        if instant > after:
            return int(instant.timestamp() * 1000)
        day += timedelta(days=1)


def local_day(ms: int, zone: ZoneInfo) -> str:
    """The local date of an instant, as 2026-03-29."""
    return datetime.fromtimestamp(ms / 1000, tz=zone).date().isoformat()


@dataclass(frozen=True)
class IncidentLine:
    incident: Incident
    commander: str
    age: str


@dataclass(frozen=True)
class OverdueUpdate:
    incident: Incident
    commander: str
    due: str
    late_by: str


@dataclass(frozen=True)
class TaskLine:
    incident: Incident
    task: TaskRow
    assignee: str
    due: str
    overdue: bool


class Digest:
    def __init__(self, db: Database, chat, timers: Timers, clock: Clock, templates: Templates, *,
                 channel_id: str, at: str = "09:00", timezone: str = "UTC", users: UserDirectory | None = None,
                 retry_s: int = 300):
        self.db = db
        self.chat = chat
        self.timers = timers
        self.clock = clock
        self.templates = templates
        self.channel_id = channel_id
        self.at = parse_at(at)
        self.zone = parse_zone(timezone)
        self.users = users or UserDirectory(chat.get_user)
        self.tasks = TaskStore(db)
        self.retry_s = retry_s

    @property
    def job_id(self) -> str:
        return f"digest:{self.channel_id}"

    async def start(self) -> int:
        """Arm the next run (at once if one was missed while the bot was down); returns when it is due."""
        now = self.clock.now_ms()
        row = await self._schedule()
        if row is not None and row["next_due_at"] <= now and row["last_sent_day"] != self._day(row["next_due_at"]):
            due = row["next_due_at"]           # missed while down: send it now, once
        else:
            due = self._next_after(now, row["last_sent_day"] if row else "")
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO digest_schedule (channel_id, next_due_at) VALUES (?, ?) "
                "ON CONFLICT(channel_id) DO UPDATE SET next_due_at = excluded.next_due_at", (self.channel_id, due))
        self.timers.at(self.job_id, due, self.run_due)
        return due

    async def run_due(self) -> None:
        """The timer fired: send the day's digest unless it went out already, then arm the next day's."""
        now = self.clock.now_ms()
        row = await self._schedule()
        if row is None:
            return
        due = row["next_due_at"]
        if due > now:       # a stale job (the schedule moved on): wait for the real time
            self.timers.at(self.job_id, due, self.run_due)
            return
        day = self._day(due)
        post_id = row["last_post_id"]
        if row["last_sent_day"] != day:
            try:
                post_id = await self.send_now()
            except Exception:   # Mattermost away, say: try again later, the schedule stays as it is
                log.exception("the digest for %s could not be posted; trying again in %ds", day, self.retry_s)
                self.timers.at(self.job_id, now + self.retry_s * 1000, self.run_due)
                return
        following = self._next_after(now, day)
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE digest_schedule SET next_due_at = ?, last_sent_day = ?, last_post_id = ? WHERE channel_id = ?",
                (following, day, post_id, self.channel_id))
        self.timers.at(self.job_id, following, self.run_due)

    async def send_now(self) -> str:
        """Render the digest as of now and post it to the channel; returns the post id."""
        message = self.templates.render("digest", **await self.compose())
        post = await self.chat.create_post(self.channel_id, message,
                                           props={"incident_bot": {"digest": self._day(self.clock.now_ms())}})
        return post.id

    async def compose(self) -> dict[str, Any]:
        """What the digest says: open incidents, overdue status updates, open tasks (overdue first)."""
        now = self.clock.now_ms()
        open_incidents = sorted(
            (i for i in await incident_store.list_incidents(self.db) if i.status is not Status.RESOLVED),
            key=lambda i: (i.severity.value, i.created_at))
        incidents, overdue, tasks = [], [], []
        for incident in open_incidents:
            commander = await self.users.username(incident.commander_id)
            incidents.append(IncidentLine(incident, commander, format_duration(now - incident.created_at)))
            if incident.update_due_at and incident.update_due_at < now:
                overdue.append(OverdueUpdate(incident, commander, self._time(incident.update_due_at),
                                             format_duration(now - incident.update_due_at)))
            for task in await self.tasks.list(incident.id):
                if task.status == "open":
                    assignee = await self.users.username(task.assignee_id) if task.assignee_id else ""
                    tasks.append(TaskLine(incident, task, assignee, self._time(task.due_at),
                                          bool(task.due_at and task.due_at < now)))
        tasks.sort(key=lambda t: (not t.overdue, t.task.due_at is None, t.task.due_at or 0,
                                  t.incident.severity.value, t.incident.id, t.task.number))
        return {"day": self._day(now), "incidents": incidents, "overdue_updates": overdue, "tasks": tasks,
                "overdue_tasks": sum(1 for t in tasks if t.overdue)}

    async def _schedule(self):
        return await self.db.fetch_one("SELECT * FROM digest_schedule WHERE channel_id = ?", (self.channel_id,))

    def _next_after(self, after_ms: int, last_sent_day: str) -> int:
        """The next run after `after_ms`, skipping a local day whose digest already went out."""
        due = next_run(after_ms, self.at, self.zone)
        while self._day(due) <= last_sent_day:
            due = next_run(due, self.at, self.zone)
        return due

    def _day(self, ms: int) -> str:
        return local_day(ms, self.zone)

    def _time(self, ms: int | None) -> str:
        if not ms:
            return ""
        local = datetime.fromtimestamp(ms / 1000, tz=self.zone)
        today = datetime.fromtimestamp(self.clock.now_ms() / 1000, tz=self.zone).date()
        return local.strftime("%H:%M %Z") if local.date() == today else local.strftime("%Y-%m-%d %H:%M %Z")

