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
from control.ttl import MAX_ENTRIES, MISSING, TtlMap

TTL_S = 2.0


class RouteCache:
    def __init__(self, db: async_sessionmaker, ttl_s: float = TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._entries: TtlMap[str, Route | None] = TtlMap(ttl_s, clock)
        # Parsed IVRs by number, reused while their stored version is unchanged.
        self._held: dict[str, Route] = {}

    async def get(self, dialled: str) -> Route | None:
        hit = self._entries.get(dialled)
        if hit is not MISSING:
            return hit  # type: ignore[return-value]
        route = await route_for(self._db, dialled, self._held)
        if route is not None and route.ivr is not None:
            if len(self._held) >= MAX_ENTRIES:
                self._held.clear()
            self._held[route.number] = route
        self._entries.put(dialled, route)
        return route
