"""Incident metrics (MTTA, MTTR, MTTD) read from the timeline, grouped, and rendered as a table or CSV.

Everything here is pure: incidents and timeline entries in, frozen dataclasses and text out, so each
number can be checked by hand against the timeline.

- start: the incident's first `created` entry (the incident row's `created_at` when there is none).
- MTTA: start -> the FIRST `acknowledged` entry. An incident resolved without one has no MTTA.
- MTTR: start -> the last `resolved` entry. Incidents without one are unresolved: counted apart, never in MTTR.
- MTTD: the alert's `starts_at` -> start, when the incident came from an alert that says when it began.
  A monitoring clock running ahead of ours would make it negative; that counts as 0.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import re
import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Sequence

from bot.incidents.model import Incident, Severity
from bot.store.timeline import TimelineEntry

log = logging.getLogger(__name__)

NONE_LABEL = "(none)"   # the group name for incidents without a service label or playbook
DAY_S = 86_400
BUCKETS = ("week", "day")
DIMENSIONS = ("severity", "service", "playbook", "period")


class PeriodError(ValueError):
    """A report period that is not understood; the message says what is accepted."""


def parse_period(text: str) -> int:
    """Read '7d', '30d', '90d' or '2w' into seconds; raise PeriodError otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*([dw])\s*", text.lower()) if isinstance(text, str) else None
    if match is None:
        raise PeriodError(f"period {text!r} is not understood: use a number of days or weeks, like 7d, 30d, 90d or 2w")
    days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
    if days == 0:
        raise PeriodError(f"period {text!r} is empty: use at least 1d")
    return days * DAY_S


@dataclass(frozen=True)
class Stat:
    """Mean and median of some durations in seconds; both None when there were none (n == 0)."""

    n: int
    mean: float | None
    median: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> "Stat":
        if not values:
            return cls(0, None, None)
        return cls(len(values), statistics.fmean(values), float(statistics.median(values)))


@dataclass(frozen=True)
class Group:
    """The metrics of one group of incidents (one severity, service, playbook or period bucket)."""

    name: str
    count: int
    mtta_s: Stat
    mttr_s: Stat
    mttd_s: Stat
    unresolved: int = 0


@dataclass(frozen=True)
class Measured:
    """One incident's durations in seconds (None when not known) and the names it is grouped under."""

    incident_id: int
    title: str
    severity: str
    service: str
    playbook: str
    bucket: str
    start_ms: int
    tta_s: float | None
    ttr_s: float | None
    ttd_s: float | None


@dataclass(frozen=True)
class Report:
    since_ms: int
    until_ms: int
    bucket: str
    service_label: str
    total: Group
    by_severity: tuple[Group, ...]
    by_service: tuple[Group, ...]
    by_playbook: tuple[Group, ...]
    by_period: tuple[Group, ...]     # every bucket in the period, oldest first, empty ones included
    slowest: tuple[Measured, ...]    # the slowest to resolve, slowest first
    unresolved: tuple[Measured, ...]  # oldest first

    def groups(self, by: str) -> tuple[Group, ...]:
        if by not in DIMENSIONS:
            raise ValueError(f"cannot group by {by!r}: use one of {', '.join(DIMENSIONS)}")
        return getattr(self, f"by_{by}")


def bucket_of(at_ms: int, bucket: str) -> str:
    """The UTC bucket label of a moment: '2026-W48' for a week, '2026-11-23' for a day."""
    day = datetime.fromtimestamp(at_ms / 1000, timezone.utc).date()
    if bucket == "day":
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _bucket_labels(since_ms: int, until_ms: int, bucket: str) -> list[str]:
    step = 1 if bucket == "day" else 7
    day = datetime.fromtimestamp(since_ms / 1000, timezone.utc).date()
    if bucket == "week":
        day -= timedelta(days=day.weekday())
    last = datetime.fromtimestamp((until_ms - 1) / 1000, timezone.utc).date()
    labels = []
    while day <= last:
        labels.append(bucket_of(_ms(day), bucket))
        day += timedelta(days=step)
    return labels


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)


def _alert(incident: Incident) -> dict[str, Any]:
    if not incident.alert:
        return {}
    try:
        data = json.loads(incident.alert)
    except ValueError:
        log.warning("incident %s has an alert that is not JSON; reporting it without one", incident.id)
        return {}
    return data if isinstance(data, dict) else {}


def _alert_start_ms(alert: dict[str, Any]) -> int | None:
    value = alert.get("starts_at")
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def measure(incident: Incident, timeline: Sequence[TimelineEntry], *, bucket: str = "week",
            service_label: str = "service") -> Measured:
    """Read one incident's durations from its timeline."""
    ordered = sorted(timeline, key=lambda e: (e.at, e.id))
    created = next((e.at for e in ordered if e.kind == "created"), incident.created_at)
    acked = next((e.at for e in ordered if e.kind == "acknowledged"), None)
    resolved = next((e.at for e in reversed(ordered) if e.kind == "resolved"), None)
    alert = _alert(incident)
    alert_start = _alert_start_ms(alert)
    labels = alert.get("labels") if isinstance(alert.get("labels"), dict) else {}
    return Measured(
        incident_id=incident.id, title=incident.title, severity=incident.severity.label,
        service=str(labels.get(service_label) or NONE_LABEL), playbook=incident.playbook or NONE_LABEL,
        bucket=bucket_of(created, bucket), start_ms=created,
        tta_s=None if acked is None else (acked - created) / 1000,
        ttr_s=None if resolved is None else (resolved - created) / 1000,
        ttd_s=None if alert_start is None else max(0, created - alert_start) / 1000)


