"""Read on-call schedules from YAML, validated once, with every problem named by file, line and field.

    schedules:
      - name: primary
        timezone: Europe/Berlin
        layers:                       # first layer = primary, second = secondary ...
          - users: ["@alice", "@bob", "@carol"]
            shift: weekly             # daily | weekly | a duration: 12h, 3d, 2w, 1h30m
            handoff: "mon 09:00"      # local time; a day only with whole-week shifts
            start: 2026-01-05         # the first user's first shift starts here (a hand-off day)
        overrides:                    # optional; `layer` defaults to 1 (primary); last listed wins
          - {user: "@dave", from: "2026-03-28 18:00", to: "2026-03-30 09:00"}
"""
from __future__ import annotations

import difflib
import re
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Sequence
from zoneinfo import ZoneInfo

from bot.oncall.rotation_model import Layer, Override, Schedule, local_instant, username
from bot.problems import ConfigError, Problem
from bot.yamlsource import YamlDocument, YamlSourceError, load_yaml_file

SCHEDULE_KEYS = ("name", "timezone", "layers", "overrides")
LAYER_KEYS = ("users", "shift", "handoff", "start")
OVERRIDE_KEYS = ("user", "from", "to", "layer")
NAMED_SHIFTS = {"daily": timedelta(days=1), "weekly": timedelta(weeks=1)}
MIN_SHIFT, MAX_SHIFT = timedelta(hours=1), timedelta(days=365)

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DURATION = re.compile(r"(?:\d+[mhdw])+")
_DURATION_PART = re.compile(r"(\d+)([mhdw])")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_HANDOFF = re.compile(r"(?:([a-z]+)\s+)?(\d{1,2}):(\d{2})", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.:-]{0,63}")
_BAD = object()


def schedules_from_document(doc: YamlDocument, path_prefix: tuple = ("schedules",)) -> tuple[Schedule, ...]:
    """Validate the list of schedules at `path_prefix` in a parsed document; raise ConfigError listing every
    problem. A document without that key has no schedules."""
    data: Any = doc.data
    for part in path_prefix:
        if not isinstance(data, dict) or part not in data:
            return ()
        data = data[part]
    reader = _ScheduleReader(doc)
    schedules = reader.schedules(tuple(path_prefix), [] if data is None else data)
    if reader.problems:
        raise ConfigError(sorted(reader.problems, key=lambda p: (p.location.line, p.location.column)))
    return schedules


def load_schedules(path: Path | str) -> tuple[Schedule, ...]:
    """Read and validate a schedules file: a mapping with one key, `schedules`."""
    try:
        doc = load_yaml_file(Path(path))
    except YamlSourceError as exc:
        raise ConfigError([Problem(exc.location, "", exc.message)]) from None
    if not isinstance(doc.data, dict) or "schedules" not in doc.data:
        raise ConfigError([Problem(doc.where(()), "", "a schedules file must be a mapping with a `schedules:` list")])
    unknown = [Problem(doc.where((key,)), str(key), "unknown key" + _did_you_mean(key, ["schedules"]))
               for key in doc.data if key != "schedules"]
    try:
        schedules = schedules_from_document(doc, ("schedules",))
    except ConfigError as exc:
        raise ConfigError(unknown + exc.problems) from None
    if unknown:
        raise ConfigError(unknown)
    return schedules


