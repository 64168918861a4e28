"""Schedule YAML is validated once; every problem names file:line:col and the field, with a hint where one helps."""
from __future__ import annotations

import textwrap
from datetime import datetime, timedelta

import pytest

from bot.oncall.rotations import Layer, Override, load_schedules, schedules_from_document
from bot.problems import ConfigError
from bot.yamlsource import Location, parse_yaml
from tests.oncall.schedule_helpers import utc

GOOD = """\
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:                       # first layer = primary, second = secondary ...
      - users: ["@alice", "@bob", "@carol"]
        shift: weekly             # daily | weekly | a duration like 12h / 3d
        handoff: "mon 09:00"
        start: 2026-01-05
      - users: [dave, "@Erin"]
        shift: 12h
        handoff: "08:00"
        start: "2026-01-05"
    overrides:
      - {user: "@dave", from: "2026-03-28 18:00", to: "2026-03-30 09:00"}
      - {user: "@frank", from: "2026-03-29 08:00", to: "2026-03-29T12:00:00+00:00", layer: 2}
"""


def problems(text: str, prefix: tuple = ("schedules",)) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        schedules_from_document(parse_yaml(textwrap.dedent(text), "oncall.yaml"), prefix)
    return [str(p) for p in caught.value.problems]


def test_the_documented_example_loads():
    (primary,) = schedules_from_document(parse_yaml(GOOD, "oncall.yaml"))
    assert primary.name == "primary" and primary.timezone == "Europe/Berlin"
    assert primary.location == Location("oncall.yaml", 2, 5)
    assert primary.layers == (
        Layer(users=("alice", "bob", "carol"), period=timedelta(days=7), first_handoff=datetime(2026, 1, 5, 9, 0),
              shift="weekly"),
        Layer(users=("dave", "erin"), period=timedelta(hours=12), first_handoff=datetime(2026, 1, 5, 8, 0),
              shift="12h"),
    )
    assert primary.overrides == (
        Override(user="dave", start=utc(2026, 3, 28, 17, 0), end=utc(2026, 3, 30, 7, 0), layer=0),
        Override(user="frank", start=utc(2026, 3, 29, 6, 0), end=utc(2026, 3, 29, 12, 0), layer=1),
    )


def test_a_document_without_schedules_has_none():
    assert schedules_from_document(parse_yaml("mattermost: {}\n", "config.yaml")) == ()
    assert schedules_from_document(parse_yaml("schedules:\n", "config.yaml")) == ()


def test_schedules_can_live_under_another_key_of_the_bot_config():
    doc = parse_yaml("oncall:\n  schedules:\n" + textwrap.indent(GOOD.split("\n", 1)[1], "  "), "config.yaml")
    (primary,) = schedules_from_document(doc, ("oncall", "schedules"))
    assert primary.location == Location("config.yaml", 3, 7)


def test_unknown_keys_are_named_with_a_suggestion():
    assert problems("""\
        schedules:
          - name: primary
            timezon: Europe/Berlin
            layers:
              - users: [alice]
                shfit: weekly
                handoff: "mon 09:00"
                start: 2026-01-05
    """) == [
        "oncall.yaml:2:5: schedules[0]: timezone is required but missing",
        "oncall.yaml:3:5: schedules[0].timezon: unknown key (did you mean 'timezone'?)",
        "oncall.yaml:5:9: schedules[0].layers[0]: shift is required but missing",
        "oncall.yaml:6:9: schedules[0].layers[0].shfit: unknown key (did you mean 'shift'?)",
    ]


def test_every_bad_value_is_reported_at_its_line():
    assert problems("""\
        schedules:
          - name: primary
            timezone: Europe/Berln
            layers:
              - users: []
                shift: fortnightly
                handoff: "mon 9"
                start: soon
    """) == [
        "oncall.yaml:3:5: schedules[0].timezone: 'Europe/Berln' is not a known time zone; "
        "use a name like Europe/Berlin or UTC",
        "oncall.yaml:5:9: schedules[0].layers[0].users: must list at least one user, e.g. [\"@alice\", \"@bob\"]",
        "oncall.yaml:6:9: schedules[0].layers[0].shift: 'fortnightly' is not daily, weekly or a duration "
        "like 12h, 3d or 2w",
        "oncall.yaml:7:9: schedules[0].layers[0].handoff: 'mon 9' is not a hand-off time; "
        "write e.g. \"09:00\" or \"mon 09:00\"",
        "oncall.yaml:8:9: schedules[0].layers[0].start: 'soon' is not a date; write e.g. 2026-01-05",
    ]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("handoff", "9:00", "write the time in quotes, e.g. \"9:00\": unquoted, YAML reads 9:00 as a number"),
    ("handoff", '"25:00"', "'25:00' is not a time of day (00:00 to 23:59)"),
    ("handoff", '"mnday 09:00"', "'mnday' is not a day (mon, tue, wed, thu, fri, sat, sun) (did you mean 'monday'?)"),
    ("shift", "30m", "'30m' is not between 1h and 365d"),
    ("shift", "dayly", "'dayly' is not daily, weekly or a duration like 12h, 3d or 2w (did you mean 'daily'?)"),
    ("shift", "7", "must be daily, weekly or a duration like 12h or 3d, not 7"),
    ("start", "2026-01-05 09:00:00", "must be a date like 2026-01-05; the time of day goes in `handoff`"),
    ("users", '["@alice", "bob smith"]', "item 1: 'bob smith' is not a Mattermost username "
                                         "(letters, digits, . _ -; starting with a letter)"),
])
def test_value_problems(field, value, message):
    layer = {"users": '["@alice"]', "shift": "weekly", "handoff": '"mon 09:00"', "start": "2026-01-05"}
    layer[field] = value
    text = ("schedules:\n  - name: p\n    timezone: UTC\n    layers:\n"
            + "".join(f"      {'-' if i == 0 else ' '} {k}: {v}\n" for i, (k, v) in enumerate(layer.items())))
    line = 5 + list(layer).index(field)
    column = 9  # problems point at the key
    assert problems(text) == [f"oncall.yaml:{line}:{column}: schedules[0].layers[0].{field}: {message}"]


