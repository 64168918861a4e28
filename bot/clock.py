"""Time as the bot sees it: injected, so tests can use a fake clock."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    """Wall-clock time in milliseconds since the epoch, as Mattermost counts it."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start_ms: int = 1_767_225_600_000):
        self.ms = start_ms

    def now_ms(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


def format_time(ms: int | None) -> str:
    """'2026-11-27 14:03 UTC' for a millisecond timestamp; '-' for none."""
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def format_duration(ms: int | None) -> str:
    """'1h 05m', '4m 10s', '12s'."""
    if ms is None:
        return "-"
    seconds = max(0, ms // 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"
