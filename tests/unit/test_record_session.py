"""CallSession.record without Asterisk: recording events fed by hand, routed by AriLink to the
call that owns the recording, and the made-up ends of a missed event or a hang-up."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from control.flow.channel import CallerHungUp, Take
from control.pbx.secrets import PbxSecrets
from control.settings import Settings
from control.telephony import call as call_module
from control.telephony.ari import AriLink
from control.telephony.ari_http import AriError
from control.telephony.call import CALL_EVENTS, CallSession

CHANNEL = {"id": "1700000000.42", "dialplan": {"exten": "8005550100"}, "caller": {"number": "1555", "name": ""}}


class RecordOps:
    """The ARI requests a recording makes; `live` and `stored` are Asterisk's answers."""

    def __init__(self, live: dict[str, Any] | None = None, stored: bool = True,
                 refuse: int | None = None) -> None:
        self.requests: list[tuple[str, Any]] = []
        self.live = live
        self.stored = stored
        self.refuse = refuse

    async def record(self, channel_id: str, name: str, **options: Any) -> None:
        self.requests.append(("record", {"channel": channel_id, "name": name, **options}))
        if self.refuse is not None:
            raise AriError(self.refuse, "POST", f"/channels/{channel_id}/record", "no")

    async def live_recording(self, name: str) -> dict[str, Any] | None:
        self.requests.append(("live", name))
        return self.live

    async def stop_recording(self, name: str) -> None:
        self.requests.append(("stop", name))
        self.live = None

    async def cancel_recording(self, name: str) -> None:
        self.requests.append(("cancel", name))

    async def stored_recording(self, name: str) -> dict[str, Any] | None:
        self.requests.append(("stored", name))
        return {"name": name, "format": "wav"} if self.stored else None

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.requests.append(("hangup", reason))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.requests]


def event(kind: str, name: str, channel: str = CHANNEL["id"], **fields: Any) -> dict[str, Any]:
    return {"type": kind, "recording": {"name": name, "format": "wav", "target_uri": f"channel:{channel}",
                                       "state": "recording", **fields}}


def dtmf(digit: str) -> dict[str, Any]:
    return {"type": "ChannelDtmfReceived", "digit": digit, "channel": {"id": CHANNEL["id"]}}


async def recording(ops: RecordOps, **options: Any) -> tuple[CallSession, asyncio.Future[Take], str]:
    """A session with record() under way; returns the recording's name once it is asked for."""
    session = CallSession(ops, CHANNEL, ["inbound"])
    args = {"max_seconds": 60, "silence_seconds": None, "terminate_on": "#", "beep": True, **options}
    take = asyncio.ensure_future(session.record(**args))
    for _ in range(100):
        if ops.requests:
            return session, take, ops.requests[0][1]["name"]
        await asyncio.sleep(0)
    raise AssertionError("no recording asked for")


def test_recording_events_pass_the_event_filter() -> None:
    assert {"RecordingStarted", "RecordingFinished", "RecordingFailed"} <= set(CALL_EVENTS)


async def test_recording_events_reach_the_call_whose_channel_is_recorded() -> None:
    async def on_call(session: CallSession) -> None:
        await asyncio.Event().wait()

    async def no_reconcile(_live: set[str], _owned: set[str]) -> None:
        return None

    link = AriLink(Settings.from_env({"VOICECTL_DATA_DIR": "/tmp/unused"}), PbxSecrets("u", "p", "u", "p"),
                   on_call, no_reconcile)
    for call in ("a", "b"):
        link._dispatch(RecordOps(), {"type": "StasisStart", "args": ["inbound"], "channel": {"id": call}})
    link._dispatch(RecordOps(), event("RecordingFinished", "b-1", channel="b"))
    sessions = {s.id: s for s in link.sessions}
    assert sessions["b"]._events.qsize() == 1 and sessions["a"]._events.qsize() == 0
    await link.stop()


async def test_the_key_ends_it_and_the_take_says_so() -> None:
    ops = RecordOps()
    session, take, name = await recording(ops, max_seconds=30, silence_seconds=5)
    request = ops.requests[0][1]
    assert name.startswith("1700000000_42-") and len(name) == len("1700000000_42-") + 16
    assert (request["max_seconds"], request["silence_seconds"], request["terminate_on"], request["beep"]) == \
        (30, 5, "#", True)
    session.feed(event("RecordingStarted", name))
    session.feed(event("RecordingFinished", "someone-else"))  # not ours: ignored
    session.feed(dtmf("#"))
    session.feed(event("RecordingFinished", name, state="done", duration=4))
    assert await take == Take(name, 4.0, "key")
    assert await session.wait_digit(0.01) is None, "the terminating key is not carried on"


async def test_a_finish_before_max_seconds_with_silence_set_was_the_silence() -> None:
    ops = RecordOps()
    session, take, name = await recording(ops, silence_seconds=2)
    session.feed(event("RecordingStarted", name))
    session.feed(event("RecordingFinished", name, state="done", duration=3, talking_duration=1))
    assert await take == Take(name, 3.0, "silence")


