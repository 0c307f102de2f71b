"""Call records written in batches, off the calls' own path, and never lost.

Every call writes a row when it starts and fills it in when it ends. One transaction per call
event made the database the control plane's largest cost under load (bench/README.md); the
recorder gathers what happened in the last `flush_s` and writes it in one transaction, so a
call never waits on the database and the cost is per batch. A call that starts and ends within
one batch is inserted whole.

Nothing decided is lost:
- every change is appended to a journal (calls/journal.py) before it is batched, and the
  journal is replayed at start, so a `kill -9` between batches loses nothing;
- a batch the database refuses is retried row by row: rows it takes land, rows it refuses
  (a duplicate id, an end for a call it has no row of, a value it will not store) go to the
  dead-letter table with the reason, or to a file when even that is refused; a database that
  is down keeps the batch for the next try;
- display fields longer than their columns are cut, with a marker, before the database sees them;
  webhook exchanges and variables are bounded the same way (fit_exchanges, fit_variables).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from control.calls.journal import CallJournal
from control.calls.service import CallEnd, CallStart
from control.clock import now
from control.fit import MARK, fit, fit_json
from control.store.models import Call, CallDeadLetter

log = logging.getLogger(__name__)

NOT_ENDED = {"ended_at": None, "hangup_cause": None, "hangup_cause_text": None, "hangup_by": None,
             "branch_data": [], "reason": None, "exchanges": [], "variables": {}}
# Columns a start written by an older version has no value for: one batch inserts many rows,
# and every row must name the same columns.
START_DEFAULTS = {"parent_id": None}
# Errors that belong to one row, not to the database as a whole: retrying will not help.
ROW_REFUSED = (IntegrityError, DataError, StaleDataError)
# Webhook exchanges and variables come from tenants' servers: bounded, so no answer can make a
# row too big to store (PostgreSQL refuses a field over 1 GB, and long before that the batch
# and the journal line would be a burden to every call's record).
MAX_EXCHANGES = 50
MAX_ANSWER_CHARS = 4096  # of JSON text, per exchange's answer
MAX_FIELD_CHARS = 2048  # any other field of an exchange (url, reason...)
MAX_VARIABLES = 200
MAX_VARIABLE_CHARS = 1024


def fit_exchanges(exchanges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most MAX_EXCHANGES: the first and the last ones, which show how a flow began and how
    it ended, with one entry saying how many between were not kept."""
    if len(exchanges) > MAX_EXCHANGES:
        half = (MAX_EXCHANGES - 1) // 2
        skipped = len(exchanges) - 2 * half
        exchanges = [*exchanges[:half], {"reason": f"{skipped} exchanges not kept", "skipped": skipped},
                     *exchanges[-half:]]
    return [{str(k): fit_json(v, MAX_ANSWER_CHARS if k == "answer" else MAX_FIELD_CHARS) for k, v in e.items()}
            for e in exchanges if isinstance(e, dict)]


def fit_variables(variables: dict[str, str]) -> dict[str, str]:
    kept = list(variables.items())[:MAX_VARIABLES]
    out = {fit(str(k), 128): fit(str(v), MAX_VARIABLE_CHARS) for k, v in kept}
    if len(variables) > MAX_VARIABLES:
        out[MARK] = f"{len(variables) - MAX_VARIABLES} more not kept"
    return out


_LIMITS = {col.name: col.type.length for col in Call.__table__.columns
           if getattr(col.type, "length", None) and col.name != "id"}


def _fitted(values: dict[str, Any]) -> dict[str, Any]:
    return {k: fit(v, _LIMITS[k]) if k in _LIMITS else v for k, v in values.items()}


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:500]}" if str(exc) else type(exc).__name__


def _end_values(end: CallEnd) -> dict[str, Any]:
    values = {"ended_at": end.ended_at or now(), "hangup_cause": end.cause, "hangup_cause_text": end.cause_text,
              "hangup_by": end.by, "branch_data": end.branch_data, "reason": end.reason,
              "exchanges": fit_exchanges(end.exchanges), "variables": fit_variables(end.variables)}
    if end.answered_at is not None:
        values["answered_at"] = end.answered_at
    return values


