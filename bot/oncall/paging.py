"""What the paging providers have in common: one error type and where a page stands."""
from __future__ import annotations

import enum


class PagingError(Exception):
    """A paging provider refused a request or could not be reached.

    `status` is None when no HTTP answer came back; `message` is the provider's own words where it gave any;
    `retry_after` (seconds) comes from a Retry-After header on 429s.
    """

    provider = "paging provider"

    def __init__(self, message: str, *, status: int | None = None, code: int | str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """True for answers worth trying again later: no answer, 408, 429 and 5xx."""
        return self.status is None or self.status in (408, 429) or self.status >= 500

    def __str__(self) -> str:
        if self.status is None:
            return f"{self.provider}: {self.message}"
        code = f", code {self.code}" if self.code is not None else ""
        return f"{self.provider} answered HTTP {self.status}{code}: {self.message}"


class PageStatus(enum.Enum):
    """Where a page (PagerDuty incident, Opsgenie alert) stands, as far as the provider says."""

    OPEN = "open"                  # triggered, nobody has acknowledged it yet
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"          # closed; it may or may not have been acknowledged first
    MISSING = "missing"            # the provider knows no page by that key (yet: creation is asynchronous)
