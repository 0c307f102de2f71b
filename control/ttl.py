"""What a process remembers for a moment: database reads on the call path (routes, recordings,
transfer policies) kept `ttl_s` each, so a burst of calls reads once, and a change made by any
replica reaches this one within `ttl_s`. Bounded: callers dialling random numbers, or asking
for random recordings, must not grow the table without end."""
from __future__ import annotations

import time
from typing import Awaitable, Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_ENTRIES = 10_000
MISSING = object()  # what get() returns for a key with no fresh value (None may be a value)


class TtlMap(Generic[K, V]):
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = MAX_ENTRIES) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._max = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | object:
        """The value while it is fresh, else MISSING."""
        hit = self._entries.get(key)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        return MISSING

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The value while it is fresh, else what `load()` gives, kept for the next ttl_s."""
        hit = self.get(key)
        if hit is not MISSING:
            return hit  # type: ignore[return-value]
        value = await load()
        self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        now = self._clock()
        if len(self._entries) >= self._max:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self._max:
                self._entries.clear()
        self._entries[key] = (now + self._ttl_s, value)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)


class BoundedDict(dict[K, V]):
    """A dict that starts over once it holds `max_entries` keys: for what a process keeps with
    no expiry (parsed IVRs by number) and rebuilds from the database when it is gone. Grown
    by `d[key] = value` only."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        super().__init__()
        self._max = max_entries

    def __setitem__(self, key: K, value: V) -> None:
        if key not in self and len(self) >= self._max:
            self.clear()
        super().__setitem__(key, value)
