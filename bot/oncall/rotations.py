"""Built-in on-call rotations (in the spirit of Mattermost's Solar Lottery plugin): who is on call, and until when.

Pure: every function takes the schedule and an aware instant and returns data; nothing here reads a clock.
Hand-offs happen at local wall-clock time in the schedule's zone, so a weekly 09:00 hand-off stays at
09:00 local across daylight-saving changes (its UTC instant moves by an hour). A shift is therefore as
long as the wall clock says: the weekly shift spanning spring-forward lasts 167 real hours. Local times
that do not exist or exist twice are resolved by `bot.oncall.rotation_model.local_instant`.

The schedule model and the YAML loader are re-exported here, so callers import rotations from one place.
"""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timezone

from bot.oncall.rotation_model import FOREVER, Layer, OnCall, Override, Schedule, local_instant, username
from bot.oncall.schedule_loader import load_schedules, schedules_from_document

__all__ = [
    "FOREVER", "Layer", "OnCall", "Override", "Schedule", "add_override", "load_schedules", "local_instant",
    "next_on_call", "on_call", "schedules_from_document", "username",
]

log = logging.getLogger(__name__)

# Each step of the search for the next change consumes an override bound or a rotation change, so it ends
# quickly; the cap only guards against a bug turning into a hung bot (an early `until` is harmless).
_MAX_STEPS = 10_000


def on_call(schedule: Schedule, at: datetime) -> OnCall:
    """Who is on call in each layer at instant `at` (overrides applied), and when any of that next changes."""
    _require_aware(at, "at")
    layers = tuple(_layer_user(schedule, index, at) for index in range(len(schedule.layers)))
    until = min((_next_change(schedule, index, at) for index in range(len(schedule.layers))), default=FOREVER)
    return OnCall(layers=layers, until=until)


def next_on_call(schedule: Schedule, at: datetime) -> tuple[tuple[str | None, ...], datetime]:
    """Who takes over at the next change after `at`, and when; (the current people, FOREVER) if nobody ever does."""
    now = on_call(schedule, at)
    if now.until == FOREVER:
        return now.layers, FOREVER
    return on_call(schedule, now.until).layers, now.until


def add_override(schedule: Schedule, user: str, start: datetime, end: datetime, *, layer: int = 1) -> Schedule:
    """A copy of `schedule` where `user` covers layer `layer` (1 = primary) from `start` to `end`; it wins over
    earlier overrides that overlap it."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end <= start:
        raise ValueError(f"the override must end after it starts ({end.isoformat()} is not after {start.isoformat()})")
    if not 1 <= layer <= len(schedule.layers):
        raise ValueError(f"schedule {schedule.name!r} has {len(schedule.layers)} layer(s); there is no layer {layer}")
    override = Override(user=username(user), start=start.astimezone(timezone.utc), end=end.astimezone(timezone.utc),
                        layer=layer - 1)
    return dataclasses.replace(schedule, overrides=schedule.overrides + (override,))


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, not {value!r}")


def _boundary(layer: Layer, index: int, schedule: Schedule) -> datetime:
    """The instant shift `index` of `layer` starts (shift 0 starts at the first hand-off)."""
    return local_instant(layer.first_handoff + index * layer.period, schedule.zone)


def _shift_index(layer: Layer, at: datetime, schedule: Schedule) -> int:
    """The shift running at `at`: the last one whose start instant is not after it (negative before the start)."""
    wall = at.astimezone(schedule.zone).replace(tzinfo=None)
    index = (wall - layer.first_handoff) // layer.period
    # Wall time runs backwards in a fall-back fold and skips in a gap; settle on instants instead.
    while _boundary(layer, index + 1, schedule) <= at:
        index += 1
    while _boundary(layer, index, schedule) > at:
        index -= 1
    return index


def _rotation_user(layer: Layer, at: datetime, schedule: Schedule) -> str | None:
    index = _shift_index(layer, at, schedule)
    return layer.users[index % len(layer.users)] if index >= 0 else None


def _covering(schedule: Schedule, layer: int, at: datetime) -> Override | None:
    """The override in force for `layer` at `at`: the last listed of those covering it."""
    for override in reversed(schedule.overrides):
        if override.layer == layer and override.start <= at < override.end:
            return override
    return None


def _layer_user(schedule: Schedule, layer: int, at: datetime) -> str | None:
    override = _covering(schedule, layer, at)
    if override is not None:
        return override.user
    return _rotation_user(schedule.layers[layer], at, schedule)


def _next_change(schedule: Schedule, layer: int, at: datetime) -> datetime:
    """The first instant after `at` when the person on call in `layer` differs from now (FOREVER if never)."""
    current = _layer_user(schedule, layer, at)
    moment = at
    for _ in range(_MAX_STEPS):
        moment = _next_event(schedule, layer, moment)
        if moment == FOREVER or _layer_user(schedule, layer, moment) != current:
            return moment
    log.warning("schedule %s layer %d: no change found in %d steps after %s", schedule.name, layer + 1,
                _MAX_STEPS, at.isoformat())
    return moment


def _next_event(schedule: Schedule, layer: int, at: datetime) -> datetime:
    """The first instant after `at` at which `layer`'s person could change: an override bound, or (when no
    override covers `at`) the next hand-off to a different user in the rotation."""
    bounds = [moment for override in schedule.overrides if override.layer == layer
              for moment in (override.start, override.end) if moment > at]
    if _covering(schedule, layer, at) is None:
        bounds.append(_next_rotation_change(schedule.layers[layer], at, schedule))
    return min(bounds, default=FOREVER)


def _next_rotation_change(layer: Layer, at: datetime, schedule: Schedule) -> datetime:
    """The start of the next shift after `at` that goes to someone other than the current shift's user."""
    index = _shift_index(layer, at, schedule)
    if index < 0:
        return _boundary(layer, 0, schedule)
    count = len(layer.users)
    now = layer.users[index % count]
    for step in range(1, count + 1):
        if layer.users[(index + step) % count] != now:
            return _boundary(layer, index + step, schedule)
    return FOREVER  # everyone in the layer is the same person
