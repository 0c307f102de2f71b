"""Which file plays recording `sort` of a tenant's album, remembered for a moment.

Every play of an album item would otherwise read the database. Each process keeps its own
entries for `ttl_s` (as control/ivrs/routes.py does for routes), so an add or remove made by
any replica reaches new plays within that time; nothing here is state another replica needs.
"""
from __future__ import annotations

import time
from typing import Callable, NamedTuple

from sqlalchemy.ext.asyncio import async_sessionmaker

from control.recordings.service import find_recording
from control.ttl import BoundedDict, TtlMap

TTL_S = 2.0

Key = tuple[str, int, int]  # tenant id, album, sort


class Entry(NamedTuple):
    name: str  # `<id>-<digest>.wav`, the file and URL name
    seconds: float


class RecordingIndex:
    def __init__(self, db: async_sessionmaker, ttl_s: float = TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._entries: TtlMap[Key, Entry | None] = TtlMap(ttl_s, clock)
        # Lengths by file name, for the URIs just resolved. A name is one version of one
        # recording's content, so its length never changes and needs no expiry.
        self._seconds: BoundedDict[str, float] = BoundedDict()

    async def get(self, tenant_id: str, album: int, sort: int) -> Entry | None:
        # A missing one is kept too: asked again, not read again.
        return await self._entries.get_or_load((tenant_id, album, sort), lambda: self._load(tenant_id, album, sort))

    async def _load(self, tenant_id: str, album: int, sort: int) -> Entry | None:
        found = await find_recording(self._db, tenant_id, album, sort)
        if found is None:
            return None
        self._seconds[found.file] = found.seconds
        return Entry(found.file, found.seconds)

    def forget(self, tenant_id: str, album: int, sort: int) -> None:
        """Drop what is remembered for one slot: this process just changed it (the record
        branch adding what the caller said, to play it back at once)."""
        self._entries.forget((tenant_id, album, sort))

    def seconds(self, name: str) -> float | None:
        return self._seconds.get(name)
