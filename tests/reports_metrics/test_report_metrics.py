"""Report metrics from a seeded timeline: every expected number is worked out by hand in the comments."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from bot.incidents.model import Incident, Severity, Status
from bot.reports.metrics import (Group, PeriodError, Stat, bucket_of, build_report, chart_series, format_duration,
                                 measure, parse_period, report_csv, report_table)
from bot.store.timeline import TimelineEntry


def ms(text: str) -> int:
    """'11-09 10:00' -> that moment in November 2026, UTC, in milliseconds."""
    return int(datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc).timestamp() * 1000)


def iso(text: str) -> str:
    return datetime.fromtimestamp(ms(text) / 1000, timezone.utc).isoformat()


SINCE, UNTIL = ms("11-09 00:00"), ms("11-30 00:00")   # Monday of 2026-W46 .. Monday of 2026-W49: three weeks

# id, severity, created, playbook, service label, alert starts_at ("" = alert without one, None = opened by hand),
# acknowledged, resolved ("" = unresolved).
HISTORY = [
    (1, "sev1", "11-09 10:00", "major", "api", "11-09 09:58", "11-09 10:03", "11-09 11:00"),
    (2, "sev2", "11-10 14:00", "", "api", "11-10 13:55", "11-10 14:10", "11-10 14:40"),
    (3, "sev3", "11-12 08:00", "db-outage", "db", "11-12 08:00", "11-12 08:01", "11-12 09:30"),
    (4, "sev1", "11-17 22:00", "major", "db", "11-17 21:50", "11-17 22:02", "11-18 01:00"),
    (5, "sev2", "11-18 09:00", "", None, None, "11-18 09:05", "11-18 09:35"),
    (6, "sev3", "11-19 12:00", "", "api", "", "", "11-19 12:20"),
    (7, "sev4", "11-20 16:00", "", "web", "11-20 16:01", "11-20 16:30", ""),
    (8, "sev2", "11-24 03:00", "major", "web", "11-24 02:40", "11-24 03:15", "11-24 05:00"),
    (9, "sev1", "11-26 18:00", "major", "api", "11-26 17:59", "11-26 18:01", ""),
    (10, "sev3", "11-27 11:00", "db-outage", "db", "11-27 10:45", "11-27 11:10", "11-27 11:45"),
    # Outside the period: one a minute before it starts, one at the very moment it ends.
    (11, "sev1", "11-08 23:59", "major", "api", "11-08 23:50", "11-09 00:05", "11-09 01:00"),
    (12, "sev1", "11-30 00:00", "major", "api", "11-29 23:50", "11-30 00:05", "11-30 01:00"),
]
# Per incident, in seconds (MTTA = created -> first ack, MTTR = created -> resolved, MTTD = alert start -> created):
#  1: MTTA 180  MTTR 3600   MTTD 120
#  2: MTTA 600  MTTR 2400   MTTD 300   (a second acknowledgement at 14:20 is ignored: the first counts)
#  3: MTTA 60   MTTR 5400   MTTD 0
#  4: MTTA 120  MTTR 10800  MTTD 600
#  5: MTTA 300  MTTR 2100   MTTD -     (opened by hand: no alert)
#  6: MTTA -    MTTR 1200   MTTD -     (resolved without an acknowledgement; alert without starts_at)
#  7: MTTA 1800 MTTR -      MTTD 0     (unresolved; the alert says 16:01, a minute after the incident: clamped)
#  8: MTTA 900  MTTR 7200   MTTD 1200
#  9: MTTA 60   MTTR -      MTTD 60    (unresolved)
# 10: MTTA 600  MTTR 2700   MTTD 900


def alert_json(service: str | None, starts_at: str | None) -> str:
    if starts_at is None:
        return ""
    labels = {"alertname": "HighLatency", "team": "payments" if service == "api" else "storage"}
    if service:
        labels["service"] = service
    return json.dumps({"source": "alertmanager", "fingerprint": "f", "status": "firing", "name": "HighLatency",
                       "severity": "critical", "labels": labels, "starts_at": iso(starts_at) if starts_at else None})


def seeded() -> tuple[list[Incident], list[TimelineEntry]]:
    incidents, timeline = [], []

    def entry(incident_id: int, at: int, kind: str) -> None:
        timeline.append(TimelineEntry(len(timeline) + 1, incident_id, at, kind, "u1", "", {}))

    for number, severity, created, playbook, service, starts, acked, resolved in HISTORY:
        incidents.append(Incident(
            id=number, title=f"Incident {number}", severity=Severity(severity),
            status=Status.RESOLVED if resolved else Status.OPEN, reporter_id="u1", commander_id="u1",
            created_at=ms(created), updated_at=ms(created), playbook=playbook, alert=alert_json(service, starts)))
        if number != 6:   # incident 6 has no `created` entry: its row's created_at is the start
            entry(number, ms(created), "created")
        entry(number, ms(created) + 30_000, "paged")
        if acked:
            entry(number, ms(acked), "acknowledged")
        entry(number, ms(created) + 60_000, "status_update")
        if resolved:
            entry(number, ms(resolved), "resolved")
    entry(2, ms("11-10 14:20"), "acknowledged")
    entry(99, ms("11-10 14:20"), "created")     # an entry for an incident not in the set is ignored
    return incidents, timeline


@pytest.fixture
def report():
    incidents, timeline = seeded()
    return build_report(incidents, timeline, since_ms=SINCE, until_ms=UNTIL, slowest=3)


def test_per_incident_measures_match_the_hand_worked_table():
    incidents, timeline = seeded()
    got = {i.id: measure(i, [e for e in timeline if e.incident_id == i.id]) for i in incidents[:10]}
    assert {n: (m.tta_s, m.ttr_s, m.ttd_s) for n, m in got.items()} == {
        1: (180, 3600, 120), 2: (600, 2400, 300), 3: (60, 5400, 0), 4: (120, 10800, 600), 5: (300, 2100, None),
        6: (None, 1200, None), 7: (1800, None, 0), 8: (900, 7200, 1200), 9: (60, None, 60), 10: (600, 2700, 900)}
    assert got[5].service == "(none)" and got[2].playbook == "(none)" and got[4].bucket == "2026-W47"


def test_totals_leave_out_incidents_outside_the_period_and_unresolved_ones_from_mttr(report):
    # MTTA: 180,600,60,120,300,1800,900,60,600 -> sum 4620 / 9 = 513.33; sorted middle (5th) = 300
    # MTTR: 3600,2400,5400,10800,2100,1200,7200,2700 -> sum 35400 / 8 = 4425; median (2700+3600)/2 = 3150
    # MTTD: 120,300,0,600,0,1200,60,900 -> sum 3180 / 8 = 397.5; median (120+300)/2 = 210
    assert report.total == Group("All", 10, Stat(9, pytest.approx(4620 / 9), 300), Stat(8, 4425, 3150),
                                 Stat(8, 397.5, 210), unresolved=2)
    assert [m.incident_id for m in report.unresolved] == [7, 9]


def test_per_severity(report):
    assert report.by_severity == (
        # 1,4,9: MTTA 180,120,60; MTTR 3600,10800 (9 unresolved); MTTD 120,600,60 -> mean 260, median 120
        Group("SEV1", 3, Stat(3, 120, 120), Stat(2, 7200, 7200), Stat(3, 260, 120), unresolved=1),
        # 2,5,8: MTTA 600,300,900; MTTR 2400,2100,7200 -> mean 3900, median 2400; MTTD 300,1200 (5 by hand)
        Group("SEV2", 3, Stat(3, 600, 600), Stat(3, 3900, 2400), Stat(2, 750, 750), unresolved=0),
        # 3,6,10: MTTA 60,600 (6 none); MTTR 5400,1200,2700 -> mean 3100, median 2700; MTTD 0,900
        Group("SEV3", 3, Stat(2, 330, 330), Stat(3, 3100, 2700), Stat(2, 450, 450), unresolved=0),
        # 7: MTTA 1800; unresolved; MTTD clamped to 0
        Group("SEV4", 1, Stat(1, 1800, 1800), Stat(0, None, None), Stat(1, 0, 0), unresolved=1),
    )


def test_per_service_label(report):
    assert report.by_service == (
        # 5, opened by hand: no alert, so no service
        Group("(none)", 1, Stat(1, 300, 300), Stat(1, 2100, 2100), Stat(0, None, None), unresolved=0),
        # 1,2,6,9: MTTA 180,600,60 -> mean 280, median 180; MTTR 3600,2400,1200; MTTD 120,300,60 -> 160, 120
        Group("api", 4, Stat(3, 280, 180), Stat(3, 2400, 2400), Stat(3, 160, 120), unresolved=1),
        # 3,4,10: MTTA 60,120,600 -> 260, 120; MTTR 5400,10800,2700 -> 6300, 5400; MTTD 0,600,900 -> 500, 600
        Group("db", 3, Stat(3, 260, 120), Stat(3, 6300, 5400), Stat(3, 500, 600), unresolved=0),
        # 7,8: MTTA 1800,900; MTTR 7200 (7 unresolved); MTTD 0,1200
        Group("web", 2, Stat(2, 1350, 1350), Stat(1, 7200, 7200), Stat(2, 600, 600), unresolved=1),
    )


def test_the_service_label_is_configurable():
    incidents, timeline = seeded()
    report = build_report(incidents, timeline, since_ms=SINCE, until_ms=UNTIL, service_label="team")
    # api incidents (1,2,6,9) are team payments; 3,4,7,8,10 storage; 5 has no alert
    assert [(g.name, g.count) for g in report.by_service] == [("(none)", 1), ("payments", 4), ("storage", 5)]
    assert report_table(report, by="service").startswith("| Team |")


def test_per_playbook(report):
    assert report.by_playbook == (
        # 2,5,6,7: MTTA 600,300,1800 -> 900, 600; MTTR 2400,2100,1200 -> 1900, 2100; MTTD 300,0 -> 150
        Group("(none)", 4, Stat(3, 900, 600), Stat(3, 1900, 2100), Stat(2, 150, 150), unresolved=1),
        # 3,10: MTTA 60,600; MTTR 5400,2700; MTTD 0,900
        Group("db-outage", 2, Stat(2, 330, 330), Stat(2, 4050, 4050), Stat(2, 450, 450), unresolved=0),
        # 1,4,8,9: MTTA 180,120,900,60 -> 1260/4 = 315, median (120+180)/2 = 150; MTTR 3600,10800,7200;
        # MTTD 120,600,1200,60 -> 1980/4 = 495, median (120+600)/2 = 360
        Group("major", 4, Stat(4, 315, 150), Stat(3, 7200, 7200), Stat(4, 495, 360), unresolved=1),
    )


def test_per_iso_week(report):
    assert report.by_period == (
        # W46 = 1,2,3: MTTA 180,600,60 -> 280, 180; MTTR 3600,2400,5400 -> 3800, 3600; MTTD 120,300,0 -> 140, 120
        Group("2026-W46", 3, Stat(3, 280, 180), Stat(3, 3800, 3600), Stat(3, 140, 120), unresolved=0),
        # W47 = 4,5,6,7: MTTA 120,300,1800 -> 740, 300; MTTR 10800,2100,1200 -> 4700, 2100; MTTD 600,0 -> 300
        Group("2026-W47", 4, Stat(3, 740, 300), Stat(3, 4700, 2100), Stat(2, 300, 300), unresolved=1),
        # W48 = 8,9,10: MTTA 900,60,600 -> 520, 600; MTTR 7200,2700 -> 4950; MTTD 1200,60,900 -> 720, 900
        Group("2026-W48", 3, Stat(3, 520, 600), Stat(2, 4950, 4950), Stat(3, 720, 900), unresolved=1),
    )
    assert chart_series(report) == (["2026-W46", "2026-W47", "2026-W48"], [3, 4, 3],
                                    [pytest.approx(3800 / 60), pytest.approx(4700 / 60), 82.5])


def test_day_buckets_include_empty_days():
    incidents, timeline = seeded()
    report = build_report(incidents, timeline, since_ms=SINCE, until_ms=ms("11-12 00:00"), bucket="day")
    assert [(g.name, g.count) for g in report.by_period] == [("2026-11-09", 1), ("2026-11-10", 1), ("2026-11-11", 0)]
    assert report.by_period[2].mttr_s == Stat(0, None, None)


def test_iso_week_labels_across_years():
    def at(y, m, d):
        return int(datetime(y, m, d, 12, tzinfo=timezone.utc).timestamp() * 1000)
    assert bucket_of(at(2026, 1, 1), "week") == "2026-W01"
    assert bucket_of(at(2027, 1, 1), "week") == "2026-W53"   # 2026 starts on a Thursday: 53 ISO weeks
    assert bucket_of(at(2024, 12, 30), "week") == "2025-W01"
    assert bucket_of(at(2026, 11, 23), "week") == "2026-W48"
    assert bucket_of(at(2026, 11, 23), "day") == "2026-11-23"


def test_slowest_to_resolve(report):
    # 4: 10800 s, 8: 7200 s, 3: 5400 s; the unresolved 7 and 9 are not candidates
    assert [(m.incident_id, m.ttr_s) for m in report.slowest] == [(4, 10800), (8, 7200), (3, 5400)]


def test_an_alert_that_is_not_json_counts_as_no_alert():
    incident, = [i for i in seeded()[0] if i.id == 1]
    broken = measure(replace(incident, alert="{not json"), [])
    assert (broken.service, broken.ttd_s, broken.tta_s, broken.ttr_s) == ("(none)", None, None, None)


def test_report_arguments_are_checked():
    with pytest.raises(ValueError, match="bucket"):
        build_report([], [], since_ms=SINCE, until_ms=UNTIL, bucket="month")
    with pytest.raises(ValueError, match="end after"):
        build_report([], [], since_ms=UNTIL, until_ms=SINCE)
    with pytest.raises(ValueError, match="group by"):
        report_table(build_report([], [], since_ms=SINCE, until_ms=UNTIL), by="colour")


@pytest.mark.parametrize("text, seconds", [("7d", 7 * 86400), ("30d", 30 * 86400), ("90d", 90 * 86400),
                                           ("2w", 14 * 86400), (" 7D ", 7 * 86400)])
def test_parse_period(text, seconds):
    assert parse_period(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "-7d", "1.5d", "7 days", None])
def test_parse_period_refuses_what_it_cannot_read(text):
    with pytest.raises(PeriodError, match=r"like 7d, 30d, 90d"):
        parse_period(text)


def test_parse_period_refuses_an_empty_period():
    with pytest.raises(PeriodError, match="at least 1d"):
        parse_period("0d")


@pytest.mark.parametrize("seconds, text", [(None, "-"), (0, "0s"), (42, "42s"), (59.6, "1m 00s"), (425, "7m 05s"),
                                           (3900, "1h 05m"), (86399, "23h 59m"), (183600, "2d 03h")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_severity_table(report):
    # All: MTTA 513.3 -> 8m 33s / 300 -> 5m 00s; MTTR 4425 -> 1h 13m / 3150 -> 52m 30s; MTTD 397.5 -> 6m 38s / 3m 30s
    assert report_table(report) == "\n".join([
        "| Severity | Incidents | Unresolved | MTTA mean / median | MTTR mean / median | MTTD mean / median |",
        "|:--|--:|--:|--:|--:|--:|",
        "| SEV1 | 3 | 1 | 2m 00s / 2m 00s | 2h 00m / 2h 00m | 4m 20s / 2m 00s |",
        "| SEV2 | 3 | 0 | 10m 00s / 10m 00s | 1h 05m / 40m 00s | 12m 30s / 12m 30s |",
        "| SEV3 | 3 | 0 | 5m 30s / 5m 30s | 51m 40s / 45m 00s | 7m 30s / 7m 30s |",
        "| SEV4 | 1 | 1 | 30m 00s / 30m 00s | - | 0s / 0s |",
        "| **All** | 10 | 2 | 8m 33s / 5m 00s | 1h 13m / 52m 30s | 6m 38s / 3m 30s |",
    ])


def test_playbook_and_period_tables(report):
    playbooks = report_table(report, by="playbook").splitlines()
    assert playbooks[0].startswith("| Playbook |")
    assert playbooks[4] == "| major | 4 | 1 | 5m 15s / 2m 30s | 2h 00m / 2h 00m | 8m 15s / 6m 00s |"
    assert report_table(report, by="period").splitlines()[3] == \
        "| 2026-W47 | 4 | 1 | 12m 20s / 5m 00s | 1h 18m / 35m 00s | 5m 00s / 5m 00s |"


def test_empty_report_renders():
    report = build_report([], [], since_ms=SINCE, until_ms=UNTIL)
    assert report.total == Group("All", 0, Stat(0, None, None), Stat(0, None, None), Stat(0, None, None))
    assert report_table(report).splitlines()[-1] == "| **All** | 0 | 0 | - | - | - |"
    assert [g.count for g in report.by_period] == [0, 0, 0]


def test_csv(report):
    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    assert rows[0] == {"dimension": "all", "group": "All", "incidents": "10", "unresolved": "2",
                       "mtta_mean_s": "513.3", "mtta_median_s": "300.0", "mttr_mean_s": "4425.0",
                       "mttr_median_s": "3150.0", "mttd_mean_s": "397.5", "mttd_median_s": "210.0"}
    sev4 = next(r for r in rows if r["dimension"] == "severity" and r["group"] == "SEV4")
    assert (sev4["mttr_mean_s"], sev4["mttr_median_s"], sev4["unresolved"]) == ("", "", "1")
    assert [r["dimension"] for r in rows].count("period") == 3
    assert len(rows) == 1 + 4 + 4 + 3 + 3
