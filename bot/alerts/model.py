"""The normalised Alert that every parser and payload reader produces."""
from __future__ import annotations

import enum
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Mapping

log = logging.getLogger(__name__)

class AlertSource(enum.Enum):
    """Which tool (or which input) an alert came from."""

    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    NAGIOS = "nagios"
    ICINGA = "icinga"
    ZABBIX = "zabbix"
    UPTIME_KUMA = "uptime_kuma"
    GENERIC = "generic"
    JSON = "json"


class AlertStatus(enum.Enum):
    """Whether the problem is happening now or is over."""

    FIRING = "firing"
    RESOLVED = "resolved"


class AlertSeverity(enum.Enum):
    """The normalised severity; the tool's own word is kept in `labels["severity"]`."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Alert:
    """One alert, whatever tool sent it.

    `fingerprint` is stable across the firing and resolved notifications of the same problem: the
    tool's own id when it has one (Alertmanager fingerprint, Zabbix event id), otherwise a hash of
    source, name and identifying labels. `group_key` ties alerts that the tool grouped together.
    `post_id` is the Mattermost post the alert was read from ("" for JSON payloads).
    """

    source: AlertSource
    fingerprint: str
    status: AlertStatus
    name: str
    severity: AlertSeverity = AlertSeverity.WARNING
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    summary: str = ""
    link: str = ""
    group_key: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    post_id: str = ""
    raw_title: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", frozen_mapping(self.labels))
        object.__setattr__(self, "annotations", frozen_mapping(self.annotations))

    @property
    def is_firing(self) -> bool:
        """True while the problem is happening."""
        return self.status is AlertStatus.FIRING


def frozen_mapping(values: Mapping[str, str] | None) -> Mapping[str, str]:
    """Copy a mapping into a read-only one."""
    if isinstance(values, MappingProxyType):
        return values
    return MappingProxyType(dict(values or {}))


_CRITICAL_WORDS = frozenset({
    "critical", "crit", "disaster", "high", "fatal", "emergency", "emerg", "alert", "page", "error",
    "major", "down", "unreachable", "p1", "p2", "sev1", "sev2",
})
_WARNING_WORDS = frozenset({
    "warning", "warn", "average", "medium", "minor", "unknown", "p3", "sev3",
})
_INFO_WORDS = frozenset({
    "info", "information", "informational", "low", "not classified", "notice", "debug", "ok", "up",
    "none", "p4", "p5", "sev4", "sev5",
})


def normalise_severity(raw: str, default: AlertSeverity = AlertSeverity.WARNING) -> AlertSeverity:
    """Map a tool's severity word (Zabbix 'High', Nagios 'CRITICAL', 'P2', ...) to critical/warning/info."""
    word = raw.strip().lower() if isinstance(raw, str) else ""
    if word in _CRITICAL_WORDS:
        return AlertSeverity.CRITICAL
    if word in _WARNING_WORDS:
        return AlertSeverity.WARNING
    if word in _INFO_WORDS:
        return AlertSeverity.INFO
    return default


_IDENTITY_JSON = json.JSONEncoder(ensure_ascii=False)   # what json.dumps(..., ensure_ascii=False) makes each call


def hashed_fingerprint(source: AlertSource, name: str, labels: Mapping[str, str] | None = None) -> str:
    """Hash source, name and identifying labels into a short stable id, for tools without their own."""
    identity = _IDENTITY_JSON.encode([source.value, name, sorted((labels or {}).items())])
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:16]


_FNV64_OFFSET = 14695981039346656037
_FNV64_PRIME = 1099511628211
_MASK64 = (1 << 64) - 1


def prometheus_fingerprint(labels: Mapping[str, str]) -> str:
    """Compute Alertmanager's alert fingerprint: FNV-1a 64 over sorted `name 0xff value 0xff`, as 16 hex digits.

    The same algorithm as prometheus/common model.labelSetToFingerprint, so an alert read from a
    Mattermost post gets the fingerprint the webhook JSON would carry for the same labels.
    """
    value = _FNV64_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8", "surrogatepass") + b"\xff":
                value = ((value ^ byte) * _FNV64_PRIME) & _MASK64
    return f"{value:016x}"


def datetime_from_ms(ms: int) -> datetime | None:
    """Turn Mattermost's milliseconds since the epoch into an aware datetime (None for 0)."""
    if not isinstance(ms, int) or isinstance(ms, bool) or ms <= 0:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