class CallRecorder:
    def __init__(self, db: async_sessionmaker, journal_dir: Path | None = None, flush_s: float = 0.2,
                 dead_letter_file: Path | None = None) -> None:
        self._db = db
        self._flush_s = flush_s
        self._journal = CallJournal(journal_dir) if journal_dir else None
        self._dead_letter_file = dead_letter_file
        self._new: dict[str, dict[str, Any]] = {}
        self._ended: dict[str, dict[str, Any]] = {}
        self._pending = asyncio.Event()
        self._closing = False
        # Batches are written in order: an end must never commit before its call's insert.
        self._writing = asyncio.Lock()
        self.dead_letters = 0
        self.failing_since: float | None = None

    def started(self, start: CallStart) -> None:
        values = _fitted({**start.__dict__, **NOT_ENDED})
        self._note("start", values)
        self._new[start.id] = values
        self._pending.set()

    def ended(self, call_id: str, end: CallEnd) -> None:
        values = _fitted(_end_values(end))
        self._note("end", {"id": call_id, **values})
        self._merge_end(call_id, values)
        self._pending.set()

    def _merge_end(self, call_id: str, values: dict[str, Any]) -> None:
        if call_id in self._new:
            self._new[call_id].update(values)
        else:
            self._ended[call_id] = {"id": call_id, **values}

    def _note(self, op: str, values: dict[str, Any]) -> None:
        if self._journal is not None:
            self._journal.append(op, values)

    async def replay(self) -> int:
        """Write what the journal holds from before a crash; returns how many changes it held.
        Starts the database already has (committed just before the crash) are skipped."""
        if self._journal is None:
            return 0
        entries = list(self._journal.pending())
        for line, why in self._journal.unreadable:
            await self._dead_letter("journal", {"line": line}, f"unreadable journal line: {why}")
        if not entries:
            if self._journal.unreadable:
                self._journal.committed(self._journal.seal())  # kept as dead letters: done with
            return 0
        starts = {e["id"]: e for e in entries if e.get("op") == "start"}
        async with self._db() as session:
            known = set((await session.scalars(select(Call.id).where(Call.id.in_(list(starts))))).all())
        for entry in entries:
            op, values = entry.pop("op", None), entry
            if op == "start" and values["id"] not in known:
                self._new[values["id"]] = {**START_DEFAULTS, **values}
            elif op == "end":
                self._merge_end(values.pop("id"), values)
        log.warning("replaying %d call record changes left in the journal", len(entries))
        await self.flush()
        return len(entries)

    async def run(self) -> None:
        """Write batches until closed; a batch that fails as a whole is kept and tried again."""
        backoff = self._flush_s
        loop = asyncio.get_running_loop()
        while not self._closing:
            await self._pending.wait()
            await asyncio.sleep(backoff)
            try:
                await self.flush()
                backoff, self.failing_since = self._flush_s, None
            except Exception as exc:
                self.failing_since = self.failing_since or loop.time()
                log.error("writing call records failed (%s); keeping them and retrying", exc)
                backoff = min(backoff * 2, 5.0)

    async def close(self) -> None:
        self._closing = True
        self._pending.set()
        try:
            await self.flush()
        finally:
            if self._journal is not None:
                self._journal.close()

    async def flush(self) -> None:
        async with self._writing:
            await self._write_batch()

    async def _write_batch(self) -> None:
        new, ended = self._new, self._ended
        self._new, self._ended = {}, {}
        self._pending.clear()
        if not new and not ended:
            return
        sealed = self._journal.seal() if self._journal else None
        try:
            try:
                await self._write(new, ended)
            except ROW_REFUSED:
                await self._write_rows(new, ended)
        except BaseException:
            # Put the batch back under anything recorded since, so nothing newer is overwritten.
            self._new, self._ended = {**new, **self._new}, {**ended, **self._ended}
            self._pending.set()
            raise
        if self._journal is not None and sealed is not None:
            self._journal.committed(sealed)

    async def _write(self, new: dict[str, dict[str, Any]], ended: dict[str, dict[str, Any]]) -> None:
        async with self._db.begin() as session:
            if new:
                await session.execute(insert(Call), list(new.values()))
            if ended:
                await session.execute(update(Call), list(ended.values()))

    async def _write_rows(self, new: dict[str, dict[str, Any]], ended: dict[str, dict[str, Any]]) -> None:
        """The batch was refused: each row alone, so one bad row does not hold back the rest.
        A database that fails for any other reason raises, and the caller keeps what is left:
        each row is taken out of `new`/`ended` once it has landed or been dead-lettered."""
        for kind, rows in (("start", new), ("end", ended)):
            for call_id, row in list(rows.items()):
                try:
                    await self._write({call_id: row} if kind == "start" else {},
                                      {call_id: row} if kind == "end" else {})
                except ROW_REFUSED as exc:
                    await self._dead_letter(kind, row, _why(exc))
                del rows[call_id]

    async def _dead_letter(self, kind: str, row: dict[str, Any], reason: str) -> None:
        self.dead_letters += 1
        payload = json.loads(json.dumps(row, default=str))
        log.error("call record %s refused by the database (%s); kept as a dead letter", row.get("id"), reason)
        try:
            async with self._db.begin() as session:
                session.add(CallDeadLetter(call_id=str(row.get("id", ""))[:200], kind=kind, payload=payload,
                                           error=reason, created_at=now()))
        except Exception as second:
            log.error("dead-letter table refused it too (%s); writing it to %s", second, self._dead_letter_file)
            self._dead_letter_to_file(kind, payload, reason)

    def _dead_letter_to_file(self, kind: str, payload: dict[str, Any], reason: str) -> None:
        if self._dead_letter_file is None:
            return
        line = json.dumps({"kind": kind, "payload": payload, "error": reason, "at": now().isoformat()})
        fd = os.open(self._dead_letter_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode() + b"\n")
        finally:
            os.close(fd)
