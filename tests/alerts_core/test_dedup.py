"""Alert de-duplication and grouping: repeats, resolution, flaps, windows, waiting, throttling, persistence, size."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.alerts.dedup import AlertBook, BookLimits, Decision, DecisionKind, decide, group_of, recheck
from bot.alerts.model import Alert, AlertSeverity, AlertSource, AlertStatus
from bot.alerts.parsers import default_parsers, recognise
from bot.alerts.payloads import alerts_from_alertmanager_webhook
from bot.alerts.rules import Rule, RuleAction, RuleMatch
from bot.mattermost.events import Post

FIXTURES = Path(__file__).parents[1] / "fixtures" / "alerts"
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC
MINUTE = 60_000
Kind = DecisionKind


def page_rule(**options) -> RuleMatch:
    return RuleMatch(Rule(name="page", action=RuleAction.OPEN_INCIDENT, **options))


def notify_rule(**options) -> RuleMatch:
    return RuleMatch(Rule(name="tell", action=RuleAction.NOTIFY, **options))


def firing(fingerprint: str = "a1", name: str = "DiskFull", **fields) -> Alert:
    labels = fields.pop("labels", {"alertname": name, "instance": fingerprint})
    return Alert(source=AlertSource.ALERTMANAGER, fingerprint=fingerprint, status=AlertStatus.FIRING, name=name,
                 severity=AlertSeverity.CRITICAL, labels=labels, **fields)


def resolved(fingerprint: str = "a1", name: str = "DiskFull", **fields) -> Alert:
    return replace(firing(fingerprint, name, **fields), status=AlertStatus.RESOLVED)


class Run:
    """Feed alerts through `decide` with a fake clock, keeping the book between calls."""

    def __init__(self, book: AlertBook | None = None):
        self.book = book or AlertBook()
        self.now = T0

    def __call__(self, alert: Alert, match: RuleMatch | None, after_ms: int = 0) -> Decision:
        self.now += after_ms
        self.book, decision = decide(self.book, alert, match, self.now)
        return decision

    def recheck(self, alert: Alert, match: RuleMatch, at_ms: int) -> Decision:
        self.now = at_ms
        self.book, decision = recheck(self.book, alert, match, self.now)
        return decision

    def open(self, alert: Alert, match: RuleMatch, incident_id: int) -> Decision:
        decision = self(alert, match)
        assert decision.kind is Kind.OPEN_INCIDENT
        self.book = self.book.with_incident(decision.group_key, incident_id)
        return decision


def test_three_notifications_of_one_alert_open_one_incident_and_count_repeats():
    run, match = Run(), page_rule()
    first = run.open(firing(), match, 42)
    assert (first.group_key, dict(first.group_labels), first.count) == ('page{alertname="DiskFull"}',
                                                                        {"alertname": "DiskFull"}, 1)
    second, third = run(firing(), match, MINUTE), run(firing(), match, MINUTE)
    assert [d.kind for d in (second, third)] == [Kind.REPEAT, Kind.REPEAT]
    assert [d.count for d in (second, third)] == [2, 3]
    assert third.incident_id == 42 and third.firing == 1 and third.total == 1


def test_a_repeat_before_the_incident_is_recorded_is_still_a_repeat():
    run, match = Run(), page_rule()
    assert run(firing(), match).kind is Kind.OPEN_INCIDENT
    assert run(firing(), match, 1000).kind is Kind.REPEAT


def test_a_resolved_alert_reports_whether_the_group_is_all_resolved():
    run, match = Run(), page_rule(resolve_incident=True)
    run.open(firing("a1"), match, 7)
    assert run(firing("a2"), match).kind is Kind.JOIN_INCIDENT
    first = run(resolved("a1"), match, MINUTE)
    assert (first.kind, first.incident_id, first.all_resolved, first.firing) == (Kind.RESOLVED, 7, False, 1)
    assert not first.should_resolve_incident
    last = run(resolved("a2"), match, MINUTE)
    assert (last.kind, last.all_resolved, last.resolve_incident) == (Kind.RESOLVED, True, True)
    assert last.should_resolve_incident
    again = run(resolved("a2"), match, MINUTE)
    assert (again.kind, again.count) == (Kind.REPEAT, 3)


def test_a_rule_without_resolve_incident_leaves_the_incident_open():
    run, match = Run(), page_rule()
    run.open(firing(), match, 7)
    decision = run(resolved(), match)
    assert decision.all_resolved and not decision.resolve_incident and not decision.should_resolve_incident


def test_a_resolved_alert_nobody_tracked():
    decision = Run()(resolved("ghost"), page_rule(resolve_incident=True))
    assert (decision.kind, decision.incident_id, decision.should_resolve_incident) == (Kind.RESOLVED, None, False)
    assert decision.reason == "the alert was not being tracked"


def test_firing_again_while_the_incident_is_open_is_a_flap():
    run, match = Run(), page_rule()
    run.open(firing(), match, 9)
    run(resolved(), match, MINUTE)
    flap = run(firing(), match, MINUTE)
    assert (flap.kind, flap.incident_id, flap.flaps, flap.firing) == (Kind.FLAP, 9, 1, 1)
    run(resolved(), match, MINUTE)
    assert run(firing(), match, MINUTE).flaps == 2
    assert run(firing(), match, MINUTE).kind is Kind.REPEAT


def test_the_group_window_joins_alerts_with_the_same_group_labels():
    run, match = Run(), page_rule(group_by=("alertname", "cluster"), group_by_explicit=True, group_window=300)
    one = run(firing("a1", labels={"alertname": "Down", "cluster": "eu", "instance": "1"}), match)
    two = run(firing("a2", labels={"alertname": "Down", "cluster": "eu", "instance": "2"}), match, MINUTE)
    assert (one.kind, two.kind) == (Kind.OPEN_INCIDENT, Kind.JOIN_INCIDENT)
    assert one.group_key == two.group_key == 'page{alertname="Down",cluster="eu"}'
    assert two.incident_id is None and two.reason == "the group's incident is being opened"
    run.book = run.book.with_incident(one.group_key, 5)
    three = run(firing("a3", labels={"alertname": "Down", "cluster": "eu"}), match, 60 * MINUTE)
    assert (three.kind, three.incident_id, three.total) == (Kind.JOIN_INCIDENT, 5, 3)


def test_a_group_whose_incident_never_got_recorded_opens_again_after_the_window():
    run, match = Run(), page_rule(group_window=300)
    run(firing("a1"), match)
    assert run(firing("a2"), match, 6 * MINUTE).kind is Kind.OPEN_INCIDENT


def test_different_group_labels_open_separate_incidents():
    run, match = Run(), page_rule(group_by=("cluster",), group_by_explicit=True)
    eu = run(firing("a1", labels={"cluster": "eu"}), match)
    us = run(firing("a2", labels={"cluster": "us"}), match)
    other_rule = run(firing("a3", labels={"cluster": "eu"}), RuleMatch(replace(match.rule, name="other")))
    assert [d.kind for d in (eu, us, other_rule)] == [Kind.OPEN_INCIDENT] * 3
    assert len({eu.group_key, us.group_key, other_rule.group_key}) == 3


def test_only_after_waits_then_opens_once_the_time_has_passed():
    run, match = Run(), page_rule(only_after=120)
    wait = run(firing(), match)
    assert (wait.kind, wait.recheck_at_ms) == (Kind.WAIT, T0 + 2 * MINUTE)
    assert run(firing(), match, MINUTE).recheck_at_ms == T0 + 2 * MINUTE, "a repeat does not restart the clock"
    opened = run.recheck(firing(), match, wait.recheck_at_ms)
    assert (opened.kind, opened.count) == (Kind.OPEN_INCIDENT, 2)
    assert run.recheck(firing(), match, T0 + 3 * MINUTE).kind is Kind.IGNORE, "a second re-check does nothing"


def test_only_after_counts_from_the_tools_start_time():
    started = datetime.fromtimestamp((T0 - 5 * MINUTE) / 1000, tz=timezone.utc)
    assert Run()(firing(starts_at=started), page_rule(only_after=120)).kind is Kind.OPEN_INCIDENT


def test_a_repeat_after_only_after_escalates_without_waiting_for_the_recheck():
    run, match = Run(), page_rule(only_after=120)
    run(firing(), match)
    assert run(firing(), match, 3 * MINUTE).kind is Kind.OPEN_INCIDENT


def test_an_alert_that_resolves_while_waiting_opens_nothing():
    run, match = Run(), page_rule(only_after=120)
    wait = run(firing(), match)
    gone = run(resolved(), match, MINUTE)
    assert (gone.kind, gone.incident_id) == (Kind.RESOLVED, None)
    late = run.recheck(firing(), match, wait.recheck_at_ms)
    assert (late.kind, late.reason) == (Kind.IGNORE, "the alert is no longer firing")


def test_throttle_allows_one_incident_per_group_per_window():
    run, match = Run(), page_rule(throttle=3600)
    run.open(firing("a1"), match, 1)
    run.book = run.book.close_incident(1)
    held = run(firing("a2"), match, 10 * MINUTE)
    assert (held.kind, held.throttled_until_ms) == (Kind.THROTTLED, T0 + 60 * MINUTE)
    assert run(firing("a2"), match, 10 * MINUTE).kind is Kind.THROTTLED
    assert run(firing("a2"), match, 45 * MINUTE).kind is Kind.OPEN_INCIDENT


def test_closing_an_incident_lets_a_later_alert_open_a_new_one():
    run, match = Run(), page_rule()
    first = run.open(firing(), match, 1)
    run.book = run.book.close_incident(1)
    assert run.book.groups_for_incident(1) == ()
    second = run(firing(), match, MINUTE)
    assert (second.kind, second.group_key, second.count) == (Kind.OPEN_INCIDENT, first.group_key, 1)
    run.book = run.book.with_incident(second.group_key, 2)
    assert run(firing("a2"), match).incident_id == 2


def test_notify_rules_notify_once_per_alert_and_respect_throttle():
    run, match = Run(), notify_rule()
    assert run(firing("a1"), match).kind is Kind.NOTIFY
    assert run(firing("a1"), match, MINUTE).kind is Kind.REPEAT
    assert run(firing("a2"), match).kind is Kind.NOTIFY
    assert run(resolved("a1"), match).kind is Kind.RESOLVED
    assert run(firing("a1"), match, MINUTE).kind is Kind.NOTIFY, "firing again after resolving: notify again"
    run, match = Run(), notify_rule(throttle=600)
    assert run(firing("a1"), match).kind is Kind.NOTIFY
    assert run(firing("a2"), match, MINUTE).kind is Kind.THROTTLED
    assert run(firing("a2"), match, 10 * MINUTE).kind is Kind.NOTIFY


def test_ignore_and_no_rule_leave_the_book_alone():
    run = Run()
    assert run(firing(), None).kind is Kind.NO_RULE
    assert run(firing(), RuleMatch(Rule(name="drop", action=RuleAction.IGNORE))).kind is Kind.IGNORE
    assert run(resolved(), None).kind is Kind.NO_RULE
    assert run.book == AlertBook()


def test_a_resolved_alert_finds_its_group_when_another_rule_matches_now():
    run, day_rule = Run(), page_rule(resolve_incident=True)
    run.open(firing(), day_rule, 3)
    night_rule = RuleMatch(Rule(name="night", action=RuleAction.NOTIFY))
    for match in (night_rule, None):
        decision = run(resolved(), match)
        assert decision.incident_id == 3 and decision.all_resolved
    assert decision.kind is Kind.REPEAT
    run2 = Run()
    run2.open(firing(), day_rule, 3)
    assert run2(resolved(), None).should_resolve_incident


def test_a_webhook_and_the_slack_post_of_the_same_group_land_in_one_group():
    fire = alerts_from_alertmanager_webhook(json.loads((FIXTURES / "alertmanager_webhook_firing.json").read_text()))
    done = alerts_from_alertmanager_webhook(json.loads((FIXTURES / "alertmanager_webhook_resolved.json").read_text()))
    run, match = Run(), page_rule(resolve_incident=True)
    first, second = (run(a, match) for a in fire)
    assert (first.kind, second.kind) == (Kind.OPEN_INCIDENT, Kind.JOIN_INCIDENT)
    assert first.group_key == 'page{alertname="InstanceDown"}'
    (end,) = (run(a, match, MINUTE) for a in done)
    assert (end.kind, end.all_resolved, end.firing) == (Kind.RESOLVED, False, 1)
    post = recognise(Post.from_json(json.loads((FIXTURES / "alertmanager_slack_firing.json").read_text())),
                     default_parsers()).alerts[0]
    assert run(post, match).kind is Kind.JOIN_INCIDENT
    assert group_of(page_rule(group_by=("instance",), group_by_explicit=True).rule, fire[0])[0] == \
        'page{instance="10.0.0.11:9100"}'


def test_the_book_survives_a_json_round_trip():
    run, match = Run(), page_rule(throttle=600, only_after=60, resolve_incident=True)
    run(firing("w"), match)
    run.recheck(firing("w"), match, T0 + MINUTE)
    run.book = run.book.with_incident('page{alertname="DiskFull"}', "INC-1")
    run(resolved("w"), match)
    run(firing("w"), match, 1000)
    run(firing("n", name="Other"), page_rule(), 1000)
    text = run.book.to_json()
    restored = AlertBook.from_json(text)
    assert restored == run.book and restored.to_json() == text
    later = Run(restored)
    later.now = run.now
    assert later(firing("w"), match, 1000) == run(firing("w"), match, 1000)


@pytest.mark.parametrize("text", ["", "[]", '{"version": 2, "groups": []}', '{"version": 1}',
                                  '{"version": 1, "groups": [{"key": "x"}]}'])
def test_a_broken_saved_book_is_refused(text):
    with pytest.raises(ValueError, match="not a saved alert book"):
        AlertBook.from_json(text)


def test_idle_groups_without_an_incident_are_forgotten_after_the_retention_time():
    run, match = Run(AlertBook(limits=BookLimits(retention_ms=60 * MINUTE))), page_rule()
    run.open(firing("kept", name="Kept"), match, 1)
    run(firing("gone", name="Gone"), notify_rule())
    run(resolved("gone", name="Gone"), notify_rule())
    assert len(run.book.groups) == 2
    run(firing("new", name="New"), notify_rule(), 61 * MINUTE)
    assert sorted(g.rule + ":" + g.labels[0][1] for g in run.book.groups.values()) == ["page:Kept", "tell:New"]


def test_the_number_of_groups_and_alerts_is_capped():
    limits = BookLimits(max_groups=3, max_alerts_per_group=4)
    run, match = Run(AlertBook(limits=limits)), page_rule(group_by=(), group_by_explicit=True)
    run.open(firing("first", name="N0"), page_rule(), 1)
    for i in range(1, 10):
        run(firing(f"f{i}", name=f"N{i}"), notify_rule(), 1000)
        assert len(run.book.groups) <= 3
    assert run.book.groups_for_incident(1), "a group with an open incident is forgotten last"
    for i in range(10):
        run(firing(f"x{i}"), match, 1000)
    (group,) = (g for g in run.book.groups.values() if g.rule == "page" and g.labels == ())
    assert sorted(group.alerts) == ["x6", "x7", "x8", "x9"]


def test_a_thousand_alerts_decide_quickly():
    run, match = Run(), page_rule(group_by=("instance",), group_by_explicit=True)
    for i in range(1000):
        run(firing(f"a{i % 200}", labels={"instance": str(i % 50)}), match, 10)
    assert len(run.book.groups) == 50
