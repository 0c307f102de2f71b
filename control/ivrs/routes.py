"""Routes for inbound calls, remembered for a moment.

A burst of calls to one number would otherwise read the number and its IVR from the database
and parse the IVR once per call. Each process keeps its own entries for `ttl_s`, so a change
made with the CLI or API (by any replica) reaches new calls within that time: the IVR, and
the tenant's time zone and webhook signing secret, which come with the route (a rotated
secret signs new calls' webhooks within `ttl_s`).
"""
from __future__ import annotations

import time
from typing import Callable

from sqlalchemy.ext.asyncio import async_sessionmaker

from control.ivrs.service import Route, route_for

TTL_S = 2.0
# Callers dialling random numbers must not grow the table without bound.
MAX_ENTRIES = 10_000


class RouteCache:
    def __init__(self, db: async_sessionmaker, ttl_s: float = TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, Route | None]] = {}
        # Parsed IVRs by number, reused while their stored version is unchanged.
        self._held: dict[str, Route] = {}

    async def get(self, dialled: str) -> Route | None:
        now = self._clock()
        hit = self._entries.get(dialled)
        if hit is not None and hit[0] > now:
            return hit[1]
        route = await route_for(self._db, dialled, self._held)
        if len(self._entries) >= MAX_ENTRIES:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
        if route is not None and route.ivr is not None:
            if len(self._held) >= MAX_ENTRIES:
                self._held.clear()
            self._held[route.number] = route
        self._entries[dialled] = (now + self._ttl_s, route)
        return route
