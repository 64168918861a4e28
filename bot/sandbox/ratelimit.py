"""GCRA rate limiting as Mattermost does it (throttled's GCRARateLimiter), keyed by remote address."""
from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimitSettings:
    """RateLimitSettings as in the server config (off by default, 10/s, burst 100)."""

    enabled: bool = False
    per_sec: int = 10
    burst: int = 100
    memory_store_size: int = 10000


@dataclass(frozen=True)
class RateLimitResult:
    """One decision and the values of its X-RateLimit-* headers."""

    limited: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float   # < 0 when not limited

    def headers(self) -> dict[str, str]:
        """Return the headers throttled's setRateLimitHeaders writes."""
        headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                   "X-RateLimit-Reset": str(math.ceil(self.reset_after))}
        if self.retry_after >= 0:
            headers["Retry-After"] = str(math.ceil(self.retry_after))
        return headers


class GcraLimiter:
    """Generic cell rate algorithm with a bounded LRU store of theoretical arrival times (integer ns, as in Go)."""

    def __init__(self, settings: RateLimitSettings, clock: Callable[[], int] = time.monotonic_ns):
        self.settings = settings
        self.clock = clock
        self.emission_interval = 1_000_000_000 // settings.per_sec
        self.limit = settings.burst + 1
        self.tolerance = self.emission_interval * (settings.burst + 1)
        self.tats: OrderedDict[str, int] = OrderedDict()

    def check(self, key: str) -> RateLimitResult:
        """Count one request for key and return whether it is limited."""
        now = self.clock()
        tat = max(self.tats.get(key, now), now)
        new_tat = tat + self.emission_interval
        allow_at = new_tat - self.tolerance
        limited = now < allow_at
        retry_after = -1.0
        if limited:
            retry_after = (allow_at - now) / 1e9
            ttl = tat - now
        else:
            ttl = new_tat - now
            self.tats[key] = new_tat
            self.tats.move_to_end(key)
            while len(self.tats) > self.settings.memory_store_size:
                self.tats.popitem(last=False)
        spare = self.tolerance - ttl
        remaining = int(spare / self.emission_interval) if spare > -self.emission_interval else 0
        return RateLimitResult(limited, self.limit, max(remaining, 0), max(ttl, 0) / 1e9, retry_after)
