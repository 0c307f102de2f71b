"""Per-tenant request limits, Voicory's convention: a fixed number of requests a window, told
in `X-RateLimit-Limit/Remaining/Reset` (Reset: the Unix time the window ends) on every
authenticated answer, and `Retry-After` on a 429. Counted per process: N replicas behind a
balancer allow up to N times the limit (README says so)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # Unix time the window ends
    retry_after: int  # seconds, when refused

    def headers(self) -> dict[str, str]:
        found = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                 "X-RateLimit-Reset": str(self.reset_at)}
        if not self.allowed:
            found["Retry-After"] = str(self.retry_after)
        return found


@dataclass
class RateLimiter:
    limit: int  # requests a window, per tenant
    window_s: float = 60.0
    clock: Callable[[], float] = time.time
    _window: float = -1.0  # the start of the window the counts are of
    _counts: dict[str, int] = field(default_factory=dict)

    def take(self, tenant_id: str) -> Verdict:
        now = self.clock()
        start = now - now % self.window_s  # windows aligned to the clock, as on every replica
        if start != self._window:
            self._window, self._counts = start, {}  # a new window: every count was of the last
        count = self._counts.get(tenant_id, 0)
        allowed = count < self.limit
        if allowed:
            count = self._counts[tenant_id] = count + 1
        end = start + self.window_s
        return Verdict(allowed, self.limit, self.limit - count, math.ceil(end), max(1, math.ceil(end - now)))
