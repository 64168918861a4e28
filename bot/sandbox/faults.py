"""Fault injection: make the next n matching requests fail with a given status."""
from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

WEBSOCKET_PATH = "/api/v4/websocket"


@dataclass(frozen=True)
class FaultRule:
    """Fail `count` more requests whose path starts with path_prefix, with `status`."""

    count: int
    status: int
    path_prefix: str


class Faults:
    """The pending fault rule (a list, so the HTTP stats can show it)."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def set(self, count: int, status: int = 503, path_prefix: str = "") -> None:
        """Fail the next `count` requests under path_prefix with `status`, replacing any pending rule (0 clears)."""
        self.rules = [FaultRule(count, status, path_prefix)] if count > 0 else []

    def clear(self) -> None:
        """Drop every pending rule."""
        self.rules.clear()

    def take(self, path: str) -> int | None:
        """Consume one failure for this path and return its status, or None."""
        # the websocket upgrade is not REST: it only fails when a rule's prefix names it explicitly
        for index, rule in enumerate(self.rules):
            if not path.startswith(rule.path_prefix):
                continue
            if path.startswith(WEBSOCKET_PATH) and not rule.path_prefix.startswith(WEBSOCKET_PATH):
                continue
            if rule.count <= 1:
                del self.rules[index]
            else:
                self.rules[index] = FaultRule(rule.count - 1, rule.status, rule.path_prefix)
            return rule.status
        return None

    def pending(self) -> list[dict]:
        """Return the pending rules as JSON."""
        return [{"count": r.count, "status": r.status, "path_prefix": r.path_prefix} for r in self.rules]
