import pytest

from bot.incidents.model import TRANSITIONS, Action, Incident, Severity, Status, TransitionRefused, transition


def incident(status=Status.OPEN, **extra) -> Incident:
    return Incident(id=7, title="DB down", severity=Severity.SEV2, status=status, reporter_id="u1",
                    commander_id="u1", created_at=1000, updated_at=1000, **extra)


def test_acknowledge_records_the_time():
    acked = transition(incident(), Action.ACKNOWLEDGE, at=5000)
    assert acked.status is Status.ACKNOWLEDGED
    assert acked.acknowledged_at == 5000 and acked.updated_at == 5000


def test_resolve_without_ack_keeps_ack_time_empty():
    resolved = transition(incident(), Action.RESOLVE, at=9000)
    assert resolved.status is Status.RESOLVED
    assert resolved.resolved_at == 9000 and resolved.acknowledged_at is None


def test_resolve_after_ack_keeps_both_times():
    acked = transition(incident(), Action.ACKNOWLEDGE, at=2000)
    resolved = transition(acked, Action.RESOLVE, at=3000)
    assert (resolved.acknowledged_at, resolved.resolved_at) == (2000, 3000)


def test_update_keeps_the_status():
    assert transition(incident(Status.ACKNOWLEDGED), Action.UPDATE, at=2).status is Status.ACKNOWLEDGED
    assert transition(incident(), Action.UPDATE, at=2).status is Status.OPEN


@pytest.mark.parametrize("status,action,reason", [
    (Status.ACKNOWLEDGED, Action.ACKNOWLEDGE, "already acknowledged"),
    (Status.RESOLVED, Action.ACKNOWLEDGE, "already resolved"),
    (Status.RESOLVED, Action.UPDATE, "already resolved"),
    (Status.RESOLVED, Action.RESOLVE, "already resolved"),
])
def test_refused_transitions_say_why(status, action, reason):
    with pytest.raises(TransitionRefused, match=reason):
        transition(incident(status), action, at=5)


def test_every_status_action_pair_is_either_allowed_or_refused():
    for status in Status:
        for action in Action:
            if (status, action) in TRANSITIONS:
                assert transition(incident(status), action, at=5).status is TRANSITIONS[(status, action)]
            else:
                with pytest.raises(TransitionRefused):
                    transition(incident(status), action, at=5)


def test_severity_parsing():
    assert Severity.parse("SEV1") is Severity.SEV1
    assert Severity.parse("2") is Severity.SEV2
    assert Severity.parse("sev9") is None
    assert Severity.parse("high") is None
