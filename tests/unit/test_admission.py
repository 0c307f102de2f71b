"""Admission control's decisions and the gate it keeps in Asterisk, without Asterisk."""
from __future__ import annotations

import asyncio

from control.telephony import admission as admission_module
from control.telephony.admission import Admission, AdmissionLimits


def make(active: int = 0, **limits: float) -> Admission:
    return Admission(AdmissionLimits(**{"max_calls": 10, "max_lag_ms": 500, "max_answer_ms": 300, **limits}),
                     lambda: active)


def test_calls_in_progress_draining_and_slow_answers_each_close_the_door() -> None:
    assert make(active=9).why_not() is None
    assert make(active=10).why_not() == "10 calls in progress"
    assert make(active=10).why_not(counting_this=True) is None, "the call asking is one of the ten"
    slow = make()
    slow.answered(800)
    assert slow.why_not() == "calls answered in 800 ms"
    draining = make()
    draining.draining = True
    assert draining.why_not() == "draining for shutdown"


async def test_the_gate_follows_and_a_slow_answer_fades_so_it_reopens(monkeypatch) -> None:
    monkeypatch.setattr(admission_module, "TICK_S", 0.01)
    admission = make()
    connected = asyncio.Event()
    connected.set()
    gates: list[bool] = []

    async def set_gate(admit: bool) -> None:
        gates.append(admit)

    task = asyncio.ensure_future(admission.run(connected, set_gate))
    await asyncio.sleep(0.05)
    admission.answered(2000)
    for _ in range(200):
        if False in gates and gates[-1] is True:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert gates[0] is True and False in gates and gates[-1] is True, gates
