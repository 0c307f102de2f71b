"""Every path of an inbound call ends in a record and a channel confirmed gone: the real
InboundCalls and CallSession on a real SQLite, with ARI played by hand."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.calls.recorder import CallRecorder
from control.calls.service import get_call
from control.ivrs.service import import_ivr
from control.numbers.service import add_number
from control.store.db import make_engine, migrate, sessions
from control.telephony import call as call_module
from control.telephony.ari_http import AriError
from control.telephony.call import CallSession
from control.telephony.inbound import InboundCalls, InboundLimits
from control.telephony.refusals import record_refusal
from control.tenants.service import create_tenant
from tests.unit.fakes import EchoMedia

IVR = {"branches": {"0": {"type": "menu", "play": [{"type": "sound", "name": "beep"}], "inputs": {"1": "900"},
                          "timeout": 0.5, "retries": 0},
                    "900": {"type": "hangup"}}}


class Ops:
    """ARI by hand: records requests, fails the ones a test says, ends channels on hang-up."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.session: CallSession | None = None
        self.fail: dict[str, list[Exception]] = {}

    def _maybe_fail(self, kind: str) -> None:
        failures = self.fail.get(kind)
        if failures:
            raise failures.pop(0)

    async def answer(self, channel_id: str) -> None:
        self.requests.append(("answer", channel_id))
        self._maybe_fail("answer")

    async def play(self, channel_id: str, media: Sequence[str], playback_id: str) -> None:
        self.requests.append(("play", playback_id))
        self._maybe_fail("play")

    async def stop_playback(self, playback_id: str) -> None:
        self.requests.append(("stop", playback_id))

    async def playback_state(self, playback_id: str) -> str | None:
        self.requests.append(("playback?", playback_id))
        return None

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.requests.append(("hangup", reason))
        self._maybe_fail("hangup")
        assert self.session is not None
        self.session.feed({"type": "StasisEnd", "channel": {"id": channel_id}})


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    database = sessions(engine)
    tenant = await create_tenant(database, "t")
    await add_number(database, "+18005550100", tenant.id)
    await import_ivr(database, "+18005550100", IVR)
    yield database
    await engine.dispose()


def new_call(ops: Ops, dialled: str = "8005550100", args: list[str] | None = None) -> CallSession:
    session = CallSession(ops, {"id": "c1", "dialplan": {"exten": dialled},
                                "caller": {"number": "15551230000", "name": "Ann"}}, args or ["inbound"])
    ops.session = session
    return session


async def run_call(db: Any, session: CallSession, **kwargs: Any) -> Any:
    recorder = CallRecorder(db)
    inbound = InboundCalls(db, EchoMedia(), recorder, "n1", **kwargs)
    await asyncio.wait_for(inbound.handle(session), 30)
    await recorder.flush()
    return await get_call(db if not isinstance(db, BrokenDb) else db.real, "c1")


class BrokenDb:
    """A database that refuses every read (routing) but lets the recorder write."""

    def __init__(self, real: async_sessionmaker) -> None:
        self.real = real

    def __call__(self) -> Any:
        raise OperationalError("SELECT", {}, Exception("database is down"))

    def begin(self) -> Any:
        return self.real.begin()


async def test_a_database_error_while_routing_refuses_with_503_and_is_recorded(db: async_sessionmaker) -> None:
    ops = Ops()
    record = await run_call(BrokenDb(db), new_call(ops))
    assert ("hangup", "congestion") in ops.requests and ("answer", "c1") not in ops.requests
    assert record.hangup_cause == 34 and record.hangup_by == "platform"
    assert record.reason.startswith("platform error: OperationalError") and record.node == "n1"


async def test_a_failed_answer_is_recorded_with_why(db: async_sessionmaker) -> None:
    ops = Ops()
    ops.fail["answer"] = [AriError(500, "POST", "/answer", "boom")]
    record = await run_call(db, new_call(ops))
    assert record.hangup_cause == 34 and record.answered_at is None and "AriError" in record.reason


async def test_an_exception_inside_the_ivr_is_recorded_and_the_call_hung_up(db: async_sessionmaker) -> None:
    ops = Ops()
    ops.fail["play"] = [RuntimeError("media server on fire")]
    record = await run_call(db, new_call(ops))
    assert ("hangup", "congestion") in ops.requests
    assert record.answered_at is not None and record.hangup_by == "platform"
    assert "media server on fire" in record.reason


async def test_a_caller_who_hangs_up_while_routed_is_recorded(db: async_sessionmaker) -> None:
    ops = Ops()
    ops.fail["answer"] = [AriError(404, "POST", "/answer", "Channel not found")]
    session = new_call(ops)
    session.feed({"type": "StasisEnd", "channel": {"id": "c1"}})
    record = await run_call(db, session)
    assert record.hangup_by == "caller" and record.reason is None and record.answered_at is None


async def test_an_unknown_number_is_refused_404_and_recorded(db: async_sessionmaker) -> None:
    ops = Ops()
    record = await run_call(db, new_call(ops, dialled="8005550199"))
    assert ("hangup", "unallocated") in ops.requests and record.hangup_cause == 1
    assert record.reason == "no such number" and record.number == "8005550199"


