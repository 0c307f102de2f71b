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
from control.ttl import BoundedDict, TtlMap

TTL_S = 2.0


class RouteCache:
    def __init__(self, db: async_sessionmaker, ttl_s: float = TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._entries: TtlMap[str, Route | None] = TtlMap(ttl_s, clock)
        # Parsed IVRs by number, reused while their stored version is unchanged.
        self._held: BoundedDict[str, Route] = BoundedDict()

    async def get(self, dialled: str) -> Route | None:
        return await self._entries.get_or_load(dialled, lambda: self._load(dialled))

    async def _load(self, dialled: str) -> Route | None:
        route = await route_for(self._db, dialled, self._held)
        if route is not None and route.ivr is not None:
            self._held[route.number] = route
        return route
