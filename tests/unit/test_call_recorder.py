"""The batched call-record writer against a real SQLite database."""
from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.calls.recorder import CallRecorder
from control.calls.service import CallEnd, CallStart, get_call, list_calls
from control.store.db import make_engine, migrate, sessions
from control.store.models import CallDeadLetter

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
VISITS = [{"branch": "0", "input": "2"}, {"branch": "900", "input": ""}]


def start(call_id: str) -> CallStart:
    return CallStart(call_id, "inbound", "+18005550100", "15551230000", "Ann", "ten_1", T0, T0)


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


# -- nothing is lost: refused rows, over-long fields, a killed process -------------------------
@pytest.fixture(params=["sqlite", "postgres"])
async def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[async_sessionmaker]:
    """The same recorder tests on the embedded SQLite and on a real PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    yield sessions(engine)
    await engine.dispose()


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def dead_letters(db: async_sessionmaker, call_id: str) -> list[CallDeadLetter]:
    async with db() as session:
        return list((await session.scalars(select(CallDeadLetter).where(CallDeadLetter.call_id == call_id))).all())


async def test_a_refused_row_becomes_a_dead_letter_and_the_rest_of_the_batch_lands(any_db: async_sessionmaker) -> None:
    dup, fine, orphan = unique("dup"), unique("fine"), unique("orphan")
    recorder = CallRecorder(any_db)
    recorder.started(start(dup))
    await recorder.flush()
    recorder.started(start(dup))  # the same id again: the database refuses it
    recorder.started(start(fine))
    recorder.ended(orphan, CallEnd(16, "Normal Clearing", "caller", VISITS))  # no row to end
    await recorder.flush()
    assert (await get_call(any_db, fine)).caller_name == "Ann"
    assert recorder.dead_letters == 2
    [letter] = await dead_letters(any_db, dup)
    assert letter.kind == "start" and "IntegrityError" in letter.error and letter.payload["caller_name"] == "Ann"
    [letter] = await dead_letters(any_db, orphan)
    assert letter.kind == "end" and "StaleDataError" in letter.error and letter.payload["branch_data"] == VISITS


async def test_over_long_display_fields_are_cut_with_a_marker_and_the_call_is_recorded(
        any_db: async_sessionmaker) -> None:
    call_id = unique("long")
    recorder = CallRecorder(any_db)
    recorder.started(CallStart(call_id, "inbound", "9" * 300, "5" * 300, "N" * 1000, "ten_1", T0, T0))
    recorder.ended(call_id, CallEnd(16, "x" * 500, "platform", VISITS, reason="r" * 900))
    await recorder.flush()
    call = await get_call(any_db, call_id)
    assert recorder.dead_letters == 0
    assert call.caller_name == "N" * 127 + "~" and call.caller_id == "5" * 63 + "~"
    assert call.number == "9" * 31 + "~" and len(call.hangup_cause_text) == 64 and len(call.reason) == 200


async def test_a_killed_recorder_loses_nothing_the_journal_replays_it(db: async_sessionmaker, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    first = CallRecorder(db, journal)
    first.started(start("written"))
    await first.flush()
    first.ended("written", CallEnd(16, "Normal Clearing", "platform", VISITS))
    first.started(start("pending"))
    first.ended("pending", CallEnd(None, None, "caller", VISITS[:1]))
    # kill -9: no flush, no close; only what write(2) put in the journal survives.
    del first
    assert (await get_call(db, "written")).ended_at is None

    second = CallRecorder(db, journal)
    assert await second.replay() == 3
    written, pending = await get_call(db, "written"), await get_call(db, "pending")
    assert written.branch_data == VISITS and written.hangup_by == "platform"
    assert pending.branch_data == VISITS[:1] and pending.hangup_by == "caller"
    assert second.dead_letters == 0
    assert await CallRecorder(db, journal).replay() == 0, "replayed changes are not replayed twice"


async def test_replay_after_a_commit_the_journal_did_not_see_does_not_duplicate(
        db: async_sessionmaker, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    first = CallRecorder(db, journal)
    first.started(start("a"))
    await first._write(dict(first._new), {})  # committed, then killed before the journal was told
    second = CallRecorder(db, journal)
    assert await second.replay() == 1
    assert second.dead_letters == 0 and len(await list_calls(db)) == 1


async def test_a_dead_letter_the_database_refuses_too_goes_to_the_file(db: async_sessionmaker, tmp_path: Path) -> None:
    recorder = CallRecorder(db, dead_letter_file=tmp_path / "dead.jsonl")
    async with db.begin() as session:
        await session.execute(text("DROP TABLE call_dead_letters"))
    recorder.ended("nobody", CallEnd(16, "Normal Clearing", "caller", VISITS))
    await recorder.flush()
    [line] = (tmp_path / "dead.jsonl").read_text().splitlines()
    assert json.loads(line)["payload"]["id"] == "nobody" and recorder.dead_letters == 1


async def test_a_journal_with_lines_that_are_no_record_change_still_replays(db: async_sessionmaker,
                                                                             tmp_path: Path) -> None:
    """A disk error or a hand edit must not keep the control plane from starting: what cannot
    be read is kept as a dead letter, the rest lands."""
    journal = tmp_path / "journal"
    first = CallRecorder(db, journal)
    first.started(start("good"))
    del first
    segment = next(journal.glob("calls.*.jsonl"))
    with segment.open("ab") as f:
        f.write(b'[1, 2]\n"text"\n{"op": "end"}\n{"op": "start"}\n{"op": "merge", "id": "x"}\n\x00\xff\n')
    second = CallRecorder(db, journal)
    assert await second.replay() == 1
    assert (await get_call(db, "good")).caller_name == "Ann"
    async with db() as session:
        kept = list((await session.scalars(select(CallDeadLetter).order_by(CallDeadLetter.id))).all())
    assert len(kept) == 6 and second.dead_letters == 6
    assert {k.kind for k in kept} == {"journal"} and kept[0].payload["line"] == "[1, 2]"
    assert "not a call record change" in kept[0].error
    assert await CallRecorder(db, journal).replay() == 0
