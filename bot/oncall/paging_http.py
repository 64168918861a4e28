"""The HTTP edge shared by the paging clients: one aiohttp session, JSON in and out, failures as PagingError."""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.oncall.paging import PagingError

log = logging.getLogger(__name__)


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
