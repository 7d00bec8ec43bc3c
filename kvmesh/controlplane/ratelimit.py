"""In-process token-bucket rate limits for the login flow (per IP on start/sign-in, per code on exchange)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_TRACKED_KEYS = 10_000


class TokenBucketLimiter:
    """`capacity` requests at once, refilled at `per_second`; `check(key)` = seconds to wait (0: allowed)."""

    def __init__(self, capacity: float, per_second: float, clock: Callable[[], float] = time.monotonic):
        self.capacity = capacity
        self.per_second = per_second
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> int:
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.per_second)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                self._evict_if_full(now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.per_second))

    def _evict_if_full(self, now: float) -> None:
        if len(self._buckets) <= MAX_TRACKED_KEYS:
            return
        full_after = self.capacity / self.per_second
        for key, (_, last) in list(self._buckets.items()):
            if now - last >= full_after:
                del self._buckets[key]
        if len(self._buckets) > MAX_TRACKED_KEYS:  # under a flood: forget the least recently seen half
            by_age = sorted(self._buckets.items(), key=lambda item: item[1][1])
            self._buckets = dict(by_age[len(by_age) // 2 :])


def per_minute(limit: int) -> TokenBucketLimiter:
    return TokenBucketLimiter(capacity=max(1, limit), per_second=max(1, limit) / 60.0)


@dataclass
class RateLimits:
    """The CP's limiters, one set per app instance."""

    login_start: TokenBucketLimiter = field(default_factory=lambda: per_minute(30))
    signin: TokenBucketLimiter = field(default_factory=lambda: per_minute(20))
    exchange: TokenBucketLimiter = field(
        default_factory=lambda: TokenBucketLimiter(capacity=5, per_second=1.0)
    )
