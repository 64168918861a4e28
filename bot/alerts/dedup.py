"""De-duplication and grouping of alerts: a pure state machine from (book, alert, rule match, now) to a decision.

Call `decide` once per (alert, rule match) from `evaluate` (with None when no rule matched). After an
OPEN_INCIDENT decision the caller opens the incident and records it with `book.with_incident`; when an
incident is resolved it calls `book.close_incident`. A WAIT decision asks for `recheck` at `recheck_at_ms`.
"""
from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Mapping

from bot.alerts.model import Alert, AlertStatus
from bot.alerts.rule_model import Rule, RuleAction, RuleMatch, label_value

log = logging.getLogger(__name__)

IncidentId = int | str
BOOK_VERSION = 1
_KEY_JSON = json.JSONEncoder(ensure_ascii=False)   # json.dumps(v, ensure_ascii=False) without a new encoder each call


class DecisionKind(enum.Enum):
    """What the caller should do about one alert."""

    OPEN_INCIDENT = "open_incident"
    JOIN_INCIDENT = "join_incident"
    REPEAT = "repeat"
    RESOLVED = "resolved"
    FLAP = "flap"
    WAIT = "wait"
    THROTTLED = "throttled"
    NOTIFY = "notify"
    IGNORE = "ignore"
    NO_RULE = "no_rule"


class Stage(enum.Enum):
    """How far one alert got: waiting for `only_after`, held back by `throttle`, or escalated."""

    WAITING = "waiting"
    THROTTLED = "throttled"
    ESCALATED = "escalated"


@dataclass(frozen=True)
class AlertEntry:
    """What the book remembers about one alert (by fingerprint) in a group."""

    fingerprint: str
    status: AlertStatus
    stage: Stage
    first_seen_ms: int
    last_seen_ms: int
    firing_since_ms: int
    count: int = 1
    flaps: int = 0


@dataclass(frozen=True)
class Group:
    """One group of alerts (rule name + group labels) and the incident it opened, if any."""

    key: str
    rule: str
    labels: tuple[tuple[str, str], ...] = ()
    incident_id: IncidentId | None = None
    opened_at_ms: int | None = None  # when OPEN_INCIDENT was decided; None once the incident is closed
    throttle_until_ms: int = 0
    updated_ms: int = 0
    resolve_incident: bool = False  # the rule's wish, kept so a resolved alert finds it whatever rule matches then
    alerts: Mapping[str, AlertEntry] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "alerts", MappingProxyType(dict(self.alerts)))

    def pending(self, now_ms: int, window_s: int) -> bool:
        """True while an incident was decided but not yet recorded, within the group window."""
        return self.incident_id is None and self.opened_at_ms is not None and now_ms < self.opened_at_ms + window_s * 1000

    @property
    def firing(self) -> int:
        """How many of the group's alerts are firing."""
        return sum(1 for entry in self.alerts.values() if entry.status is AlertStatus.FIRING)


@dataclass(frozen=True)
class BookLimits:
    """How much the book remembers: idle groups are forgotten after `retention_ms`; sizes are capped."""

    retention_ms: int = 24 * 3600 * 1000
    max_groups: int = 5000
    max_alerts_per_group: int = 500


@dataclass(frozen=True)
class Decision:
    """The outcome for one alert; fields beyond `kind` are filled where they mean something for that kind."""

    kind: DecisionKind
    alert: Alert
    match: RuleMatch | None = None
    group_key: str = ""
    group_labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    incident_id: IncidentId | None = None
    count: int = 0  # notifications seen for this alert's fingerprint, this one included
    flaps: int = 0  # times this alert fired again after resolving while the incident stayed open
    firing: int = 0  # alerts of the group firing after this decision
    total: int = 0  # alerts the group tracks
    recheck_at_ms: int | None = None  # WAIT: when to call `recheck`
    throttled_until_ms: int | None = None  # THROTTLED: when the group may escalate again
    all_resolved: bool = False  # RESOLVED: every alert of the group is resolved
    resolve_incident: bool = False  # RESOLVED: the rule asks that resolved alerts resolve the incident
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "group_labels", MappingProxyType(dict(self.group_labels)))

    @property
    def rule(self) -> Rule | None:
        """The rule behind the decision, if any."""
        return self.match.rule if self.match else None

    @property
    def should_resolve_incident(self) -> bool:
        """True when the caller should resolve the incident now."""
        return (self.kind is DecisionKind.RESOLVED and self.all_resolved and self.resolve_incident
                and self.incident_id is not None)


