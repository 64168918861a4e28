"""Rotation arithmetic away from DST changes: who is on call, until when, who is next, and overrides."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.oncall.rotations import FOREVER, add_override, next_on_call, on_call
from tests.oncall.schedule_helpers import BERLIN, local, schedule, utc

WEEKLY = """
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - users: ["@alice", "@bob", "@carol"]
        shift: weekly
        handoff: "mon 09:00"
        start: 2026-01-05
"""


def berlin(*parts: int) -> datetime:
    return local(BERLIN, *parts)


@pytest.mark.parametrize(("at", "expected"), [
    (berlin(2026, 1, 5, 9, 0), "alice"),
    (berlin(2026, 1, 8, 23, 0), "alice"),
    (berlin(2026, 1, 12, 8, 59), "alice"),
    (berlin(2026, 1, 12, 9, 0), "bob"),
    (berlin(2026, 1, 19, 9, 0), "carol"),
    (berlin(2026, 1, 26, 9, 0), "alice"),     # wrapped around
    (berlin(2026, 3, 2, 12, 0), "carol"),     # week 8: 8 % 3 == 2
    (berlin(2027, 1, 4, 9, 0), "bob"),        # week 52: 52 % 3 == 1
    (berlin(2027, 1, 4, 8, 59), "alice"),     # week 51
])
def test_weekly_rotation_takes_turns_in_order(at, expected):
    assert on_call(schedule(WEEKLY), at).layers == (expected,)


def test_until_is_the_next_hand_off_and_next_on_call_names_who_takes_over():
    rotation = schedule(WEEKLY)
    now = on_call(rotation, berlin(2026, 1, 7, 15, 0))
    assert now.primary == "alice"
    assert now.until == utc(2026, 1, 12, 8, 0)      # Monday 09:00 in Berlin (CET, +01:00)
    assert next_on_call(rotation, berlin(2026, 1, 7, 15, 0)) == (("bob",), utc(2026, 1, 12, 8, 0))


def test_the_instant_of_a_hand_off_belongs_to_the_new_shift():
    rotation = schedule(WEEKLY)
    assert on_call(rotation, utc(2026, 1, 12, 8, 0)).primary == "bob"
    assert on_call(rotation, utc(2026, 1, 12, 7, 59, 59)).primary == "alice"


def test_the_answer_does_not_depend_on_the_zone_the_question_is_asked_in():
    rotation = schedule(WEEKLY)
    in_berlin = on_call(rotation, berlin(2026, 1, 12, 9, 30))
    in_tokyo = on_call(rotation, berlin(2026, 1, 12, 9, 30).astimezone(ZoneInfo("Asia/Tokyo")))
    in_utc = on_call(rotation, utc(2026, 1, 12, 8, 30))
    assert in_berlin == in_tokyo == in_utc


def test_before_the_first_shift_nobody_is_on_call_until_it_starts():
    now = on_call(schedule(WEEKLY), berlin(2026, 1, 1, 12, 0))
    assert now.layers == (None,) and now.primary is None
    assert now.until == utc(2026, 1, 5, 8, 0)
    assert next_on_call(schedule(WEEKLY), berlin(2026, 1, 1, 12, 0)) == (("alice",), utc(2026, 1, 5, 8, 0))


def test_daily_shift_hands_off_every_day_at_the_same_local_time():
    rotation = schedule("""
        schedules:
          - name: support
            timezone: Europe/Berlin
            layers:
              - users: [alice, bob]
                shift: daily
                handoff: "18:00"
                start: 2026-02-01
    """)
    assert on_call(rotation, berlin(2026, 2, 1, 18, 0)).primary == "alice"
    assert on_call(rotation, berlin(2026, 2, 2, 17, 59)).primary == "alice"
    assert on_call(rotation, berlin(2026, 2, 2, 18, 0)).primary == "bob"
    assert on_call(rotation, berlin(2026, 2, 3, 18, 0)).primary == "alice"
    assert on_call(rotation, berlin(2026, 2, 2, 20, 0)).until == utc(2026, 2, 3, 17, 0)


def test_twelve_hour_shifts_start_at_the_hand_off_time_and_twelve_hours_later():
    rotation = schedule("""
        schedules:
          - name: follow-the-sun
            timezone: Europe/Berlin
            layers:
              - users: [alice, bob, carol]
                shift: 12h
                handoff: "08:00"
                start: 2026-02-02
    """)
    assert [on_call(rotation, berlin(2026, 2, d, h, 0)).primary for d, h in
            [(2, 8), (2, 20), (3, 8), (3, 20), (4, 8)]] == ["alice", "bob", "carol", "alice", "bob"]
    assert on_call(rotation, berlin(2026, 2, 2, 19, 59)).until == berlin(2026, 2, 2, 20, 0)


def test_multi_day_shift():
    rotation = schedule("""
        schedules:
          - name: triage
            timezone: UTC
            layers:
              - users: [alice, bob]
                shift: 3d
                handoff: "00:00"
                start: 2026-02-01
    """)
    assert on_call(rotation, utc(2026, 2, 3, 23, 59)).primary == "alice"
    assert on_call(rotation, utc(2026, 2, 4, 0, 0)).primary == "bob"
    assert on_call(rotation, utc(2026, 2, 7, 0, 0)).primary == "alice"
    assert on_call(rotation, utc(2026, 2, 5, 0, 0)).until == utc(2026, 2, 7, 0, 0)


TWO_LAYERS = """
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - users: ["@alice", "@bob", "@carol"]
        shift: weekly
        handoff: "mon 09:00"
        start: 2026-01-05
      - users: ["@dave", "@erin"]
        shift: daily
        handoff: "09:00"
        start: 2026-01-05
