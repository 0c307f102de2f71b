"""Webhook exchanges and variables on call records: written through the journal like
branch_data, and bounded so that no answer makes the database refuse a call's row."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker

from control.calls.recorder import MAX_ANSWER_CHARS, CallRecorder, fit_exchanges, fit_json
from control.calls.service import CallEnd, CallStart, get_call

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
EXCHANGE = {"branch": "5", "url": "http://127.0.0.1:9000/hook", "at": "2026-11-23T08:00:01+00:00",
            "status": 200, "ms": 12.5, "answer": {"goto": "7", "play": [{"type": "tts", "text": "Hi"}]}}


def start(call_id: str) -> CallStart:
    return CallStart(call_id, "inbound", "+18005550100", "15551230000", "Ann", "ten_1", T0, T0)


async def test_exchanges_and_variables_survive_a_kill_through_the_journal(db: async_sessionmaker,
                                                                          tmp_path: Path) -> None:
    first = CallRecorder(db, tmp_path / "journal")
    first.started(start("a"))
    first.ended("a", CallEnd(16, "Normal Clearing", "caller", [], exchanges=[EXCHANGE], variables={"k": "v"}))
    del first  # kill -9: only the journal has it
    second = CallRecorder(db, tmp_path / "journal")
    assert await second.replay() == 2
    call = await get_call(db, "a")
    assert call.exchanges == [EXCHANGE] and call.variables == {"k": "v"}
    assert second.dead_letters == 0


async def test_a_call_with_no_webhooks_has_empty_ones(db: async_sessionmaker) -> None:
    recorder = CallRecorder(db)
    recorder.started(start("up"))
    recorder.started(start("done"))
    recorder.ended("done", CallEnd(16, "Normal Clearing", "caller", []))
    await recorder.flush()
    for call_id in ("up", "done"):
        call = await get_call(db, call_id)
        assert (call.exchanges, call.variables) == ([], {})


async def test_answers_the_database_could_refuse_are_stored_as_notes(db: async_sessionmaker) -> None:
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    odd = [{**EXCHANGE, "answer": {"x": math.nan}}, {**EXCHANGE, "answer": deep},
           {**EXCHANGE, "answer": {"when": T0}}, {**EXCHANGE, "answer": "é" * 10_000}]
    recorder = CallRecorder(db)
    recorder.started(start("odd"))
    recorder.ended("odd", CallEnd(16, "Normal Clearing", "caller", [], exchanges=odd))
    await recorder.flush()
    stored = (await get_call(db, "odd")).exchanges
    assert recorder.dead_letters == 0 and len(stored) == 4
    assert stored[0]["answer"] == "<dict that is not JSON>" and stored[1]["answer"] == "<list that is not JSON>"
    assert stored[2]["answer"] == "<dict that is not JSON>"
    assert len(stored[3]["answer"]) == MAX_ANSWER_CHARS and stored[3]["answer"].endswith("~")


def test_fit_keeps_small_answers_as_they_are_and_cuts_big_ones_with_a_mark() -> None:
    assert fit_json({"goto": "3"}, 100) == {"goto": "3"}
    cut = fit_json({"text": "x" * 200}, 50)
    assert cut == '{"text":"' + "x" * 40 + "~" and len(cut) == 50
    kept = fit_exchanges([{**EXCHANGE, "url": f"u{i}"} for i in range(200)])
    assert len(kept) == 49 and kept[24] == {"reason": "152 exchanges not kept", "skipped": 152}
    assert [e["url"] for e in kept[:2]] == ["u0", "u1"] and kept[-1]["url"] == "u199"
