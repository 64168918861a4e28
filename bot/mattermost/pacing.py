"""Pacing helpers shared by the REST client and the websocket listener: a token bucket and backoff."""
from __future__ import annotations

import asyncio
import random
import time
from typing import Callable


def backoff_delay(attempt: int, initial: float, maximum: float, *, rand: Callable[[], float] = random.random) -> float:
    """Return the wait before retry number `attempt` (0-based): exponential, capped, with jitter.

    Equal jitter: half the exponential delay is kept, the other half is random, so a crowd of
    clients spreads out while none retries immediately.
    """
    delay = min(maximum, initial * (2 ** min(attempt, 30)))
    return delay / 2 + rand() * delay / 2


class TokenBucket:
    """Allow `rate` acquisitions per second on average, with bursts of up to `burst`; waiters queue FIFO."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        """Wait until a token is available and take it."""
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)
