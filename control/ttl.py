"""What a process remembers for a moment: database reads on the call path (routes, recordings,
transfer policies) kept `ttl_s` each, so a burst of calls reads once, and a change made by any
replica reaches this one within `ttl_s`. Bounded: callers dialling random numbers, or asking
for random recordings, must not grow the table without end."""
from __future__ import annotations

import time
from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_ENTRIES = 10_000
_MISSING = object()


class TtlMap(Generic[K, V]):
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = MAX_ENTRIES) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._max = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K, default: object = _MISSING) -> V | object:
        """The value while it is fresh, else `default` (MISSING unless given)."""
        hit = self._entries.get(key)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        return default

    def put(self, key: K, value: V) -> None:
        now = self._clock()
        if len(self._entries) >= self._max:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self._max:
                self._entries.clear()
        self._entries[key] = (now + self._ttl_s, value)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)


MISSING = _MISSING
