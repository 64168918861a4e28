"""Hand-offs keep their local wall-clock time across daylight-saving changes; gaps and folds follow one rule.

2026 transitions used here: Europe/Berlin springs forward on Sun 29 March (02:00 CET -> 03:00 CEST, 01:00 UTC)
and falls back on Sun 25 October (03:00 CEST -> 02:00 CET, 01:00 UTC); America/New_York springs forward on
Sun 8 March (02:00 EST -> 03:00 EDT, 07:00 UTC) and falls back on Sun 1 November (02:00 EDT -> 01:00 EST, 06:00 UTC).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.oncall.rotations import local_instant, next_on_call, on_call
from tests.oncall.schedule_helpers import BERLIN, NEW_YORK, schedule, utc


def rotation(zone: str, shift: str, handoff: str, start: str, users: str = "[alice, bob, carol]"):
    return schedule(f"""
        schedules:
          - name: r
            timezone: {zone}
            layers:
              - users: {users}
                shift: {shift}
                handoff: "{handoff}"
                start: {start}
    """)


@pytest.mark.parametrize(("wall", "zone", "instant"), [
    (datetime(2026, 1, 5, 9, 0), BERLIN, utc(2026, 1, 5, 8, 0)),           # winter, +01:00
    (datetime(2026, 7, 6, 9, 0), BERLIN, utc(2026, 7, 6, 7, 0)),           # summer, +02:00
    (datetime(2026, 3, 29, 2, 30), BERLIN, utc(2026, 3, 29, 1, 0)),        # in the gap: when the clocks jump
    (datetime(2026, 3, 29, 2, 0), BERLIN, utc(2026, 3, 29, 1, 0)),         # the gap's first minute too
    (datetime(2026, 3, 29, 3, 0), BERLIN, utc(2026, 3, 29, 1, 0)),         # the first valid time after it
    (datetime(2026, 3, 29, 1, 59), BERLIN, utc(2026, 3, 29, 0, 59)),       # just before it, still CET
    (datetime(2026, 10, 25, 2, 30), BERLIN, utc(2026, 10, 25, 0, 30)),     # twice: the first (CEST) one
    (datetime(2026, 10, 25, 3, 0), BERLIN, utc(2026, 10, 25, 2, 0)),       # after the fold, CET
    (datetime(2026, 3, 8, 2, 30), NEW_YORK, utc(2026, 3, 8, 7, 0)),        # New York's gap -> 03:00 EDT
    (datetime(2026, 11, 1, 1, 30), NEW_YORK, utc(2026, 11, 1, 5, 30)),     # New York's fold -> 01:30 EDT
    (datetime(2011, 12, 30, 12, 0), ZoneInfo("Pacific/Apia"), utc(2011, 12, 30, 10, 0)),  # a whole day skipped
])
def test_local_instant_rule(wall, zone, instant):
    assert local_instant(wall, zone) == instant


def test_weekly_hand_off_stays_at_nine_local_across_spring_forward_in_berlin():
    weekly = rotation("Europe/Berlin", "weekly", "mon 09:00", "2026-03-16")
    before = on_call(weekly, utc(2026, 3, 25, 12, 0))           # 16th alice, 23rd bob, 30th carol
    assert before.primary == "bob"
    assert before.until == utc(2026, 3, 30, 7, 0)               # 09:00 CEST, an hour earlier in UTC than 23rd's
    assert on_call(weekly, utc(2026, 3, 23, 8, 0)).primary == "bob"  # 09:00 CET
    assert before.until - utc(2026, 3, 23, 8, 0) == timedelta(hours=167)
    assert on_call(weekly, utc(2026, 3, 30, 6, 59)).primary == "bob"   # 08:59 local
    assert on_call(weekly, utc(2026, 3, 30, 7, 0)).primary == "carol"  # 09:00 local


def test_weekly_hand_off_stays_at_nine_local_across_fall_back_in_berlin():
    weekly = rotation("Europe/Berlin", "weekly", "mon 09:00", "2026-10-19")
    now = on_call(weekly, utc(2026, 10, 22, 12, 0))
    assert now.primary == "alice"
    assert now.until == utc(2026, 10, 26, 8, 0)                 # 09:00 CET
    assert now.until - utc(2026, 10, 19, 7, 0) == timedelta(hours=169)
    assert on_call(weekly, utc(2026, 10, 26, 7, 59)).primary == "alice"
    assert on_call(weekly, utc(2026, 10, 26, 8, 0)).primary == "bob"


def test_daily_shifts_in_new_york_last_23_and_25_hours_on_change_days():
    daily = rotation("America/New_York", "daily", "09:00", "2026-03-07")
    assert on_call(daily, utc(2026, 3, 7, 14, 0)).primary == "alice"   # 09:00 EST
    assert on_call(daily, utc(2026, 3, 7, 14, 0)).until == utc(2026, 3, 8, 13, 0)  # 09:00 EDT: 23 hours later
    assert on_call(daily, utc(2026, 3, 8, 13, 0)).primary == "bob"
    fall = rotation("America/New_York", "daily", "09:00", "2026-10-31")
    assert on_call(fall, utc(2026, 10, 31, 13, 0)).until == utc(2026, 11, 1, 14, 0)  # 09:00 EST: 25 hours later
    assert on_call(fall, utc(2026, 11, 1, 13, 59)).primary == "alice"
    assert on_call(fall, utc(2026, 11, 1, 14, 0)).primary == "bob"


def test_twelve_hour_shifts_keep_their_local_times_across_the_change():
    halves = rotation("America/New_York", "12h", "08:00", "2026-03-07", users="[alice, bob]")
    # 08:00 and 20:00 local each day; the night shift spanning the jump is 11 real hours long.
    assert on_call(halves, utc(2026, 3, 8, 1, 0)).until == utc(2026, 3, 8, 12, 0)    # 20:00 EST -> 08:00 EDT
    assert on_call(halves, utc(2026, 3, 8, 12, 0)).primary == "alice"
    assert on_call(halves, utc(2026, 3, 8, 12, 0)).until == utc(2026, 3, 9, 0, 0)    # 20:00 EDT


def test_hand_off_at_a_time_skipped_by_spring_forward_happens_when_the_clocks_jump():
    daily = rotation("Europe/Berlin", "daily", "02:30", "2026-03-27")
    # 27th alice, 28th bob, 29th carol: carol's shift starts at 03:00 CEST (01:00 UTC), not at 03:30.
    assert on_call(daily, utc(2026, 3, 28, 12, 0)).until == utc(2026, 3, 29, 1, 0)
    assert on_call(daily, utc(2026, 3, 29, 0, 59, 59)).primary == "bob"              # 01:59:59 CET
    assert on_call(daily, utc(2026, 3, 29, 1, 0)).primary == "carol"                 # 03:00 CEST
    assert on_call(daily, utc(2026, 3, 29, 1, 0)).until == utc(2026, 3, 30, 0, 30)   # back to 02:30, now CEST
    assert next_on_call(daily, utc(2026, 3, 29, 12, 0)) == (("alice",), utc(2026, 3, 30, 0, 30))


def test_hand_off_at_a_time_that_happens_twice_uses_the_first_and_does_not_flip_back():
    daily = rotation("Europe/Berlin", "daily", "02:30", "2026-10-23")
    # 23rd alice, 24th bob, 25th carol from the first 02:30 (CEST, 00:30 UTC).
    assert on_call(daily, utc(2026, 10, 25, 0, 29)).primary == "bob"
    assert on_call(daily, utc(2026, 10, 25, 0, 30)).primary == "carol"
    # 01:15 UTC reads 02:15 again (CET), before 02:30 on the wall, but carol's shift has begun and stays.
    assert on_call(daily, utc(2026, 10, 25, 1, 15)).primary == "carol"
    assert on_call(daily, utc(2026, 10, 25, 1, 45)).primary == "carol"               # the second 02:45
    assert on_call(daily, utc(2026, 10, 25, 1, 15)).until == utc(2026, 10, 26, 1, 30)  # 02:30 CET
    assert on_call(daily, utc(2026, 10, 24, 12, 0)).until == utc(2026, 10, 25, 0, 30)


def test_an_hourly_shift_that_falls_into_the_gap_is_skipped():
    hourly = rotation("Europe/Berlin", "1h", "00:00", "2026-03-29")
    # 00:00 alice, 01:00 bob, 02:00 carol (does not exist: starts and ends at 03:00), 03:00 alice.
    assert on_call(hourly, utc(2026, 3, 29, 0, 30)).primary == "bob"
    assert on_call(hourly, utc(2026, 3, 29, 0, 30)).until == utc(2026, 3, 29, 1, 0)
    assert on_call(hourly, utc(2026, 3, 29, 1, 0)).primary == "alice"
    probes = [utc(2026, 3, 29, 0, 0) + timedelta(minutes=m) for m in range(0, 180, 5)]
    assert "carol" not in {on_call(hourly, moment).primary for moment in probes}


def test_an_hourly_shift_in_the_fold_lasts_two_real_hours():
    hourly = rotation("Europe/Berlin", "1h", "00:00", "2026-10-25")
    # 02:00 carol starts at the first 02:00 (00:00 UTC) and ends at 03:00 CET (02:00 UTC).
    assert on_call(hourly, utc(2026, 10, 25, 0, 0)).primary == "carol"
    assert on_call(hourly, utc(2026, 10, 25, 1, 30)).primary == "carol"
    assert on_call(hourly, utc(2026, 10, 25, 0, 0)).until == utc(2026, 10, 25, 2, 0)


def test_override_times_are_local_and_follow_the_same_rule():
    weekly = schedule("""
        schedules:
          - name: primary
            timezone: Europe/Berlin
            layers:
              - users: ["@alice", "@bob", "@carol"]
                shift: weekly
                handoff: "mon 09:00"
                start: 2026-01-05
            overrides:
              - {user: "@dave", from: "2026-03-28 18:00", to: "2026-03-30 09:00"}
              - {user: "@erin", from: "2026-03-29 02:30", to: "2026-03-29 04:00"}
    """)
    (dave, erin) = weekly.overrides
    assert (dave.start, dave.end) == (utc(2026, 3, 28, 17, 0), utc(2026, 3, 30, 7, 0))   # CET then CEST
    assert (erin.start, erin.end) == (utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 2, 0))    # from the jump
    assert on_call(weekly, utc(2026, 3, 29, 0, 59)).primary == "dave"
    assert on_call(weekly, utc(2026, 3, 29, 1, 0)).primary == "erin"
    assert on_call(weekly, utc(2026, 3, 29, 2, 0)).primary == "dave"
    assert on_call(weekly, utc(2026, 3, 30, 7, 0)).primary == "alice"   # week 12 (12 % 3 == 0)


def test_a_year_of_weekly_hand_offs_are_all_at_nine_local():
    weekly = rotation("America/New_York", "weekly", "mon 09:00", "2026-01-05")
    moment = utc(2026, 1, 5, 14, 0)
    for _ in range(52):
        moment = on_call(weekly, moment).until
        assert (moment.astimezone(NEW_YORK).weekday(), moment.astimezone(NEW_YORK).hour) == (0, 9)
