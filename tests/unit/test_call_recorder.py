"""The batched call-record writer against a real SQLite database."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.calls.recorder import CallRecorder
from control.calls.service import CallEnd, CallStart, get_call, list_calls
from control.store.db import make_engine, migrate, sessions

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
VISITS = [{"branch": "0", "input": "2"}, {"branch": "900", "input": ""}]


def start(call_id: str) -> CallStart:
    return CallStart(call_id, "inbound", "+18005550100", "15551230000", "Ann", "ten_1", T0, T0)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    yield sessions(engine)
    await engine.dispose()


async def test_a_call_that_ends_within_one_batch_is_inserted_whole(db: async_sessionmaker) -> None:
    recorder = CallRecorder(db)
    recorder.started(start("a"))
    recorder.ended("a", CallEnd(16, "Normal Clearing", "platform", VISITS))
    await recorder.flush()
    call = await get_call(db, "a")
    assert (call.hangup_cause, call.hangup_by, call.branch_data) == (16, "platform", VISITS)
    assert call.ended_at is not None and call.caller_name == "Ann"


async def test_the_end_of_an_already_written_call_updates_its_row(db: async_sessionmaker) -> None:
    recorder = CallRecorder(db)
    recorder.started(start("a"))
    recorder.started(start("b"))
    await recorder.flush()
    assert [c.ended_at for c in await list_calls(db)] == [None, None]
    recorder.ended("b", CallEnd(None, None, "caller", VISITS[:1]))
    await recorder.flush()
    assert (await get_call(db, "a")).ended_at is None
    b = await get_call(db, "b")
    assert b.ended_at is not None and b.hangup_by == "caller" and b.branch_data == VISITS[:1]


async def test_a_failed_batch_is_kept_and_written_by_the_next(db: async_sessionmaker) -> None:
    failing = FailingOnce(db)
    recorder = CallRecorder(failing)  # type: ignore[arg-type]
    recorder.started(start("a"))
    with pytest.raises(RuntimeError):
        await recorder.flush()
    recorder.ended("a", CallEnd(16, "Normal Clearing", "platform", VISITS))
    await recorder.flush()
    call = await get_call(db, "a")
    assert call.ended_at is not None and call.branch_data == VISITS


async def test_run_writes_without_being_asked_and_close_writes_the_rest(db: async_sessionmaker) -> None:
    recorder = CallRecorder(db, flush_s=0.01)
    task = asyncio.ensure_future(recorder.run())
    recorder.started(start("a"))
    for _ in range(200):
        if await list_calls(db):
            break
        await asyncio.sleep(0.01)
    assert [c.id for c in await list_calls(db)] == ["a"]
    recorder.ended("a", CallEnd(16, "Normal Clearing", "platform", VISITS))
    await recorder.close()
    task.cancel()
    assert (await get_call(db, "a")).ended_at is not None


class FailingOnce:
    """A sessionmaker whose first transaction fails, as a briefly unreachable database would."""

    def __init__(self, db: async_sessionmaker) -> None:
        self._db = db
        self._failed = False

    def begin(self) -> Any:
        if not self._failed:
            self._failed = True
            raise RuntimeError("database unreachable")
        return self._db.begin()
