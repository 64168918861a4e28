"""On-call schedules as data, and the one rule that turns a local wall-clock time into an instant.

Wall-clock rule (used for every hand-off and override bound):
- A local time that exists once is that instant.
- A local time skipped by a spring-forward gap (02:30 on 2026-03-29 in Europe/Berlin) means the first
  valid instant after the gap, i.e. the moment the clocks jump (03:00 local, 01:00 UTC).
- A local time that occurs twice in a fall-back fold (02:30 on 2026-10-25 in Europe/Berlin) means its
  first occurrence (still summer time, 00:30 UTC).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.yamlsource import Location

# `until` when nothing will ever change: later than any real instant, still comparable with them.
FOREVER = datetime.max.replace(tzinfo=timezone.utc)
_USERNAME = re.compile(r"@?([a-z][a-z0-9._-]{0,63})", re.IGNORECASE)


@dataclass(frozen=True)
class Layer:
    """One rotation: `users` take turns, each for `period` of local wall-clock time, from `first_handoff`."""

    users: tuple[str, ...]
    period: timedelta
    first_handoff: datetime  # naive, local wall-clock time in the schedule's zone
    shift: str = ""          # as written in the config ("weekly", "12h"), for messages


@dataclass(frozen=True)
class Override:
    """`user` takes layer `layer` (0 = primary) from `start` until `end` (aware instants, end exclusive)."""

    user: str
    start: datetime
    end: datetime
    layer: int = 0


@dataclass(frozen=True)
class Schedule:
    """A named on-call schedule: the first layer is primary, the second secondary, and so on."""

    name: str
    timezone: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()  # when two overlap, the one listed (or added) last wins
    location: Location | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class OnCall:
    """Who is on call per layer (None: that layer has not started yet) and when that next changes."""

    layers: tuple[str | None, ...]
    until: datetime  # FOREVER when nothing changes again

    @property
    def primary(self) -> str | None:
        return self.layers[0] if self.layers else None


def username(text: str) -> str:
    """A Mattermost username from '@alice' or 'alice' (lower-cased); ValueError when it cannot be one."""
    found = _USERNAME.fullmatch(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a Mattermost username (letters, digits, . _ -; starting with a letter)")
    return found.group(1).lower()


def local_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of naive local time `wall` in `zone`, by the rule in this module's docstring."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    before, after = first.utcoffset(), second.utcoffset()
    assert before is not None and after is not None
    if before >= after:  # exists once, or twice (fold=0 is the first occurrence)
        return first.astimezone(timezone.utc)
    return _end_of_gap(wall, zone, wall - after, wall - before)


def _end_of_gap(wall: datetime, zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first instant whose local time is past `wall`, searched (to the second) between two UTC guesses."""
    low, high = low.replace(tzinfo=timezone.utc), high.replace(tzinfo=timezone.utc)
    # `low` reads as a local time before the gap, `high` as one after it; the jump lies in between.
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high