def _group(name: str, members: Sequence[Measured]) -> Group:
    def stat(pick: Callable[[Measured], float | None]) -> Stat:
        return Stat.of([v for v in map(pick, members) if v is not None])
    return Group(name, len(members), stat(lambda m: m.tta_s), stat(lambda m: m.ttr_s), stat(lambda m: m.ttd_s),
                 unresolved=sum(1 for m in members if m.ttr_s is None))


def _groups(measured: Sequence[Measured], key: Callable[[Measured], str], names: Iterable[str]) -> tuple[Group, ...]:
    return tuple(_group(name, [m for m in measured if key(m) == name]) for name in names)


def build_report(incidents: Iterable[Incident], timeline: Iterable[TimelineEntry], *, since_ms: int, until_ms: int,
                 bucket: str = "week", service_label: str = "service", slowest: int = 5) -> Report:
    """Measure the incidents that started in [since_ms, until_ms) and group them every way a report shows."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket {bucket!r} is not one of {', '.join(BUCKETS)}")
    if until_ms <= since_ms:
        raise ValueError("a report period must end after it starts")
    by_incident: dict[int, list[TimelineEntry]] = {}
    for entry in timeline:
        by_incident.setdefault(entry.incident_id, []).append(entry)
    measured = [m for m in (measure(i, by_incident.get(i.id, ()), bucket=bucket, service_label=service_label)
                            for i in incidents)
                if since_ms <= m.start_ms < until_ms]
    measured.sort(key=lambda m: (m.start_ms, m.incident_id))
    severities = [s.label for s in Severity if any(m.severity == s.label for m in measured)]
    resolved = sorted((m for m in measured if m.ttr_s is not None), key=lambda m: (-m.ttr_s, m.incident_id))
    return Report(
        since_ms=since_ms, until_ms=until_ms, bucket=bucket, service_label=service_label,
        total=_group("All", measured),
        by_severity=_groups(measured, lambda m: m.severity, severities),
        by_service=_groups(measured, lambda m: m.service, sorted({m.service for m in measured})),
        by_playbook=_groups(measured, lambda m: m.playbook, sorted({m.playbook for m in measured})),
        by_period=_groups(measured, lambda m: m.bucket, _bucket_labels(since_ms, until_ms, bucket)),
        slowest=tuple(resolved[:max(0, slowest)]),
        unresolved=tuple(m for m in measured if m.ttr_s is None))


def chart_series(report: Report) -> tuple[list[str], list[int], list[float | None]]:
    """The period buckets as chart inputs: labels, incident counts and mean MTTR in minutes (None when unknown)."""
    groups = report.by_period
    return ([g.name for g in groups], [g.count for g in groups],
            [None if g.mttr_s.mean is None else g.mttr_s.mean / 60 for g in groups])


def format_duration(seconds: float | None) -> str:
    """Say a duration compactly: '42s', '7m 05s', '1h 05m', '2d 03h'; '-' when unknown."""
    if seconds is None:
        return "-"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < DAY_S:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // DAY_S}d {s % DAY_S // 3600:02d}h"


def _pair(stat: Stat) -> str:
    return "-" if stat.n == 0 else f"{format_duration(stat.mean)} / {format_duration(stat.median)}"


_HEADINGS = {"severity": "Severity", "service": "Service", "playbook": "Playbook", "period": "Period"}


def report_table(report: Report, by: str = "severity") -> str:
    """A Markdown table of one grouping, with a total row; durations as mean / median."""
    groups = report.groups(by)
    heading = report.service_label.capitalize() if by == "service" else _HEADINGS[by]
    lines = [f"| {heading} | Incidents | Unresolved | MTTA mean / median | MTTR mean / median | MTTD mean / median |",
             "|:--|--:|--:|--:|--:|--:|"]
    for g in (*groups, report.total):
        name = f"**{g.name}**" if g is report.total else g.name.replace("|", "\\|")
        lines.append(f"| {name} | {g.count} | {g.unresolved} | {_pair(g.mtta_s)} | {_pair(g.mttr_s)} | "
                     f"{_pair(g.mttd_s)} |")
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def report_csv(report: Report) -> str:
    """Every grouping as CSV rows (dimension, group, counts, mean and median seconds), the total first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["dimension", "group", "incidents", "unresolved", "mtta_mean_s", "mtta_median_s",
                     "mttr_mean_s", "mttr_median_s", "mttd_mean_s", "mttd_median_s"])
    rows = [("all", report.total)] + [(by, g) for by in DIMENSIONS for g in report.groups(by)]
    for dimension, g in rows:
        writer.writerow([dimension, g.name, g.count, g.unresolved,
                         *(_seconds(v) for s in (g.mtta_s, g.mttr_s, g.mttd_s) for v in (s.mean, s.median))])
    return out.getvalue()