"""


def test_each_layer_rotates_on_its_own_and_until_is_the_first_change_in_any():
    rotation = schedule(TWO_LAYERS)
    assert on_call(rotation, berlin(2026, 1, 5, 10, 0)).layers == ("alice", "dave")
    assert on_call(rotation, berlin(2026, 1, 6, 10, 0)).layers == ("alice", "erin")
    assert on_call(rotation, berlin(2026, 1, 12, 10, 0)).layers == ("bob", "erin")  # day 7: 7 % 2 == 1
    assert on_call(rotation, berlin(2026, 1, 5, 10, 0)).until == berlin(2026, 1, 6, 9, 0)
    assert next_on_call(rotation, berlin(2026, 1, 11, 10, 0)) == (("bob", "erin"), berlin(2026, 1, 12, 9, 0))


def test_override_replaces_the_primary_for_its_window_only():
    rotation = schedule(WEEKLY + """
    overrides:
      - {user: "@dave", from: "2026-01-07 18:00", to: "2026-01-08 09:00"}
""")
    assert on_call(rotation, berlin(2026, 1, 7, 17, 59)).primary == "alice"
    assert on_call(rotation, berlin(2026, 1, 7, 17, 0)).until == berlin(2026, 1, 7, 18, 0)
    during = on_call(rotation, berlin(2026, 1, 7, 18, 0))
    assert during.primary == "dave" and during.until == berlin(2026, 1, 8, 9, 0)
    assert on_call(rotation, berlin(2026, 1, 8, 9, 0)).primary == "alice"


def test_override_can_target_the_secondary_layer():
    rotation = schedule(TWO_LAYERS + """
    overrides:
      - {user: "@frank", from: "2026-01-05 12:00", to: "2026-01-05 14:00", layer: 2}
""")
    assert on_call(rotation, berlin(2026, 1, 5, 13, 0)).layers == ("alice", "frank")
    assert on_call(rotation, berlin(2026, 1, 5, 14, 0)).layers == ("alice", "dave")


def test_overlapping_overrides_the_one_listed_last_wins():
    rotation = schedule(WEEKLY + """
    overrides:
      - {user: "@dave", from: "2026-01-06 10:00", to: "2026-01-06 20:00"}
      - {user: "@erin", from: "2026-01-06 12:00", to: "2026-01-06 14:00"}
