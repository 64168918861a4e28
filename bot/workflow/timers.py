"""A thin facade over APScheduler: call a coroutine at a time. The times themselves are kept in SQLite by
their owners (steps, reminders) and re-armed at start, so nothing is lost when the process dies."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)


class Timers:
    def __init__(self) -> None:
        self.scheduler = AsyncIOScheduler(
            timezone=timezone.utc,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1})

    def start(self) -> None:
        """Start the scheduler (inside the running event loop)."""
        if not self.scheduler.running:
            self.scheduler.start()

    def at(self, job_id: str, when_ms: int, func: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run `func(*args)` at `when_ms` (at once if that is past); a job with the same id is replaced."""
        run_date = datetime.fromtimestamp(max(when_ms, 0) / 1000, tz=timezone.utc)
        self.scheduler.add_job(func, "date", run_date=run_date, args=args, id=job_id, replace_existing=True)

    def after(self, job_id: str, seconds: float, func: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run `func(*args)` `seconds` from now (wall-clock time)."""
        self.at(job_id, int((time.time() + seconds) * 1000), func, *args)

    def cancel(self, job_id: str) -> None:
        if self.scheduler.get_job(job_id) is not None:
            self.scheduler.remove_job(job_id)

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