def group_of(rule: Rule, alert: Alert) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Return the group key and group labels: the rule name plus the values of its group_by labels.

    Labels, not a tool's own group key, so that one alert reaching the bot by two paths (Alertmanager's
    Slack post and its webhook) lands in one group.
    """
    labels = tuple((label, label_value(alert, label) or "") for label in rule.group_by)
    inner = ",".join(f"{label}={_KEY_JSON.encode(value)}" for label, value in labels)
    return f"{rule.name}{{{inner}}}", labels


@dataclass(frozen=True)
class AlertBook:
    """Every group the bot remembers, by group key; each change returns a new book."""

    groups: Mapping[str, Group] = field(default_factory=dict, hash=False)
    limits: BookLimits = BookLimits()

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", MappingProxyType(dict(self.groups)))

    def group(self, key: str) -> Group | None:
        """Return the group with this key, or None."""
        return self.groups.get(key)

    def groups_for_incident(self, incident_id: IncidentId) -> tuple[Group, ...]:
        """Return the groups attached to an incident."""
        return tuple(g for g in self.groups.values() if g.incident_id == incident_id)

    def with_incident(self, group_key: str, incident_id: IncidentId) -> AlertBook:
        """Record the incident the caller opened for a group (creating the group if the book lost it)."""
        group = self.groups.get(group_key) or Group(key=group_key, rule=group_key.split("{")[0].split("@")[0])
        return self._put(replace(group, incident_id=incident_id))

    def close_incident(self, incident_id: IncidentId) -> AlertBook:
        """Forget an incident's alerts so that a later alert opens a new incident (throttling still applies)."""
        groups = dict(self.groups)
        for group in self.groups_for_incident(incident_id):
            groups[group.key] = replace(group, incident_id=None, opened_at_ms=None, alerts={})
        return replace(self, groups=groups)

    def prune(self, now_ms: int, reserve: int = 0) -> AlertBook:
        """Forget idle groups without an incident after the retention time, then enforce the size cap."""
        keep = {k: g for k, g in self.groups.items() if not _expired(g, now_ms, self.limits.retention_ms)}
        excess = len(keep) + reserve - self.limits.max_groups
        if excess > 0:
            by_age = sorted(keep.values(), key=lambda g: (g.incident_id is not None, g.updated_ms))
            for group in by_age[:excess]:
                log.warning("alert book is full: forgetting group %s", group.key)
                del keep[group.key]
        return self if len(keep) == len(self.groups) else replace(self, groups=keep)

    def tracking(self, fingerprint: str) -> Group | None:
        """Return the group that tracks this fingerprint, preferring one where it fires and has an incident."""
        holders = [g for g in self.groups.values() if fingerprint in g.alerts]
        return max(holders, default=None, key=lambda g: (g.alerts[fingerprint].status is AlertStatus.FIRING,
                                                         g.incident_id is not None, g.updated_ms))

    def _put(self, group: Group) -> AlertBook:
        groups = dict(self.groups)
        groups[group.key] = group
        return replace(self, groups=groups)

    def to_json(self) -> str:
        """Serialise the book for storage."""
        return json.dumps({"version": BOOK_VERSION, "groups": [_group_to_json(g) for g in self.groups.values()]},
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, limits: BookLimits = BookLimits()) -> AlertBook:
        """Restore a book saved by `to_json`; raise ValueError when the text is not one."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != BOOK_VERSION:
                raise ValueError(f"expected version {BOOK_VERSION}")
            groups = [_group_from_json(item) for item in data["groups"]]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a saved alert book: {exc}") from None
        return cls(groups={g.key: g for g in groups}, limits=limits)


def _expired(group: Group, now_ms: int, retention_ms: int) -> bool:
    if group.incident_id is not None or now_ms < group.throttle_until_ms:
        return False
    return now_ms - group.updated_ms > retention_ms


def decide(book: AlertBook, alert: Alert, match: RuleMatch | None, now_ms: int) -> tuple[AlertBook, Decision]:
    """Decide what one alert notification means for its group, returning the new book and the decision."""
    # A resolved alert is looked up where it was tracked even if the matching rule changed since it fired
    # (a business-hours rule, say), so `match` may be None or another rule's match for it.
    if not alert.is_firing:
        return _resolved(book, alert, match, now_ms)
    if match is None:
        return book, Decision(DecisionKind.NO_RULE, alert, reason="no rule matched")
    rule = match.rule
    if rule.action is RuleAction.IGNORE:
        return book, Decision(DecisionKind.IGNORE, alert, match, reason=f"rule {rule.name!r} ignores it")
    key, labels = group_of(rule, alert)
    group = book.groups.get(key)
    if group is None:
        book = book.prune(now_ms, reserve=1)
        group = Group(key=key, rule=rule.name, labels=labels, updated_ms=now_ms)
    group = replace(group, resolve_incident=rule.resolve_incident)
    entry = group.alerts.get(alert.fingerprint)
    return _firing(book, group, entry, alert, match, now_ms)


def recheck(book: AlertBook, alert: Alert, match: RuleMatch, now_ms: int) -> tuple[AlertBook, Decision]:
    """Re-examine an alert that got WAIT once its time has come: escalate it if it is still firing."""
    key, _ = group_of(match.rule, alert)
    group = book.groups.get(key)
    entry = group.alerts.get(alert.fingerprint) if group else None
    if group is None or entry is None or entry.status is AlertStatus.RESOLVED:
        return book, Decision(DecisionKind.IGNORE, alert, match, key, reason="the alert is no longer firing")
    if entry.stage is Stage.ESCALATED:
        return book, Decision(DecisionKind.IGNORE, alert, match, key, reason="the alert was already escalated")
    return _escalate(book, group, entry, alert, match, now_ms)


def _firing(book: AlertBook, group: Group, entry: AlertEntry | None, alert: Alert, match: RuleMatch,
            now_ms: int) -> tuple[AlertBook, Decision]:
    rule = match.rule
    incident_open = group.incident_id is not None or group.pending(now_ms, rule.group_window)
    if entry is not None and entry.status is AlertStatus.FIRING:
        entry = replace(entry, last_seen_ms=now_ms, count=entry.count + 1)
        if entry.stage is Stage.ESCALATED and (incident_open or rule.action is RuleAction.NOTIFY):
            group = _with_entry(group, entry, now_ms, book.limits)
            return book._put(group), _decision(DecisionKind.REPEAT, alert, match, group, entry)
        return _escalate(book, group, entry, alert, match, now_ms)
    if entry is not None and entry.stage is Stage.ESCALATED and incident_open:
        entry = replace(entry, status=AlertStatus.FIRING, last_seen_ms=now_ms, firing_since_ms=now_ms,
                        count=entry.count + 1, flaps=entry.flaps + 1)
        group = _with_entry(group, entry, now_ms, book.limits)
        return book._put(group), _decision(DecisionKind.FLAP, alert, match, group, entry)
    since = now_ms
    if alert.starts_at is not None:
        since = min(now_ms, int(alert.starts_at.timestamp() * 1000))
        if entry is not None and since <= entry.last_seen_ms:
            since = now_ms  # the tool's start time belongs to an earlier spell
    entry = AlertEntry(
        fingerprint=alert.fingerprint, status=AlertStatus.FIRING, stage=Stage.WAITING,
        first_seen_ms=entry.first_seen_ms if entry else now_ms, last_seen_ms=now_ms, firing_since_ms=since,
        count=entry.count + 1 if entry else 1, flaps=entry.flaps if entry else 0,
    )
    return _escalate(book, group, entry, alert, match, now_ms)


def _escalate(book: AlertBook, group: Group, entry: AlertEntry, alert: Alert, match: RuleMatch,
              now_ms: int) -> tuple[AlertBook, Decision]:
    """Take a firing alert as far as its rule allows: wait, throttle, notify, join or open."""
    rule = match.rule
    due_ms = entry.firing_since_ms + rule.only_after * 1000
    kind: DecisionKind
    extra: dict[str, Any] = {}
    if now_ms < due_ms:
        kind, stage, extra = DecisionKind.WAIT, Stage.WAITING, {"recheck_at_ms": due_ms}
    elif rule.action is RuleAction.OPEN_INCIDENT and group.incident_id is not None:
        kind, stage = DecisionKind.JOIN_INCIDENT, Stage.ESCALATED
    elif rule.action is RuleAction.OPEN_INCIDENT and group.pending(now_ms, rule.group_window):
        kind, stage = DecisionKind.JOIN_INCIDENT, Stage.ESCALATED
        extra = {"reason": "the group's incident is being opened"}
    elif now_ms < group.throttle_until_ms:
        kind, stage, extra = DecisionKind.THROTTLED, Stage.THROTTLED, {"throttled_until_ms": group.throttle_until_ms}
    elif rule.action is RuleAction.NOTIFY:
        kind, stage = DecisionKind.NOTIFY, Stage.ESCALATED
        group = replace(group, throttle_until_ms=now_ms + rule.throttle * 1000)
    else:
        kind, stage = DecisionKind.OPEN_INCIDENT, Stage.ESCALATED
        group = replace(group, opened_at_ms=now_ms, throttle_until_ms=now_ms + rule.throttle * 1000)
    entry = replace(entry, stage=stage)
    group = _with_entry(group, entry, now_ms, book.limits)
    return book._put(group), _decision(kind, alert, match, group, entry, **extra)


def _resolved(book: AlertBook, alert: Alert, match: RuleMatch | None, now_ms: int) -> tuple[AlertBook, Decision]:
    group = None
    if match is not None and match.rule.action is not RuleAction.IGNORE:
        group = book.groups.get(group_of(match.rule, alert)[0])
    if group is None or alert.fingerprint not in group.alerts:
        group = book.tracking(alert.fingerprint)
    if group is None:
        if match is None:
            return book, Decision(DecisionKind.NO_RULE, alert, reason="no rule matched")
        if match.rule.action is RuleAction.IGNORE:
            return book, Decision(DecisionKind.IGNORE, alert, match, reason=f"rule {match.rule.name!r} ignores it")
        key, labels = group_of(match.rule, alert)
        return book, _decision(DecisionKind.RESOLVED, alert, match, Group(key=key, rule=match.rule.name, labels=labels),
                               None, reason="the alert was not being tracked")
    entry = group.alerts[alert.fingerprint]
    kind = DecisionKind.REPEAT if entry.status is AlertStatus.RESOLVED else DecisionKind.RESOLVED
    entry = replace(entry, status=AlertStatus.RESOLVED, last_seen_ms=now_ms, count=entry.count + 1)
    group = _with_entry(group, entry, now_ms, book.limits)
    return book._put(group), _decision(kind, alert, match, group, entry)


def _with_entry(group: Group, entry: AlertEntry, now_ms: int, limits: BookLimits) -> Group:
    alerts = dict(group.alerts)
    alerts[entry.fingerprint] = entry
    while len(alerts) > limits.max_alerts_per_group:
        oldest = min((e for e in alerts.values() if e.fingerprint != entry.fingerprint),
                     key=lambda e: (e.status is AlertStatus.FIRING, e.last_seen_ms))
        del alerts[oldest.fingerprint]
    return replace(group, alerts=alerts, updated_ms=now_ms)


def _decision(kind: DecisionKind, alert: Alert, match: RuleMatch | None, group: Group, entry: AlertEntry | None,
              **extra: Any) -> Decision:
    firing = group.firing
    return Decision(
        kind=kind, alert=alert, match=match, group_key=group.key, group_labels=dict(group.labels),
        incident_id=group.incident_id, count=entry.count if entry else 0, flaps=entry.flaps if entry else 0,
        firing=firing, total=len(group.alerts), all_resolved=firing == 0,
        resolve_incident=group.resolve_incident, **extra,
    )


def _group_to_json(group: Group) -> dict[str, Any]:
    return {
        "key": group.key, "rule": group.rule, "labels": [list(pair) for pair in group.labels],
        "incident_id": group.incident_id, "opened_at_ms": group.opened_at_ms,
        "throttle_until_ms": group.throttle_until_ms, "updated_ms": group.updated_ms,
        "resolve_incident": group.resolve_incident,
        "alerts": [
            {"fingerprint": e.fingerprint, "status": e.status.value, "stage": e.stage.value,
             "first_seen_ms": e.first_seen_ms, "last_seen_ms": e.last_seen_ms,
             "firing_since_ms": e.firing_since_ms, "count": e.count, "flaps": e.flaps}
            for e in group.alerts.values()
        ],
    }


def _int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer")
    return value


def _group_from_json(item: dict[str, Any]) -> Group:
    incident_id = item["incident_id"]
    if incident_id is not None and (isinstance(incident_id, bool) or not isinstance(incident_id, (int, str))):
        raise ValueError("incident_id must be an integer or a string")
    entries = [
        AlertEntry(
            fingerprint=str(e["fingerprint"]), status=AlertStatus(e["status"]), stage=Stage(e["stage"]),
            first_seen_ms=_int(e["first_seen_ms"], "first_seen_ms"), last_seen_ms=_int(e["last_seen_ms"], "last_seen_ms"),
            firing_since_ms=_int(e["firing_since_ms"], "firing_since_ms"), count=_int(e["count"], "count"),
            flaps=_int(e["flaps"], "flaps"),
        )
        for e in item["alerts"]
    ]
    opened = item["opened_at_ms"]
    return Group(
        key=str(item["key"]), rule=str(item["rule"]), labels=tuple((str(k), str(v)) for k, v in item["labels"]),
        incident_id=incident_id, opened_at_ms=None if opened is None else _int(opened, "opened_at_ms"),
        throttle_until_ms=_int(item["throttle_until_ms"], "throttle_until_ms"),
        updated_ms=_int(item["updated_ms"], "updated_ms"), resolve_incident=item["resolve_incident"] is True,
        alerts={e.fingerprint: e for e in entries},
    )
