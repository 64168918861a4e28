"""Small helpers for the rotation tests: schedules from YAML text, aware local times."""
from __future__ import annotations

import textwrap
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from bot.oncall.rotations import Schedule, schedules_from_document
from bot.yamlsource import parse_yaml

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def schedule(text: str) -> Schedule:
    """The single schedule in a `schedules:` YAML snippet."""
    (only,) = schedules_from_document(parse_yaml(textwrap.dedent(text), "test.yaml"))
    return only


def local(zone: ZoneInfo, *parts: int, fold: int = 0) -> datetime:
    """An aware datetime in `zone` (year, month, day, hour, minute[, second])."""
    return datetime(*parts, tzinfo=zone, fold=fold)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)