class _ScheduleReader:
    """Collect every problem in a list of schedules instead of stopping at the first."""

    def __init__(self, doc: YamlDocument):
        self.doc = doc
        self.problems: list[Problem] = []

    def problem(self, path: tuple, message: str) -> None:
        self.problems.append(Problem(self.doc.where(path), _dotted(path), message))

    def value(self, path: tuple, raw: Any, parse: Callable[[Any], Any]) -> Any:
        try:
            return parse(raw)
        except ValueError as exc:
            self.problem(path, str(exc))
            return _BAD

    def mapping(self, path: tuple, raw: Any, keys: Sequence[str], required: Sequence[str]) -> dict | None:
        if not isinstance(raw, dict):
            self.problem(path, f"must be a mapping, not {_kind(raw)}")
            return None
        for key in raw:
            if key not in keys:
                self.problem(path + (key,), "unknown key" + (_did_you_mean(key, keys)
                                                             or f" (known keys: {', '.join(keys)})"))
        for key in required:
            if key not in raw:
                self.problem(path, f"{key} is required but missing")
        return {k: v for k, v in raw.items() if k in keys}

    def schedules(self, path: tuple, raw: Any) -> tuple[Schedule, ...]:
        if not isinstance(raw, list):
            self.problem(path, f"must be a list of schedules, not {_kind(raw)}")
            return ()
        found, seen = [], {}
        for index, item in enumerate(raw):
            schedule = self.schedule(path + (index,), item)
            if schedule is None:
                continue
            if schedule.name in seen:
                self.problem(path + (index, "name"), f"duplicate schedule name {schedule.name!r} "
                                                     f"(also {_dotted(seen[schedule.name])})")
            seen.setdefault(schedule.name, path + (index,))
            found.append(schedule)
        return tuple(found)

    def schedule(self, path: tuple, raw: Any) -> Schedule | None:
        before = len(self.problems)
        data = self.mapping(path, raw, SCHEDULE_KEYS, ("name", "timezone", "layers"))
        if data is None:
            return None
        name = self.value(path + ("name",), data["name"], _schedule_name) if "name" in data else _BAD
        zone = self.value(path + ("timezone",), data["timezone"], _zone) if "timezone" in data else _BAD
        layers = self.layers(path + ("layers",), data["layers"]) if "layers" in data else ()
        overrides: tuple[Override, ...] = ()
        if "overrides" in data and zone is not _BAD:
            layer_count = len(data["layers"]) if isinstance(data.get("layers"), list) else 0
            overrides = self.overrides(path + ("overrides",), data["overrides"], zone, layer_count)
        if len(self.problems) > before:
            return None
        return Schedule(name=name, timezone=zone, layers=layers, overrides=overrides, location=self.doc.where(path))

    def layers(self, path: tuple, raw: Any) -> tuple[Layer, ...]:
        if not isinstance(raw, list) or not raw:
            self.problem(path, "must be a list of at least one layer (the first is the primary on-call)")
            return ()
        return tuple(layer for index, item in enumerate(raw) if (layer := self.layer(path + (index,), item)))

    def layer(self, path: tuple, raw: Any) -> Layer | None:
        data = self.mapping(path, raw, LAYER_KEYS, LAYER_KEYS)
        if data is None:
            return None
        users = self.value(path + ("users",), data["users"], _users) if "users" in data else _BAD
        period = self.value(path + ("shift",), data["shift"], _shift) if "shift" in data else _BAD
        handoff = self.value(path + ("handoff",), data["handoff"], _handoff) if "handoff" in data else _BAD
        start = self.value(path + ("start",), data["start"], _start_date) if "start" in data else _BAD
        if _BAD in (users, period, handoff, start):
            return None
        weekday, at = handoff
        if weekday is not None:
            if period % timedelta(weeks=1):
                self.problem(path + ("handoff",), f"names a day, which only fits a shift of whole weeks, not "
                                                  f"{data['shift']!r}; write just the time, e.g. \"{at:%H:%M}\"")
                return None
            if start.weekday() != weekday:
                self.problem(path + ("start",), f"{start} is a {_DAY_NAMES[start.weekday()].title()}, but hand-offs "
                                                f"are on {_DAY_NAMES[weekday].title()}s; start on a hand-off day")
                return None
        return Layer(users=users, period=period, first_handoff=datetime.combine(start, at), shift=str(data["shift"]))

    def overrides(self, path: tuple, raw: Any, zone_name: str, layer_count: int) -> tuple[Override, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problem(path, f"must be a list of overrides, not {_kind(raw)}")
            return ()
        zone = ZoneInfo(zone_name)
        found = []
        for index, item in enumerate(raw):
            here = path + (index,)
            data = self.mapping(here, item, OVERRIDE_KEYS, ("user", "from", "to"))
            if data is None or not {"user", "from", "to"} <= data.keys():
                continue
            user = self.value(here + ("user",), data["user"], _username)
            start = self.value(here + ("from",), data["from"], lambda v: _moment(v, zone))
            end = self.value(here + ("to",), data["to"], lambda v: _moment(v, zone))
            layer = self.value(here + ("layer",), data.get("layer", 1), lambda v: _layer_number(v, layer_count))
            if start is not _BAD and end is not _BAD and end <= start:
                self.problem(here + ("to",), f"must be after `from` ({data['to']} is not after {data['from']})")
                continue
            if _BAD not in (user, start, end, layer):
                found.append(Override(user=user, start=start, end=end, layer=layer - 1))
        return tuple(found)


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", bool: "a boolean", type(None): "empty"}
    return names.get(type(value), type(value).__name__)


def _did_you_mean(word: Any, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _dotted(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"must be a string, not {_kind(value)}")
    text = str(value).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def _schedule_name(value: Any) -> str:
    name = _text(value)
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a schedule name: up to 64 letters, digits, spaces and _ . : -")
    return name


def _zone(value: Any) -> str:
    name = _text(value)
    try:
        ZoneInfo(name)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"{name!r} is not a known time zone; use a name like Europe/Berlin or UTC") from None
    return name


def _username(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a username like \"@alice\", not {_kind(value)}")
    return username(value)


def _users(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("must list at least one user, e.g. [\"@alice\", \"@bob\"]")
    users = []
    for index, item in enumerate(items):
        try:
            users.append(_username(item))
        except ValueError as exc:
            raise ValueError(f"item {index}: {exc}" if isinstance(value, list) else str(exc)) from None
    return tuple(users)


def _shift(value: Any) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"must be daily, weekly or a duration like 12h or 3d, not {value!r}")
    text = value.replace(" ", "").lower()
    if text in NAMED_SHIFTS:
        return NAMED_SHIFTS[text]
    if not _DURATION.fullmatch(text):
        raise ValueError(f"{value!r} is not daily, weekly or a duration like 12h, 3d or 2w"
                         + _did_you_mean(text, list(NAMED_SHIFTS)))
    period = sum((int(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(text)), timedelta())
    if not MIN_SHIFT <= period <= MAX_SHIFT:
        raise ValueError(f"{value!r} is not between 1h and 365d")
    return period


def _handoff(value: Any) -> tuple[int | None, time]:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError("write the time in quotes, e.g. \"9:00\": unquoted, YAML reads 9:00 as a number")
    text = _text(value)
    found = _HANDOFF.fullmatch(text)
    if not found:
        raise ValueError(f"{text!r} is not a hand-off time; write e.g. \"09:00\" or \"mon 09:00\"")
    day, hour, minute = found.group(1), int(found.group(2)), int(found.group(3))
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r} is not a time of day (00:00 to 23:59)")
    return (_weekday(day) if day else None), time(hour, minute)


def _weekday(word: str) -> int:
    word = word.lower()
    if word in _DAYS:
        return _DAYS.index(word)
    if word in _DAY_NAMES:
        return _DAY_NAMES.index(word)
    raise ValueError(f"{word!r} is not a day (mon, tue, wed, thu, fri, sat, sun)"
                     + _did_you_mean(word, _DAYS + _DAY_NAMES))


def _start_date(value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError("must be a date like 2026-01-05; the time of day goes in `handoff`")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(_text(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a date; write e.g. 2026-01-05") from None


def _moment(value: Any, zone: ZoneInfo) -> datetime:
    """An instant from a local 'YYYY-MM-DD HH:MM' (or a date: midnight), or a time with an explicit offset."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    else:
        try:
            moment = datetime.fromisoformat(_text(value))
        except ValueError:
            raise ValueError(f"{value!r} is not a local date and time; write e.g. \"2026-03-28 18:00\"") from None
    if moment.utcoffset() is not None:
        return moment.astimezone(timezone.utc)
    return local_instant(moment, zone)


def _layer_number(value: Any, count: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a layer number (1 = primary), not {value!r}")
    if not 1 <= value <= count:
        raise ValueError(f"there is no layer {value}: this schedule has {count}")
    return value
