"""The ARI adapter without Asterisk: a CallSession fed events by hand, and AriLink's
dispatcher routing events to calls without ever waiting on one."""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Sequence

import pytest

from control.flow.channel import CallerHungUp
from control.settings import Settings
from control.pbx.secrets import PbxSecrets
from control.telephony.ari import AriLink
from control.telephony.call import CallSession

CHANNEL = {"id": "c1", "dialplan": {"exten": "8005550100"}, "caller": {"number": "15551230000", "name": "Ann"}}


class RecordingOps:
    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []

    async def answer(self, channel_id: str) -> None:
        self.requests.append(("answer", channel_id))

    async def play(self, channel_id: str, media: Sequence[str], playback_id: str) -> None:
        self.requests.append(("play", playback_id))

    async def stop_playback(self, playback_id: str) -> None:
        self.requests.append(("stop", playback_id))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.requests.append(("hangup", reason))


def dtmf(digit: str, channel: str = "c1") -> dict[str, Any]:
    return {"type": "ChannelDtmfReceived", "digit": digit, "channel": {"id": channel}}


async def started_playback(ops: RecordingOps) -> str:
    for _ in range(100):
        plays = [pid for kind, pid in ops.requests if kind == "play"]
        if plays:
            return plays[-1]
        await asyncio.sleep(0)
    raise AssertionError("no playback started")


async def start_playing(barge_in: bool) -> tuple[RecordingOps, CallSession, asyncio.Future[str | None], str]:
    """A call with one prompt playing: its ops, session, the play() under way, the playback id."""
    ops = RecordingOps()
    session = CallSession(ops, CHANNEL, ["inbound"])
    play = asyncio.ensure_future(session.play(["sound:x"], barge_in=barge_in))
    return ops, session, play, await started_playback(ops)


def finished(pid: str) -> dict[str, Any]:
    return {"type": "PlaybackFinished", "playback": {"id": pid, "target_uri": "channel:c1"}}


async def test_first_key_stops_the_audio_and_is_returned() -> None:
    ops, session, playing, pid = await start_playing(barge_in=True)
    session.feed(dtmf("4"))
    assert await playing == "4"
    assert ("stop", pid) in ops.requests


async def test_a_stopped_prompts_late_finish_does_not_end_the_next_prompt() -> None:
    ops, session, first, stopped = await start_playing(barge_in=True)
    session.feed(dtmf("1"))
    assert await first == "1"
    second = asyncio.ensure_future(session.play(["sound:x"], barge_in=False))
    for _ in range(100):
        if sum(kind == "play" for kind, _ in ops.requests) == 2:
            break
        await asyncio.sleep(0)
    current = await started_playback(ops)
    session.feed(finished(stopped))
    await asyncio.sleep(0.01)
    assert not second.done()
    session.feed(finished(current))
    assert await second is None


async def test_without_barge_in_keys_wait_for_the_audio_to_end() -> None:
    ops, session, playing, pid = await start_playing(barge_in=False)
    session.feed(dtmf("4"))
    await asyncio.sleep(0.01)
    assert not playing.done()
    session.feed(finished(pid))
    assert await playing is None
    assert not any(kind == "stop" for kind, _ in ops.requests)
    assert await session.wait_digit(0.01) == "4", "the key stays buffered for whoever listens next"


async def test_wait_digit_times_out_and_hangup_raises() -> None:
    session = CallSession(RecordingOps(), CHANNEL, ["inbound"])
    assert await session.wait_digit(0.05) is None
    session.feed({"type": "ChannelHangupRequest", "cause": 16, "channel": {"id": "c1"}})
    with pytest.raises(CallerHungUp):
        await session.wait_digit(5)
    assert session.hangup_info is not None and session.hangup_info.by == "caller"
    assert session.hangup_info.cause == 16


async def test_platform_hangup_then_the_cause_arrives() -> None:
    ops = RecordingOps()
    session = CallSession(ops, CHANNEL, ["inbound"])
    await session.hangup()
    session.feed({"type": "StasisEnd", "channel": {"id": "c1"}})
    await session.wait_left(1)
    assert ops.requests == [("hangup", "normal")]
    assert session.hangup_info.by == "platform" and session.hangup_info.cause == 16


async def test_a_stuck_call_never_delays_another_calls_events() -> None:
    """The read loop's handler only routes: call A blocked forever must not hold up call B."""
    handled: dict[str, asyncio.Future[str]] = {"a": asyncio.Future(), "b": asyncio.Future()}
    block_forever = asyncio.Event()

    async def on_call(session: CallSession) -> None:
        if session.id == "a":
            await block_forever.wait()
        else:
            handled["b"].set_result(await session.wait_digit(5) or "")

    async def no_reconcile(_live: set[str], _owned: set[str]) -> None:
        return None

    link = AriLink(Settings.from_env({"VOICECTL_DATA_DIR": "/tmp/unused"}),
                   PbxSecrets("u", "p", "u", "p"), on_call, no_reconcile)
    ops = RecordingOps()
    for call in ("a", "b"):
        link._dispatch(ops, {"type": "StasisStart", "args": ["inbound"], "channel": {"id": call}})
    link._dispatch(ops, dtmf("1", "a"))
    link._dispatch(ops, dtmf("7", "b"))
    assert await asyncio.wait_for(handled["b"], 1) == "7"
    assert link.active_calls == 1
    await link.stop()


async def test_a_prompt_running_far_past_its_known_length_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    from control.telephony import call as call_module

    monkeypatch.setattr(call_module, "PLAYBACK_MARGIN_S", 0.05)
    ops = RecordingOps()
    asked: list[str] = []

    async def stuck(playback_id: str) -> str | None:
        asked.append(playback_id)
        return "playing"  # Asterisk still has it and no PlaybackFinished will come

    ops.playback_state = stuck  # type: ignore[attr-defined]
    session = CallSession(ops, CHANNEL, ["inbound"])
    assert await asyncio.wait_for(session.play(["sound:x"], barge_in=False, seconds=0.05), 2) is None
    assert len(asked) == 2, "first seen playing, its length is given again before it is stopped"
    assert ("stop", asked[0]) in ops.requests