async def test_a_failed_hang_up_is_retried_until_asterisk_confirms(db: async_sessionmaker) -> None:
    ops = Ops()
    ops.fail["hangup"] = [AriError(500, "DELETE", "/channels/c1", "busy"), asyncio.TimeoutError()]
    record = await run_call(db, new_call(ops))
    assert [r for r in ops.requests if r[0] == "hangup"] == [("hangup", "normal")] * 3
    assert record.hangup_by == "platform" and record.branch_data == [{"branch": "0", "input": ""}]


async def test_a_playback_whose_finish_never_comes_is_checked_and_the_call_goes_on(
        db: async_sessionmaker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_module, "PLAYBACK_CHECK_S", 0.05)
    ops = Ops()
    record = await run_call(db, new_call(ops), limits=InboundLimits(max_call_seconds=30))
    assert any(kind == "playback?" for kind, _ in ops.requests)
    assert record.branch_data == [{"branch": "0", "input": ""}]


async def test_a_call_longer_than_the_cap_is_hung_up(db: async_sessionmaker) -> None:
    ops = Ops()
    record = await run_call(db, new_call(ops), limits=InboundLimits(max_call_seconds=0.2))
    assert record.hangup_by == "platform" and record.reason == "call longer than 0.2 s"


class Refusing:
    def why_not(self, counting_this: bool = False) -> str | None:
        return "1 calls in progress"

    def answered(self, after_ms: float) -> None:
        raise AssertionError("a refused call is never answered")


class Counting:
    def __init__(self) -> None:
        self.answers: list[float] = []

    def why_not(self, counting_this: bool = False) -> str | None:
        return None

    def answered(self, after_ms: float) -> None:
        self.answers.append(after_ms)


async def test_each_answer_tells_admission_how_long_it_took(db: async_sessionmaker) -> None:
    ops = Ops()
    counting = Counting()
    created = datetime(2026, 1, 1, tzinfo=timezone.utc)  # Asterisk's clock, however far from ours
    session = CallSession(ops, {"id": "c1", "dialplan": {"exten": "8005550100"}, "caller": {},
                                "creationtime": created.isoformat()},
                          ["inbound"], (created + timedelta(milliseconds=700)).isoformat())
    ops.session = session
    await run_call(db, session, admission=counting)
    assert len(counting.answers) == 1 and 700 <= counting.answers[0] < 5000


async def test_refused_by_admission_is_a_503_with_a_record(db: async_sessionmaker) -> None:
    ops = Ops()
    record = await run_call(db, new_call(ops), admission=Refusing())
    assert ("hangup", "congestion") in ops.requests and ("answer", "c1") not in ops.requests
    assert record.hangup_cause == 34 and record.reason == "refused: 1 calls in progress"


async def test_a_request_that_times_out_inside_the_ivr_is_not_taken_for_the_length_cap(
        db: async_sessionmaker) -> None:
    ops = Ops()
    ops.fail["play"] = [asyncio.TimeoutError()]
    ops.fail["hangup"] = []
    session = new_call(ops)

    async def gone_soon() -> None:  # the resync after the link came back: Asterisk lost it
        await asyncio.sleep(0.3)
        session.lost()

    asyncio.ensure_future(gone_soon())
    record = await run_call(db, session)
    assert record.reason == "asterisk unreachable: TimeoutError" and record.hangup_by == "lost"


async def test_a_stored_ivr_the_current_rules_refuse_is_named(db: async_sessionmaker) -> None:
    from sqlalchemy import update

    from control.ivrs.service import stored_problems
    from control.store.models import Ivr

    assert await stored_problems(db) == {}
    async with db.begin() as session:  # stored by a version with looser rules
        await session.execute(update(Ivr).values(document={"branches": {"0": {"type": "hangup", "timout": 3}}}))
    problems = await stored_problems(db)
    assert list(problems) == ["+18005550100"] and "timout" in problems["+18005550100"][0]


async def test_a_refusal_the_dialplan_reports_is_recorded_and_a_malformed_one_ignored(
        db: async_sessionmaker) -> None:
    recorder = CallRecorder(db)
    record_refusal(recorder, "n1", {"UserEvent": "VoicectlRefused", "VcId": "r1", "VcExten": "8005550100",
                                    "VcCaller": "%2B1555%2C0001", "VcName": "A%0D%0AB", "VcStasis": ""},
                   "320 calls in progress")
    record_refusal(recorder, "n1", {"UserEvent": "VoicectlRefused", "VcId": "r2", "VcStasis": "FAILED"}, None)
    for malformed in ({"UserEvent": "VoicectlRefused"}, {"UserEvent": "Other", "VcId": "x"},
                      {"UserEvent": "VoicectlRefused", "VcId": ["a", "b"]}):
        record_refusal(recorder, "n1", malformed, None)  # type: ignore[arg-type]
    await recorder.flush()
    r1, r2 = await get_call(db, "r1"), await get_call(db, "r2")
    assert (r1.caller_id, r1.caller_name, r1.hangup_cause, r1.node) == ("+1555,0001", "A\r\nB", 34, "n1")
    assert r1.reason == "refused: 320 calls in progress" and r1.answered_at is None
    assert r2.reason == "refused: the Stasis app was not registered"
    from control.calls.service import list_calls
    assert {c.id for c in await list_calls(db)} == {"r1", "r2"}
