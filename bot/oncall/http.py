"""The HTTP edge shared by the paging clients: one aiohttp session, JSON in and out, one error type."""
from __future__ import annotations

import enum
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, decoded JSON body (or text, or None) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]


class JsonHttp:
    """Sends JSON requests with one lazily opened session; network failures become `error`."""

    def __init__(self, error: type[PagingError], *, timeout: float = 10.0) -> None:
        self._error = error
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, url: str, **kwargs: Any) -> Answer:
        """Send one request and return the answer; raise `error` if none came back."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        host = urlsplit(url).netloc
        try:
            async with self._session.request(method, url, **kwargs) as response:
                text = await response.text(errors="replace")
                status, headers = response.status, response.headers  # case-insensitive
        except TimeoutError:
            raise self._error(f"no answer from {host} within {self._timeout.total:g}s") from None
        except aiohttp.ClientError as exc:
            raise self._error(f"cannot reach {host}: {exc}") from None
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = text
        return Answer(status, body, headers)


def retry_after(answer: Answer) -> float | None:
    """Seconds from a Retry-After header given in seconds, if any."""
    value = answer.headers.get("Retry-After", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def text_of(value: Any, limit: int = 300) -> str:
    """A short, printable rendering of an unexpected body."""
    return (value if isinstance(value, str) else json.dumps(value))[:limit] if value else "no details"
