"""The incident domain: severities, statuses and the state machine that says which changes are allowed."""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Severity(enum.Enum):
    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"

    @property
    def label(self) -> str:
        return self.value.upper()

    @classmethod
    def parse(cls, text: str) -> "Severity | None":
        """Read 'sev1', 'SEV1' or '1'; None when it is not a severity."""
        word = text.strip().lower()
        if word.isdigit():
            word = f"sev{word}"
        return next((s for s in cls if s.value == word), None)


class Status(enum.Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Action(enum.Enum):
    """A change people make to an incident."""

    ACKNOWLEDGE = "acknowledge"
    UPDATE = "update"
    RESOLVE = "resolve"


# The whole state machine: (status, action) -> new status. Anything not listed is refused.
TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.OPEN, Action.ACKNOWLEDGE): Status.ACKNOWLEDGED,
    (Status.OPEN, Action.UPDATE): Status.OPEN,
    (Status.OPEN, Action.RESOLVE): Status.RESOLVED,
    (Status.ACKNOWLEDGED, Action.UPDATE): Status.ACKNOWLEDGED,
    (Status.ACKNOWLEDGED, Action.RESOLVE): Status.RESOLVED,
}


@dataclass(frozen=True)
class Incident:
    id: int
    title: str
    severity: Severity
    status: Status
    reporter_id: str
    commander_id: str
    created_at: int
    updated_at: int
    acknowledged_at: int | None = None
    resolved_at: int | None = None
    channel_id: str = ""
    channel_name: str = ""
    origin_channel_id: str = ""
    origin_post_id: str = ""
    header_post_id: str = ""
    header_pinned: bool = False
    reporter_invited: bool = False
    link_post_id: str = ""
    setup_done: bool = False
    summary: str = ""
    alert_group: str = ""
    alerts_post_id: str = ""
    playbook: str = ""        # the playbook the incident runs ("" for none)
    alert: str = ""           # the alert that opened it, as JSON ("" when opened by hand)
    roles: str = ""           # who holds which role besides the commander (a RoleBook as JSON)
    update_due_at: int | None = None   # when a status update is due (the playbook's cadence), if ever
    page_level: int = 0                # how many escalation levels have been paged
    page_due_at: int | None = None     # when the next level is paged unless someone acknowledges

    @property
    def key(self) -> str:
        """The human name: INC-42."""
        return f"INC-{self.id}"


class TransitionRefused(Exception):
    """The action is not allowed in the incident's current state; the message says why."""


def _refusal(incident: Incident, action: Action) -> str:
    if incident.status is Status.RESOLVED:
        return f"{incident.key} is already resolved, so it cannot be {_past(action)}."
    if action is Action.ACKNOWLEDGE and incident.status is Status.ACKNOWLEDGED:
        return f"{incident.key} is already acknowledged."
    return f"{incident.key} cannot be {_past(action)} while it is {incident.status.value}."


def _past(action: Action) -> str:
    return {Action.ACKNOWLEDGE: "acknowledged", Action.UPDATE: "updated", Action.RESOLVE: "resolved"}[action]


def transition(incident: Incident, action: Action, at: int) -> Incident:
    """Apply an action; raise TransitionRefused when the state machine does not allow it."""
    new_status = TRANSITIONS.get((incident.status, action))
    if new_status is None:
        raise TransitionRefused(_refusal(incident, action))
    changed = replace(incident, status=new_status, updated_at=at)
    if action is Action.ACKNOWLEDGE:
        changed = replace(changed, acknowledged_at=at)
    if action is Action.RESOLVE:
        changed = replace(changed, resolved_at=at, acknowledged_at=incident.acknowledged_at)
    return changed
