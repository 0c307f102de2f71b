"""One contract, two channels: the fake the engine's unit tests use and the real ARI call
session must behave alike, or the engine's tests prove nothing about real calls."""
from __future__ import annotations

import asyncio
from typing import Protocol

import pytest

from control.flow.channel import CallerHungUp
from tests.unit.fakes import HANGUP, FakeChannel
from tests.unit.test_call_session import CHANNEL, RecordingOps, dtmf, finished, started_playback
from control.telephony.call import CallSession

# What happens while the engine listens: a key, the audio ending, or the caller hanging up.
KEY, END, GONE = "key", "end", "gone"


class Driver(Protocol):
    def press(self, key: str) -> None: ...
    def flush(self) -> None: ...
    async def play(self, barge_in: bool, then: tuple[str, str]) -> str | None: ...
    async def wait_digit(self, timeout: float, then: tuple[str, str] | None) -> str | None: ...


class FakeDriver:
    def __init__(self) -> None:
        self.channel = FakeChannel(script=[])

    def press(self, key: str) -> None:
        self.channel.press(key)

    def flush(self) -> None:
        self.channel.flush_digits()

    def _script(self, then: tuple[str, str] | None) -> None:
        self.channel.script = [] if then is None else [then[1] if then[0] == KEY else HANGUP if then[0] == GONE else None]

    async def play(self, barge_in: bool, then: tuple[str, str]) -> str | None:
        self._script(then)
        return await self.channel.play(["sound:x"], barge_in=barge_in)

    async def wait_digit(self, timeout: float, then: tuple[str, str] | None) -> str | None:
        self._script(then)
        return await self.channel.wait_digit(timeout)


class SessionDriver:
    def __init__(self) -> None:
        self.ops = RecordingOps()
        self.session = CallSession(self.ops, CHANNEL, ["inbound"])

    def press(self, key: str) -> None:
        self.session.feed(dtmf(key))

    def flush(self) -> None:
        self.session.flush_digits()

    def _feed(self, then: tuple[str, str], playback: str | None) -> None:
        kind, value = then
        if kind == KEY:
            self.session.feed(dtmf(value))
        elif kind == GONE:
            self.session.feed({"type": "StasisEnd", "channel": {"id": "c1"}})
        elif playback:
            self.session.feed(finished(playback))

    async def play(self, barge_in: bool, then: tuple[str, str]) -> str | None:
        task = asyncio.ensure_future(self.session.play(["sound:x"], barge_in=barge_in))
        playback = await started_playback(self.ops)
        self._feed(then, playback)
        if then[0] == KEY and not barge_in:
            self.session.feed(finished(playback))
        return await task

    async def wait_digit(self, timeout: float, then: tuple[str, str] | None) -> str | None:
        task = asyncio.ensure_future(self.session.wait_digit(timeout))
        await asyncio.sleep(0)
        if then is not None:
            self._feed(then, None)
        return await task


@pytest.fixture(params=["fake", "session"])
def driver(request: pytest.FixtureRequest) -> Driver:
    return FakeDriver() if request.param == "fake" else SessionDriver()


async def test_a_key_during_barge_in_audio_is_returned(driver: Driver) -> None:
    assert await driver.play(True, (KEY, "4")) == "4"


async def test_audio_that_ends_with_no_key_returns_none(driver: Driver) -> None:
    assert await driver.play(True, (END, "")) is None


async def test_keys_are_ignored_without_barge_in(driver: Driver) -> None:
    assert await driver.play(False, (KEY, "4")) is None


async def test_a_key_pressed_ahead_barges_in(driver: Driver) -> None:
    driver.press("5")
    assert await driver.play(True, (END, "")) == "5"


async def test_keys_pressed_before_a_flush_are_forgotten(driver: Driver) -> None:
    driver.press("5")
    driver.press("6")
    driver.flush()
    assert await driver.play(True, (END, "")) is None
    assert await driver.wait_digit(0.05, None) is None


async def test_wait_digit_returns_the_key_or_times_out(driver: Driver) -> None:
    assert await driver.wait_digit(1, (KEY, "9")) == "9"
    assert await driver.wait_digit(0.05, None) is None


async def test_a_caller_hanging_up_ends_the_wait(driver: Driver) -> None:
    with pytest.raises(CallerHungUp):
        await driver.wait_digit(5, (GONE, ""))
