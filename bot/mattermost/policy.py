"""How the REST client treats one call: pacing, timeouts, retries, 429 waits and error translation."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import httpx
from mattermostautodriver import exceptions as driver_errors

from bot.mattermost.errors import NO_RESPONSE, MattermostError
from bot.mattermost.pacing import TokenBucket, backoff_delay

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Transport failures where the request cannot have reached the server, so even an unsafe write may be resent.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass
class RestStats:
    """Counters for benchmarks: attempts sent, 429 answers seen, and attempts that were retries."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0


@dataclass(frozen=True)
class RetrySettings:
    """Limits of the retry policy."""

    timeout: float = 10.0
    max_attempts: int = 4
    backoff_initial: float = 0.25
    backoff_max: float = 8.0
    max_rate_limit_retries: int = 10
    max_rate_limit_wait: float = 60.0


class RequestPolicy:
    """Run REST calls with one shared policy: pace writes, honour 429s for everyone, retry what is safe."""

    def __init__(self, settings: RetrySettings, write_bucket: TokenBucket | None) -> None:
        self.settings = settings
        self.stats = RestStats()
        self._bucket = write_bucket
        self._not_before = 0.0

    def hold_back(self, seconds: float) -> None:
        """Make every request of this client wait at least `seconds` from now."""
        self._not_before = max(self._not_before, time.monotonic() + seconds)

    async def _wait_turn(self, method: str) -> None:
        await self._wait_not_before()
        if self._bucket is not None and method in WRITE_METHODS:
            await self._bucket.acquire()
            await self._wait_not_before()

    async def _wait_not_before(self) -> None:
        while (delay := self._not_before - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    async def run(self, method: str, path: str, send: Callable[[], Awaitable[Any]], *, retry_safe: bool) -> Any:
        """Send `send()` until it succeeds or the policy gives up; return the decoded JSON body."""
        # retry_safe: the request may be repeated after a 5xx or a lost answer (reads, idempotent
        # writes, creates the server de-duplicates). A 429 is always retried: the server did nothing.
        failures = 0
        rate_limited = 0
        maybe_applied = False
        s = self.settings
        while True:
            await self._wait_turn(method)
            self.stats.requests += 1
            try:
                async with asyncio.timeout(s.timeout):
                    return _decode(await send())
            except driver_errors.TooManyRequests as exc:
                self.stats.rate_limited += 1
                wait = exc.retry_after
                if wait is None:
                    wait = backoff_delay(rate_limited, s.backoff_initial, s.backoff_max)
                if rate_limited >= s.max_rate_limit_retries or wait > s.max_rate_limit_wait:
                    raise _translate(exc, maybe_applied) from None
                rate_limited += 1
                log.info("429 on %s %s: holding back %.2fs", method, path, wait)
                self.hold_back(wait)
            except (driver_errors.MattermostError, driver_errors.InvalidMattermostError) as exc:
                error = _translate(exc, maybe_applied)
                retryable = error.status >= 500 and error.status != 501 and retry_safe
                failures += 1
                if not retryable or failures >= s.max_attempts:
                    raise error from None
                maybe_applied = True
                delay = backoff_delay(failures - 1, s.backoff_initial, s.backoff_max)
                log.warning("%s %s failed with %s; retry in %.2fs", method, path, error.status, delay)
                await asyncio.sleep(delay)
            except (httpx.TransportError, TimeoutError) as exc:
                failures += 1
                sent = not isinstance(exc, _NOT_SENT)
                if (sent and not retry_safe) or failures >= s.max_attempts:
                    raise MattermostError(
                        NO_RESPONSE, "", f"{method} {path}: {exc!r}", after_retry=maybe_applied
                    ) from exc
                maybe_applied = maybe_applied or sent
                delay = backoff_delay(failures - 1, s.backoff_initial, s.backoff_max)
                log.warning("%s %s got no response (%r); retry in %.2fs", method, path, exc, delay)
                await asyncio.sleep(delay)
            except ValueError as exc:  # a 2xx whose body is not JSON
                raise MattermostError(NO_RESPONSE, "", f"{method} {path}: unreadable response ({exc})") from exc
            self.stats.retries += 1


def _decode(result: Any) -> Any:
    """Return JSON from the driver's answer (it hands back the raw response for other content types)."""
    if isinstance(result, httpx.Response):
        if not result.content:
            return None
        try:
            return result.json()
        except ValueError:
            raise MattermostError(result.status_code, "", "response is not JSON") from None
    return result


def _translate(exc: Exception, after_retry: bool) -> MattermostError:
    """Turn a driver exception into our MattermostError."""
    if isinstance(exc, driver_errors.MattermostError):
        error = MattermostError(exc.status_code, exc.error_id or "", str(exc).strip(), exc.request_id or "")
    elif isinstance(exc, driver_errors.InvalidMattermostError):
        # The driver insists on a request_id in AppError bodies; parse what it could not.
        error = MattermostError.from_body(exc.status_code, str(exc))
    else:  # pragma: no cover - only driver errors reach here
        error = MattermostError(NO_RESPONSE, "", repr(exc))
    error.after_retry = after_retry
    return error
