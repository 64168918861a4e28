"""One HTTP request for a playbook action, reported as an outcome instead of an exception."""
from __future__ import annotations

import asyncio
import codecs
import errno
import logging
import socket
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
ALLOWED_SCHEMES = frozenset({"http", "https"})
# A UTF-8 character is at most four bytes, so this many bytes always hold `max_body` characters.
_BYTES_PER_CHAR = 4


@dataclass(frozen=True)
class HttpOutcome:
    """What became of one request: the status and the start of the body, or why there was none."""

    ok: bool
    status: int | None
    body_excerpt: str
    elapsed_ms: int
    error: str = ""


async def http_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    timeout: float = 10.0,
    expect: Collection[int] | None = None,
    max_body: int = 4096,
) -> HttpOutcome:
    """Send one request and describe the result; network and HTTP failures come back as `ok=False`."""
    started = time.monotonic()

    def outcome(status: int | None, body: str, error: str) -> HttpOutcome:
        elapsed = int((time.monotonic() - started) * 1000)
        return HttpOutcome(ok=not error, status=status, body_excerpt=body, elapsed_ms=elapsed, error=error)

    problem = _url_problem(url)
    if problem:
        return outcome(None, "", problem)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    try:
        # asyncio.timeout also bounds the body read, which aiohttp's own timeout may not cover.
        async with asyncio.timeout(timeout), aiohttp.ClientSession(timeout=client_timeout) as session:
            async with session.request(
                method.upper(), url, headers=dict(headers or {}), json=json_body,
                allow_redirects=True, max_redirects=MAX_REDIRECTS,
            ) as response:
                raw = await _read_capped(response.content, max_body * _BYTES_PER_CHAR)
                body = raw.decode(_charset(response), errors="replace")[:max_body]
                success = response.status in expect if expect is not None else 200 <= response.status < 300
                return outcome(response.status, body, "" if success else f"HTTP {response.status}")
    except TimeoutError:
        return outcome(None, "", f"timeout after {timeout:g}s")
    except aiohttp.TooManyRedirects:
        return outcome(None, "", f"too many redirects (more than {MAX_REDIRECTS})")
    except aiohttp.RedirectClientError as exc:
        target = exc.args[0] if exc.args else "?"
        return outcome(None, "", f"refused redirect to {target}: only http and https are allowed")
    except aiohttp.ClientSSLError as exc:
        return outcome(None, "", f"TLS error: {exc}")
    except aiohttp.ClientConnectorError as exc:
        return outcome(None, "", _connect_error(exc.os_error, urlsplit(url).hostname or ""))
    except aiohttp.ServerDisconnectedError:
        return outcome(None, "", "server closed the connection without answering")
    except aiohttp.ClientError as exc:
        return outcome(None, "", f"request failed: {exc.__class__.__name__}: {exc}")
    except (OSError, ValueError) as exc:  # a header value aiohttp refuses, a socket error it does not wrap
        return outcome(None, "", f"request failed: {exc}")


def _url_problem(url: str) -> str:
    """Say what is wrong with `url` for an outgoing call, or return ''."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"invalid URL: {exc}"
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return f"unsupported URL scheme {parts.scheme!r}: only http and https are allowed"
    if not parts.hostname:
        return "invalid URL: no host"
    return ""


def _connect_error(error: OSError, host: str) -> str:
    """Describe why a connection could not be made."""
    if isinstance(error, socket.gaierror):
        return f"cannot resolve host {host}"
    # With several addresses (::1 and 127.0.0.1) asyncio folds the refusals into one OSError without errno.
    if error.errno == errno.ECONNREFUSED or f"[Errno {errno.ECONNREFUSED}]" in str(error):
        return "connection refused"
    return f"cannot connect to {host}: {error.strerror or error}"


def _charset(response: aiohttp.ClientResponse) -> str:
    """The charset the response names, if Python knows it, else UTF-8."""
    charset = response.charset or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        return "utf-8"
    return charset


async def _read_capped(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """Read at most `limit` bytes of a body, leaving the rest unread."""
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = await stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
