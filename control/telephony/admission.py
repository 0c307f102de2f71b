"""Admission control: whether this node takes new calls, and Asterisk's copy of the answer.

Beyond `max_calls` calls in progress, while calls take longer than `max_answer_ms` to be
answered (from the channel's creation, which is the INVITE, to Asterisk taking the answer:
the delay a caller hears, whatever part of the machine is short), while the event loop lags
more than `max_lag_ms`, or while draining for shutdown, new calls are refused with SIP 503 so a carrier or proxy sends
them elsewhere. The refusal is cheapest in Asterisk: the inbound dialplan reads the global
variable GATE before `Stasis()`, so a refused call costs no ARI event, request or parse. The
control plane keeps that variable current; between two updates the Stasis app applies the
same rule to each call it is handed.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from control.settings import Settings

log = logging.getLogger(__name__)

GATE = "VOICECTL_ADMIT"
TICK_S = 0.1
# The gate is written again this often even when unchanged: an Asterisk that restarted lost it.
REFRESH_S = 1.0
# The answer delay fades by this much a tick (a fifth every 0.1 s): a 600 ms answer is under
# 300 ms again in 0.3 s, a 3 s one in about a second.
ANSWER_FADE = 0.8


@dataclass
class AdmissionLimits:
    max_calls: int = Settings.max_calls
    max_lag_ms: float = Settings.max_loop_lag_ms
    max_answer_ms: float = Settings.max_answer_ms


class Admission:
    def __init__(self, limits: AdmissionLimits, active_calls: Callable[[], int]) -> None:
        self._limits = limits
        self._active_calls = active_calls
        self.lag_ms = 0.0
        self.answer_ms = 0.0
        self.draining = False

    def why_not(self, counting_this: bool = False) -> str | None:
        """None when a new call is welcome; otherwise why it is refused. counting_this: the
        call asking is already among the active ones."""
        if self.draining:
            return "draining for shutdown"
        if self._active_calls() - counting_this >= self._limits.max_calls:
            return f"{self._limits.max_calls} calls in progress"
        if self.answer_ms > self._limits.max_answer_ms:
            return f"calls answered in {self.answer_ms:.0f} ms"
        if self.lag_ms > self._limits.max_lag_ms:
            return f"event loop lagging {self.lag_ms:.0f} ms"
        return None

    def answered(self, after_ms: float) -> None:
        """A call was answered this long after its INVITE arrived."""
        self.answer_ms = max(after_ms, self.answer_ms)

    async def run(self, connected: asyncio.Event, set_gate: Callable[[bool], Awaitable[None]]) -> None:
        """Measure the loop's lag and keep Asterisk's gate current while ARI is connected."""
        loop = asyncio.get_running_loop()
        written: bool | None = None
        written_at = 0.0
        was_connected = False
        while True:
            before = loop.time()
            await asyncio.sleep(TICK_S)
            lag = (loop.time() - before - TICK_S) * 1000
            # A spike holds for a few ticks, so one slow moment is not forgotten at once; with the
            # gate closed no call is answered, so the answer delay fades and the gate reopens.
            self.lag_ms = max(lag, self.lag_ms * 0.7)
            self.answer_ms *= ANSWER_FADE
            if not connected.is_set():
                was_connected = False
                continue
            admit = self.why_not() is None
            now = loop.time()
            if admit != written or not was_connected or now - written_at >= REFRESH_S:
                try:
                    await set_gate(admit)
                    if admit != written:
                        log.log(logging.INFO if admit else logging.WARNING, "new calls %s%s",
                                "admitted" if admit else "refused: ", "" if admit else self.why_not())
                    written, written_at, was_connected = admit, now, True
                except Exception as exc:
                    log.warning("could not set the admission gate: %s", exc)