async def test_a_prompt_that_starts_late_is_not_cut_short(monkeypatch: pytest.MonkeyPatch) -> None:
    from control.telephony import call as call_module

    monkeypatch.setattr(call_module, "PLAYBACK_MARGIN_S", 0.05)
    ops = RecordingOps()
    states = ["queued", "queued", "playing"]

    async def fetching_its_media(playback_id: str) -> str | None:
        return states.pop(0) if states else "playing"

    ops.playback_state = fetching_its_media  # type: ignore[attr-defined]
    session = CallSession(ops, CHANNEL, ["inbound"])
    playing = asyncio.ensure_future(session.play(["sound:x"], barge_in=False, seconds=0.05))
    pid = await started_playback(ops)
    while states:  # queued twice, then playing: its clock starts only now
        await asyncio.sleep(0.01)
    assert not any(kind == "stop" for kind, _ in ops.requests), "stopped before it ever played"
    session.feed(finished(pid))
    assert await asyncio.wait_for(playing, 2) is None
    assert not any(kind == "stop" for kind, _ in ops.requests)


async def test_a_prompt_whose_finish_was_lost_ends_when_asterisk_no_longer_has_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from control.telephony import call as call_module

    monkeypatch.setattr(call_module, "PLAYBACK_MARGIN_S", 0.05)
    ops = RecordingOps()

    async def gone(playback_id: str) -> str | None:
        return None

    ops.playback_state = gone  # type: ignore[attr-defined]
    session = CallSession(ops, CHANNEL, ["inbound"])
    assert await asyncio.wait_for(session.play(["sound:x"], barge_in=False, seconds=0.05), 2) is None
    assert not any(kind == "stop" for kind, _ in ops.requests)


async def test_a_soft_hangup_nobody_asked_for_is_asterisks_not_the_callers() -> None:
    """Asterisk shutting down (or timing out RTP) hangs channels up softly; its `cause` there is
    a soft-hangup flag, not a Q.850 cause, and the caller did nothing."""
    session = CallSession(RecordingOps(), CHANNEL, ["inbound"])
    session.feed({"type": "ChannelHangupRequest", "soft": True, "cause": 32, "channel": {"id": "c1"}})
    session.feed({"type": "StasisEnd", "channel": {"id": "c1"}})
    with pytest.raises(CallerHungUp):
        await session.wait_digit(1)
    assert session.hangup_info is not None
    assert (session.hangup_info.by, session.hangup_info.cause) == ("asterisk", None)

    ours = CallSession(RecordingOps(), CHANNEL, ["inbound"])
    await ours.hangup()
    ours.feed({"type": "ChannelHangupRequest", "soft": True, "cause": 32, "channel": {"id": "c1"}})
    await ours.wait_left(0.1)
    assert ours.hangup_info is not None and ours.hangup_info.by == "platform"


async def test_a_play_cancelled_from_outside_stops_its_audio() -> None:
    """A hold prompt is cancelled when the answer it covers arrives: the audio stops with it,
    and a key pressed meanwhile is still there for whoever listens next."""
    ops, session, playing, pid = await start_playing(barge_in=False)
    session.feed(dtmf("7"))
    await asyncio.sleep(0.01)
    playing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await playing
    assert ("stop", pid) in ops.requests
    assert await session.wait_digit(0.01) == "7"



async def test_keys_stops_on_refuses_are_dropped_and_the_audio_goes_on() -> None:
    ops = RecordingOps()
    session = CallSession(ops, CHANNEL, ["inbound"])
    playing = asyncio.ensure_future(session.play(["sound:x"], barge_in=True, stops_on=lambda k: k in "12"))
    pid = await started_playback(ops)
    session.feed(dtmf("7"))
    await asyncio.sleep(0.01)
    assert not playing.done() and ("stop", pid) not in ops.requests
    session.feed(dtmf("2"))
    assert await playing == "2" and ("stop", pid) in ops.requests


async def test_until_gone_keeps_keys_and_raises_when_the_caller_hangs_up() -> None:
    session = CallSession(RecordingOps(), CHANNEL, ["inbound"])
    watching = asyncio.ensure_future(session.until_gone())
    session.feed(dtmf("5"))
    await asyncio.sleep(0.01)
    assert not watching.done()
    session.feed({"type": "ChannelHangupRequest", "cause": 16, "channel": {"id": "c1"}})
    with pytest.raises(CallerHungUp):
        await watching
    assert session._digits == deque(["5"])


async def test_a_play_cancelled_before_asterisk_answered_its_request_is_still_stopped() -> None:
    """The stop must not overtake the play request it cancels (it would find nothing to stop,
    and the audio would start after it)."""
    ops = RecordingOps()
    answered = asyncio.Event()
    order: list[str] = []

    async def slow_play(channel_id: str, media: Sequence[str], playback_id: str) -> None:
        await answered.wait()
        order.append("play")

    async def stop(playback_id: str) -> None:
        order.append("stop")

    ops.play, ops.stop_playback = slow_play, stop  # type: ignore[method-assign]
    session = CallSession(ops, CHANNEL, ["inbound"])
    playing = asyncio.ensure_future(session.play(["sound:x"], barge_in=False))
    await asyncio.sleep(0.01)
    playing.cancel()
    await asyncio.sleep(0.01)
    answered.set()
    with pytest.raises(asyncio.CancelledError):
        await playing
    assert order == ["play", "stop"]