async def test_a_finish_without_key_or_silence_was_max_seconds() -> None:
    ops = RecordOps()
    session, take, name = await recording(ops, max_seconds=1, terminate_on=None)
    session.feed(event("RecordingStarted", name))
    session.feed(dtmf("#"))  # no terminator: just a key heard during it
    await asyncio.sleep(0.6)
    session.feed(event("RecordingFinished", name, state="done", duration=1))
    assert await take == Take(name, 1.0, "max")


async def test_a_failure_is_a_failed_take_with_asterisks_cause() -> None:
    ops = RecordOps()
    session, take, name = await recording(ops)
    session.feed(event("RecordingFailed", name, state="failed", cause="Unable to open file"))
    assert await take == Take(name, None, "failed", "Unable to open file")


async def test_a_refused_request_is_a_failed_take_and_a_gone_channel_a_hang_up() -> None:
    ops = RecordOps(refuse=409)
    take = await CallSession(ops, CHANNEL, ["inbound"]).record(max_seconds=5, silence_seconds=None,
                                                                terminate_on="#", beep=True)
    assert take.ended_by == "failed" and "409" in (take.cause or "")
    with pytest.raises(CallerHungUp):
        await CallSession(RecordOps(refuse=404), CHANNEL, ["inbound"]).record(
            max_seconds=5, silence_seconds=None, terminate_on="#", beep=True)


async def test_a_hang_up_mid_recording_returns_the_take_when_asterisk_says_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_module, "RECORDING_AFTER_HANGUP_S", 0.05)
    ops = RecordOps()
    session, take, name = await recording(ops)
    session.feed(event("RecordingStarted", name))
    session.feed({"type": "ChannelHangupRequest", "cause": 16, "channel": {"id": CHANNEL["id"]}})
    session.feed({"type": "StasisEnd", "channel": {"id": CHANNEL["id"]}})
    assert await take == Take(name, None, "hangup")
    assert ops.kinds() == ["record", "live", "stored"]
    assert session.hangup_info is not None and session.hangup_info.by == "caller"


async def test_a_finish_that_follows_the_hang_up_gives_the_take_its_length() -> None:
    ops = RecordOps()
    session, take, name = await recording(ops)
    session.feed({"type": "ChannelHangupRequest", "cause": 16, "channel": {"id": CHANNEL["id"]}})
    session.feed({"type": "StasisEnd", "channel": {"id": CHANNEL["id"]}})
    session.feed(event("RecordingFinished", name, state="done", duration=7))
    assert await take == Take(name, 7.0, "hangup")


async def test_a_hang_up_asterisk_reports_as_a_failure_is_still_a_hang_up_if_a_file_is_there_else_raises(
        ) -> None:
    ops = RecordOps()
    session, take, name = await recording(ops)
    session.feed({"type": "ChannelHangupRequest", "cause": 16, "channel": {"id": CHANNEL["id"]}})
    session.feed(event("RecordingFailed", name, state="failed", cause="Success"))
    assert await take == Take(name, None, "hangup")
    ops = RecordOps(stored=False)
    session, take, name = await recording(ops)
    session.feed({"type": "ChannelHangupRequest", "cause": 16, "channel": {"id": CHANNEL["id"]}})
    session.feed(event("RecordingFailed", name, state="failed"))
    with pytest.raises(CallerHungUp):
        await take


async def test_a_missed_finish_is_found_by_asking_asterisk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_module, "RECORDING_MARGIN_S", 0.05)
    ops = RecordOps(live=None, stored=True)
    session, take, name = await recording(ops, max_seconds=0.1)
    session.feed(event("RecordingStarted", name))
    assert await asyncio.wait_for(take, 2) == Take(name, None, "max")
    assert ops.kinds() == ["record", "live", "stored"]


async def test_a_recording_running_past_its_length_is_stopped_and_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_module, "RECORDING_MARGIN_S", 0.05)
    ops = RecordOps(live={"name": "x", "state": "recording"})
    session, take, name = await recording(ops, max_seconds=0.1)
    session.feed(event("RecordingStarted", name))
    assert (await asyncio.wait_for(take, 2)).ended_by == "max"
    assert ops.kinds() == ["record", "live", "stop"]


async def test_a_recording_whose_start_was_missed_gets_its_length_from_when_it_is_seen(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_module, "RECORDING_MARGIN_S", 0.05)
    ops = RecordOps(live={"name": "x", "state": "recording"})
    session, take, name = await recording(ops, max_seconds=0.3)
    await asyncio.sleep(2.5)  # the beep allowance, max_seconds and the margin, with no RecordingStarted
    assert ops.kinds() == ["record", "live"], "seen recording: not stopped yet"
    session.feed(event("RecordingFinished", name, state="done", duration=0))
    assert (await take).seconds == 0.0


async def test_a_recording_cut_short_from_outside_is_thrown_away() -> None:
    ops = RecordOps()
    session, take, name = await recording(ops)
    take.cancel()
    with pytest.raises(asyncio.CancelledError):
        await take
    assert ("cancel", name) in ops.requests