""")
    timeline = [(h, on_call(rotation, berlin(2026, 1, 6, h, 0))) for h in (11, 12, 14, 20)]
    assert [(h, now.primary, now.until) for h, now in timeline] == [
        (11, "dave", berlin(2026, 1, 6, 12, 0)),
        (12, "erin", berlin(2026, 1, 6, 14, 0)),
        (14, "dave", berlin(2026, 1, 6, 20, 0)),
        (20, "alice", berlin(2026, 1, 12, 9, 0)),
    ]


def test_until_skips_hand_offs_that_leave_the_same_person_on_call():
    rotation = schedule("""
        schedules:
          - name: pair
            timezone: Europe/Berlin
            layers:
              - users: [alice, bob]
                shift: weekly
                handoff: "mon 09:00"
                start: 2026-01-05
            overrides:
              - {user: alice, from: "2026-01-12 09:00", to: "2026-01-19 09:00"}
    """)
    # alice's own week, then alice covering bob's, then alice's week again: the next change is bob on the 26th.
    assert on_call(rotation, berlin(2026, 1, 7, 12, 0)).until == berlin(2026, 1, 26, 9, 0)
    assert next_on_call(rotation, berlin(2026, 1, 7, 12, 0)) == (("bob",), berlin(2026, 1, 26, 9, 0))


def test_repeated_users_count_as_one_longer_turn():
    rotation = schedule(WEEKLY.replace('["@alice", "@bob", "@carol"]', '["@alice", "@alice", "@bob"]'))
    assert on_call(rotation, berlin(2026, 1, 5, 9, 0)).until == berlin(2026, 1, 19, 9, 0)


def test_a_layer_of_one_never_changes():
    rotation = schedule(WEEKLY.replace('["@alice", "@bob", "@carol"]', '["@alice"]'))
    now = on_call(rotation, berlin(2026, 6, 1, 12, 0))
    assert now == on_call(rotation, berlin(2026, 6, 1, 12, 0))
    assert now.primary == "alice" and now.until == FOREVER
    assert next_on_call(rotation, berlin(2026, 6, 1, 12, 0)) == (("alice",), FOREVER)


def test_add_override_returns_a_new_schedule_and_leaves_the_old_one_alone():
    rotation = schedule(WEEKLY)
    covered = add_override(rotation, "@Dave", berlin(2026, 1, 6, 9, 0), berlin(2026, 1, 6, 17, 0))
    assert on_call(covered, berlin(2026, 1, 6, 10, 0)).primary == "dave"
    assert on_call(rotation, berlin(2026, 1, 6, 10, 0)).primary == "alice"
    assert rotation.overrides == ()


def test_an_added_override_wins_over_the_configured_ones():
    rotation = schedule(WEEKLY + """
    overrides:
      - {user: "@dave", from: "2026-01-06 00:00", to: "2026-01-07 00:00"}
""")
    swapped = add_override(rotation, "erin", berlin(2026, 1, 6, 9, 0), berlin(2026, 1, 6, 12, 0))
    assert on_call(swapped, berlin(2026, 1, 6, 10, 0)).primary == "erin"
    assert on_call(swapped, berlin(2026, 1, 6, 12, 0)).primary == "dave"


@pytest.mark.parametrize(("args", "message"), [
    (("dave", datetime(2026, 1, 6, 9, 0), berlin(2026, 1, 6, 12, 0)), "timezone-aware"),
    (("dave", berlin(2026, 1, 6, 12, 0), berlin(2026, 1, 6, 12, 0)), "must end after it starts"),
    (("not a name!", berlin(2026, 1, 6, 9, 0), berlin(2026, 1, 6, 12, 0)), "not a Mattermost username"),
])
def test_add_override_refuses_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        add_override(schedule(WEEKLY), *args)


def test_add_override_refuses_a_layer_the_schedule_does_not_have():
    with pytest.raises(ValueError, match="no layer 2"):
        add_override(schedule(WEEKLY), "dave", berlin(2026, 1, 6, 9, 0), berlin(2026, 1, 6, 12, 0), layer=2)


def test_on_call_refuses_a_naive_time():
    with pytest.raises(ValueError, match="timezone-aware"):
        on_call(schedule(WEEKLY), datetime(2026, 1, 6, 9, 0))


def test_until_is_always_after_now_across_a_year_of_hourly_probes():
    rotation = schedule(TWO_LAYERS)
    moment = berlin(2026, 1, 1, 0, 30)
    while moment < berlin(2027, 1, 1, 0, 0):
        now = on_call(rotation, moment)
        assert now.until > moment
        assert on_call(rotation, now.until - timedelta(seconds=1)).layers == now.layers
        assert on_call(rotation, now.until).layers != now.layers
        moment += timedelta(hours=7)