def test_a_day_in_the_hand_off_needs_whole_weeks_and_a_start_on_that_day():
    assert problems("""\
        schedules:
          - name: p
            timezone: UTC
            layers:
              - {users: [alice], shift: daily, handoff: "mon 09:00", start: 2026-01-05}
              - {users: [alice], shift: weekly, handoff: "mon 09:00", start: 2026-01-06}
              - {users: [alice], shift: 2w, handoff: "monday 09:00", start: 2026-01-05}
              - {users: [alice], shift: weekly, handoff: "09:00", start: 2026-01-07}
    """) == [
        "oncall.yaml:5:40: schedules[0].layers[0].handoff: names a day, which only fits a shift of whole weeks, "
        "not 'daily'; write just the time, e.g. \"09:00\"",
        "oncall.yaml:6:63: schedules[0].layers[1].start: 2026-01-06 is a Tuesday, but hand-offs are on Mondays; "
        "start on a hand-off day",
    ]


def test_override_problems():
    assert problems("""\
        schedules:
          - name: p
            timezone: UTC
            layers:
              - {users: [alice], shift: weekly, handoff: "mon 09:00", start: 2026-01-05}
            overrides:
              - {user: "@dave", from: "2026-03-30 09:00", to: "2026-03-28 18:00"}
              - {user: "@dave", from: "2026-03-28 18:00", to: "2026-03-28 18:00"}
              - {user: "@dave", from: "soon", to: "2026-03-28 18:00"}
              - {user: "@dave", from: "2026-03-28 18:00", to: "2026-03-29 18:00", layer: 2}
              - {user: "@dave", from: "2026-03-28 18:00", untill: "2026-03-29 18:00"}
              - {user: "@dave", from: "2026-03-28 18:00", to: "2026-03-29 18:00"}
              - {user: "@erin", from: "2026-03-29 00:00", to: "2026-03-29 12:00"}
    """) == [
        "oncall.yaml:7:51: schedules[0].overrides[0].to: must be after `from` "
        "(2026-03-28 18:00 is not after 2026-03-30 09:00)",
        "oncall.yaml:8:51: schedules[0].overrides[1].to: must be after `from` "
        "(2026-03-28 18:00 is not after 2026-03-28 18:00)",
        "oncall.yaml:9:25: schedules[0].overrides[2].from: 'soon' is not a local date and time; "
        "write e.g. \"2026-03-28 18:00\"",
        "oncall.yaml:10:75: schedules[0].overrides[3].layer: there is no layer 2: this schedule has 1",
        "oncall.yaml:11:9: schedules[0].overrides[4]: to is required but missing",
        "oncall.yaml:11:51: schedules[0].overrides[4].untill: unknown key (known keys: user, from, to, layer)",
    ]


def test_overlapping_overrides_are_allowed():
    (schedule,) = schedules_from_document(parse_yaml(textwrap.dedent("""\
        schedules:
          - name: p
            timezone: UTC
            layers:
              - {users: [alice], shift: weekly, handoff: "mon 09:00", start: 2026-01-05}
            overrides:
              - {user: "@dave", from: "2026-03-28 18:00", to: "2026-03-29 18:00"}
              - {user: "@erin", from: "2026-03-29 00:00", to: "2026-03-29 12:00"}
    """), "oncall.yaml"))
    assert [o.user for o in schedule.overrides] == ["dave", "erin"]


def test_structure_problems():
    assert problems("schedules: {name: p}\n") == [
        "oncall.yaml:1:1: schedules: must be a list of schedules, not a mapping"]
    assert problems("""\
        schedules:
          - name: p
            timezone: UTC
            layers: []
          - just a string
          - name: p
            timezone: UTC
            layers:
              - users: alice
                shift: daily
                handoff: "09:00"
                start: 2026-01-05
          - name: p
            timezone: UTC
            layers:
              - users: bob
                shift: daily
                handoff: "09:00"
                start: 2026-01-05
    """) == [
        "oncall.yaml:4:5: schedules[0].layers: must be a list of at least one layer "
        "(the first is the primary on-call)",
        "oncall.yaml:5:5: schedules[1]: must be a mapping, not str",
        "oncall.yaml:13:5: schedules[3].name: duplicate schedule name 'p' (also schedules[2])",
    ]


def test_load_schedules_reads_a_file_next_to_the_config(tmp_path):
    path = tmp_path / "oncall.yaml"
    path.write_text(GOOD, encoding="utf-8")
    (primary,) = load_schedules(path)
    assert primary.location == Location(str(path), 2, 5)


def test_load_schedules_names_unknown_top_level_keys_and_yaml_errors(tmp_path):
    path = tmp_path / "oncall.yaml"
    path.write_text(GOOD + "schedule: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_schedules(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:16:1: schedule: unknown key (did you mean 'schedules'?)"]
    path.write_text("schedules:\n  - name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_schedules(path)
    assert str(caught.value.problems[0]).startswith(f"{path}:3:1: ")
