"""Call records written in batches, off the calls' own path.

Every call writes a row when it starts and fills it in when it ends. One transaction per call
event made the database the control plane's largest cost under load (bench/README.md); the
recorder gathers what happened in the last `flush_s` and writes it in one transaction, so a
call never waits on the database and the cost is per batch. A call that starts and ends within
one batch is inserted whole.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.calls.service import CallEnd, CallStart
from control.clock import now
from control.store.models import Call

log = logging.getLogger(__name__)

NOT_ENDED = {"ended_at": None, "hangup_cause": None, "hangup_cause_text": None, "hangup_by": None,
             "branch_data": []}


def _end_values(end: CallEnd) -> dict[str, Any]:
    return {"ended_at": now(), "hangup_cause": end.cause, "hangup_cause_text": end.cause_text,
            "hangup_by": end.by, "branch_data": end.branch_data}


class CallRecorder:
    def __init__(self, db: async_sessionmaker, flush_s: float = 0.2) -> None:
        self._db = db
        self._flush_s = flush_s
        self._new: dict[str, dict[str, Any]] = {}
        self._ended: dict[str, dict[str, Any]] = {}
        self._pending = asyncio.Event()
        self._closing = False
        # Batches are written in order: an end must never commit before its call's insert.
        self._writing = asyncio.Lock()

    def started(self, start: CallStart) -> None:
        self._new[start.id] = {**start.__dict__, **NOT_ENDED}
        self._pending.set()

    def ended(self, call_id: str, end: CallEnd) -> None:
        values = _end_values(end)
        if call_id in self._new:
            self._new[call_id].update(values)
        else:
            self._ended[call_id] = {"id": call_id, **values}
        self._pending.set()

    async def run(self) -> None:
        """Write batches until closed; a failed batch is kept and tried again."""
        backoff = self._flush_s
        while not self._closing:
            await self._pending.wait()
            await asyncio.sleep(backoff)
            try:
                await self.flush()
                backoff = self._flush_s
            except Exception:
                log.exception("writing call records failed; retrying")
                backoff = min(backoff * 2, 5.0)

    async def close(self) -> None:
        self._closing = True
        self._pending.set()
        await self.flush()

    async def flush(self) -> None:
        async with self._writing:
            await self._write_batch()

    async def _write_batch(self) -> None:
        new, ended = self._new, self._ended
        self._new, self._ended = {}, {}
        self._pending.clear()
        if not new and not ended:
            return
        try:
            async with self._db.begin() as session:
                if new:
                    await session.execute(insert(Call), list(new.values()))
                if ended:
                    await session.execute(update(Call), list(ended.values()))
        except BaseException:
            # Put the batch back under anything recorded since, so nothing newer is overwritten.
            self._new, self._ended = {**new, **self._new}, {**ended, **self._ended}
            self._pending.set()
            raise
