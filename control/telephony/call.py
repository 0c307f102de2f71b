"""One call's view of ARI: its own ordered event queue, and the Channel the engine drives.

The ARI read loop only appends events here (feed); everything that waits, waits in the
call's own task, so a slow call never delays another call's events.
"""
from __future__ import annotations

import asyncio
import logging
import math
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, Protocol, Sequence

from control.clock import now
from control.flow.channel import CallerHungUp, DialTarget, Take, TransferOutcome
from control.recordings.sink import take_name
from control.settings import Settings
from control.telephony import takes
from control.telephony.leg import CALLER_ID_NOT, FarLeg
from control.telephony.takes import (LIVE_STATES, RECORDING_AFTER_HANGUP_S, RECORDING_CHECK_S, RECORDING_EVENTS,
                                     RECORDING_MARGIN_S)

log = logging.getLogger(__name__)

GONE_EVENTS = {"StasisEnd", "ChannelHangupRequest", "ChannelDestroyed"}
# A playback whose PlaybackFinished has not come by its known length plus a margin (or, length
# unknown, after PLAYBACK_CHECK_S) is checked with Asterisk: a missed event (a websocket that
# dropped it) must not leave the caller in silence for ever, nor a playback stuck in Asterisk.
PLAYBACK_CHECK_S = 15.0
PLAYBACK_MARGIN_S = 3.0
# Hang-up is confirmed: this many DELETEs, each followed by a wait for the channel to leave.
HANGUP_ATTEMPTS = 6
# Every event type _pump reacts to; AriLink has Asterisk filter out all others. "Dial" tells
# how a transfer's far leg is doing before it answers (its StasisStart says it answered).
CALL_EVENTS = ("StasisStart", "ChannelDtmfReceived", "PlaybackFinished", *RECORDING_EVENTS, *sorted(GONE_EVENTS),
               "Dial")
# A transfer's far leg: Asterisk's own dial timeout is the ring time plus this, a backstop for
# a control plane that went away (the ring time itself is the call's to keep).
DIAL_BACKSTOP_S = 5
# How long a leg's ChannelDestroyed (its cause) is waited for once its end was seen otherwise.
LEG_CAUSE_WAIT_S = 1.0
# A leg the platform ends: this many DELETEs, each followed by this long a wait for it to go;
# then the ARI link keeps at it in the background.
LEG_HANGUP_ATTEMPTS = 3
LEG_GONE_WAIT_S = 1.0
# A leg whose Dial said ANSWER as the ring time ran out gets this long for its StasisStart.
ANSWER_GRACE_S = 3.0
# The ids derived_id makes: a transfer's far leg (kind "t") and its bridge ("b").
DERIVED_ID = re.compile(r"(?:(?P<node>.+)-)?(?P<kind>[a-z])(?P<n>[0-9]+)-(?P<rest>[^-]+)")


def derived_id(call_id: str, kind: str, n: int) -> str:
    """An id for the call's n-th object of a kind, node-qualified like the call's own: for
    `<node>-<epoch>.<n>`, `<node>-t1-<epoch>.<n>`. Never the call's id with something
    appended: Asterisk finds channels by id prefix, and would take one for the other."""
    node, sep, rest = call_id.rpartition("-")
    return f"{node}{sep}{kind}{n}-{rest}"


async def hang_up_channel(ops: "AriOps", channel_id: str, reason: str = "normal") -> bool | None:
    """One DELETE of a channel: True when Asterisk says it is gone already (404), False when it
    took the request, None when the request failed (logged; the caller retries or gives up)."""
    try:
        await ops.hangup(channel_id, reason)
    except Exception as exc:
        if getattr(exc, "status", None) == 404:
            return True
        log.warning("channel %s: hang-up failed (%s)", channel_id, exc or type(exc).__name__)
        return None
    return False


def _refused(exc: BaseException) -> bool:
    """Asterisk answered the request with an error status (it said no); otherwise it was
    unreachable, and the call's handler decides."""
    return getattr(exc, "status", None) is not None


class AriOps(Protocol):
    """The ARI requests a call makes (implemented by telephony/ari_http.py)."""

    async def answer(self, channel_id: str) -> None: ...
    async def play(self, channel_id: str, media: Sequence[str], playback_id: str) -> None: ...
    async def stop_playback(self, playback_id: str) -> None: ...
    async def playback_state(self, playback_id: str) -> str | None: ...
    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...
    async def record(self, channel_id: str, name: str, *, max_seconds: int, silence_seconds: int | None,
                     terminate_on: str | None, beep: bool) -> None: ...
    async def live_recording(self, name: str) -> dict[str, Any] | None: ...
    async def stop_recording(self, name: str) -> None: ...
    async def cancel_recording(self, name: str) -> None: ...
    async def stored_recording(self, name: str) -> dict[str, Any] | None: ...
    async def originate(self, endpoint: str, channel_id: str, *, app: str, app_args: str, caller_id: str,
                        timeout: int, originator: str) -> None: ...
    async def ring(self, channel_id: str) -> None: ...
    async def stop_ringing(self, channel_id: str) -> None: ...
    async def create_bridge(self, bridge_id: str) -> None: ...
    async def add_to_bridge(self, bridge_id: str, channel_ids: Sequence[str]) -> None: ...
    async def destroy_bridge(self, bridge_id: str) -> None: ...


DialHook = Callable[[str, DialTarget, str, datetime], None]


def _no_dial_hook(leg_id: str, target: DialTarget, caller_id: str, at: datetime) -> None:
    return None


class Claims(Protocol):
    """Where a call registers the ARI objects it makes besides its own channel (a transfer's far
    leg, its bridge), BEFORE asking Asterisk for them, so that every event naming them reaches
    the call (implemented by telephony/ari.py's AriLink)."""

    @property
    def app(self) -> str:
        """The Stasis app a far leg enters when it answers."""

    def claim(self, object_id: str, session: "CallSession") -> None: ...
    def release(self, object_id: str) -> None: ...
    def hang_up_later(self, channel_id: str) -> None:
        """A leg whose hang-up was never confirmed: keep hanging it up after the call is done."""


class Unclaimed:
    """Claims for a session on its own (unit tests): no router to tell."""

    app = Settings.app_name

    def claim(self, object_id: str, session: "CallSession") -> None:
        return None

    def release(self, object_id: str) -> None:
        return None

    def hang_up_later(self, channel_id: str) -> None:
        return None


@dataclass
class Hangup:
    cause: int | None = None
    cause_text: str | None = None
    by: str = "caller"


class CallSession:
    def __init__(self, ops: AriOps, channel: dict[str, Any], args: list[str], stasis_at: str | None = None,
                 claims: Claims | None = None) -> None:
        self.ops = ops
        self._claims: Claims = claims if claims is not None else Unclaimed()
        self.id: str = channel["id"]
        self.channel = channel
        self.args = args
        # When the call reached Stasis, by Asterisk's clock and by this process's own.
        self._stasis_at = stasis_at
        self._received_at = time.monotonic()
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._digits: deque[str] = deque()
        # The one playback this call waits on; a stopped one's late PlaybackFinished is ignored.
        self._playback: str | None = None
        self._playback_done = False
        self._seen_playing = False  # Asterisk reported the current playback "playing"
        # The one recording this call waits on: when Asterisk said it started (or a check found
        # it under way, its RecordingStarted missed), and its end (the RecordingFinished or
        # RecordingFailed event, or what a check found instead).
        self._recording: str | None = None
        self._recording_started: float | None = None
        self._recording_end: dict[str, Any] | None = None
        self.hangup_info: Hangup | None = None
        # Why the platform ended the call from outside the IVR (shutdown), for its record.
        self.ended_by_platform: str | None = None
        # A hang-up was asked for: if the channel then goes, it went because we asked, even
        # when the answer to the request was lost on the way.
        self._hangup_asked = False
        self._left_stasis = asyncio.Event()
        # The transfer under way (its far leg, and its bridge once asked for), and how many
        # transfers this call has made.
        self._leg: FarLeg | None = None
        self._bridge: str | None = None
        self._transfers = 0
        # This call's own channel while it is dialled out (a notification call) and rings.
        self._dialling: FarLeg | None = None
        # Told of each far leg just before it is dialled (leg id, target, caller id, when): the
        # inbound handler starts the leg's record there (telephony/inbound.py).
        self.on_dial: DialHook = _no_dial_hook

    # -- called from the ARI read loop: never awaits --------------------------------------
    def feed(self, event: dict[str, Any]) -> None:
        self._events.put_nowait(event)

    # -- details of the call ----------------------------------------------------------------
    @property
    def dialled(self) -> str:
        return str(self.channel.get("dialplan", {}).get("exten", ""))

    @property
    def to_user(self) -> str:
        """The To header's user (the dialplan's second Stasis argument, digits and + only)."""
        return self.args[1] if len(self.args) > 1 else ""

    @property
    def caller(self) -> tuple[str, str]:
        c = self.channel.get("caller", {})
        return str(c.get("number", "")), str(c.get("name", ""))

    # -- the Channel interface the flow engine uses -------------------------------------------
    async def play(self, media: Sequence[str], *, barge_in: bool, seconds: float | None = None,
                   stops_on: Callable[[str], bool] | None = None) -> str | None:
        self._raise_if_gone()
        if barge_in and (key := self._barging_key(stops_on)) is not None:
            return key
        if not media:
            return None
        self._playback, self._playback_done = uuid.uuid4().hex, False
        request = asyncio.ensure_future(self.ops.play(self.id, media, self._playback))
        try:
            await self._request(asyncio.shield(request))
            loop = asyncio.get_running_loop()
            self._seen_playing = False
            check_at = loop.time() + (seconds + PLAYBACK_MARGIN_S if seconds is not None else PLAYBACK_CHECK_S)
            while not self._playback_done:
                await self._pump(max(check_at - loop.time(), 0))
                if not self._playback_done and loop.time() >= check_at:
                    check_at = loop.time() + await self._check_playback(seconds)
                if barge_in and (key := self._barging_key(stops_on)) is not None:
                    await self._request(self.ops.stop_playback(self._playback))
                    return key
            return None
        except asyncio.CancelledError:
            # Cut short from outside (a hold prompt whose answer has come): the audio must
            # stop too, or it plays over what comes next.
            if not self._playback_done and self._playback is not None:
                await asyncio.gather(asyncio.shield(self._stop_once_started(request, self._playback)),
                                     return_exceptions=True)
            raise
        finally:
            self._playback = None

    async def _stop_once_started(self, request: asyncio.Future[None], playback_id: str) -> None:
        # A stop that reaches Asterisk before the play request it cancels would find nothing
        # to stop, and the playback would start after it: let the request land first.
        await asyncio.gather(request, return_exceptions=True)
        await self.ops.stop_playback(playback_id)

    def _barging_key(self, stops_on: Callable[[str], bool] | None) -> str | None:
        """The first key that stops the audio; keys `stops_on` refuses are dropped (ignored),
        so a key that could lead nowhere does not cut a prompt short."""
        while self._digits:
            key = self._digits.popleft()
            if stops_on is None or stops_on(key):
                return key
            log.info("call %s: key %s ignored during a prompt", self.id, key)
        return None

    async def until_gone(self) -> None:
        """Follow the call's events (keys are kept for whoever listens next) until the caller
        hangs up, then raise CallerHungUp: for waits on something else, such as a webhook."""
        while True:
            await self._pump(None)

    async def wait_digit(self, timeout: float) -> str | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._digits:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            await self._pump(remaining)
        return self._digits.popleft()

    def flush_digits(self) -> None:
        # Keys still queued (pressed while a prompt rendered, or as the last one ended) are
        # forgotten too, not only those already taken off the queue.
        while not self._events.empty():
            self._apply(self._events.get_nowait())
        self._digits.clear()

    async def record(self, *, max_seconds: float, silence_seconds: float | None, terminate_on: str | None,
                     beep: bool, tag: str = "") -> Take:
        """Record the caller into a stored recording of Asterisk's (see Channel.record). A
        caller gone before it starts raises CallerHungUp; one who hangs up during it gets a
        Take with ended_by "hangup", whatever Asterisk says of the recording (it may report
        the cut-short recording as failed, or say nothing once the channel has left)."""
        self.flush_digits()  # keys pressed before it are not the caller's answer to it
        self._raise_if_gone()
        name = take_name(self.id, tag)
        self._recording, self._recording_started, self._recording_end = name, None, None
        requested = False
        try:
            try:
                await self._request(self.ops.record(self.id, name, max_seconds=int(max_seconds),
                                                    silence_seconds=int(silence_seconds) if silence_seconds else None,
                                                    terminate_on=terminate_on, beep=beep))
            except CallerHungUp:
                raise
            except Exception as exc:
                if not _refused(exc):
                    raise
                log.warning("call %s: Asterisk refused to record: %s", self.id, exc)
                return Take(name, None, "failed", str(exc))
            requested = True
            asked = time.monotonic()
            next_check = 0.0  # after a check, the next one comes RECORDING_CHECK_S later at the soonest
            while self._recording_end is None:
                if self._left_stasis.is_set():
                    # Gone without the caller hanging up (the platform's own hang-up, at
                    # shutdown): Asterisk may never send the recording's end now.
                    return await self._take_after_hang_up(name)
                # Until RecordingStarted says when recording began, counted from the request
                # and the beep before it.
                began = self._recording_started or (asked + 2.0)
                check_at = max(began + max_seconds + RECORDING_MARGIN_S, next_check)
                if time.monotonic() < check_at:
                    await self._pump(check_at - time.monotonic())
                else:
                    await self._check_recording(name)
                    next_check = time.monotonic() + RECORDING_CHECK_S
            # A DTMF event that crossed the finish on its way is applied before judging.
            while not self._events.empty():
                self._apply(self._events.get_nowait())
            self._raise_if_gone()  # it ended because the caller went: a hang-up's take
            return takes.take(self._recording_end, name, max_seconds=max_seconds, silence_seconds=silence_seconds,
                              terminate_on=terminate_on, elapsed=time.monotonic() - (self._recording_started or asked),
                              digits=self._digits)
        except CallerHungUp:
            if not requested:
                raise
            return await self._take_after_hang_up(name)
        except asyncio.CancelledError:
            # Cut short from outside (the call's length cap): nobody will keep it.
            if requested and self._recording_end is None:
                await asyncio.gather(asyncio.shield(self.ops.cancel_recording(name)), return_exceptions=True)
            raise
        finally:
            self._recording = None
            self._digits.clear()  # keys pressed during it (its terminator too) were meant for it

    async def _take_after_hang_up(self, name: str) -> Take:
        """The caller hung up during the recording: wait a moment for Asterisk's word on it,
        then ask for it. A take is returned whenever a file may be there to keep."""
        await self._pump_until(lambda: self._recording_end is not None, RECORDING_AFTER_HANGUP_S)
        take = takes.after_hang_up(self._recording_end, name)
        try:
            live = await self.ops.live_recording(name)
            if live is not None and live.get("state") in LIVE_STATES:
                await self.ops.stop_recording(name)
            stored = await self.ops.stored_recording(name)
        except Exception as exc:
            log.warning("call %s: could not ask Asterisk about recording %s after the hang-up: %s", self.id, name, exc)
            stored = {}  # it may be there: keeping it will tell
        if stored is None:
            log.info("call %s: the caller hung up; Asterisk stored nothing of recording %s", self.id, name)
            raise CallerHungUp()
        return take

    async def _check_recording(self, name: str) -> None:
        """No RecordingFinished by max_seconds and a margin: ask Asterisk. A recording no
        longer live has ended (stored: finished; not: failed). One still queued is left to
        begin; one recording with its RecordingStarted missed is counted from now; one
        recording for longer than that is stuck, and stopped (what it has is kept)."""
        try:
            live = await self.ops.live_recording(name)
            if live is None:
                stored = await self.ops.stored_recording(name)
                log.warning("call %s: recording %s ended without an event; going on", self.id, name)
                self._recording_end = ({"type": "RecordingFinished", "recording": {"name": name}} if stored else
                                       {"type": "RecordingFailed",
                                        "recording": {"name": name, "cause": "Asterisk has no such recording"}})
            elif live.get("state") not in LIVE_STATES:
                kind = "RecordingFinished" if live.get("state") == "done" else "RecordingFailed"
                self._recording_end = {"type": kind, "recording": live}
            elif live.get("state") != "recording":
                return  # queued (or paused): not begun yet
            elif self._recording_started is None:
                self._recording_started = time.monotonic()
            else:
                log.warning("call %s: recording %s runs past its length; stopping it", self.id, name)
                await self.ops.stop_recording(name)
                self._recording_end = {"type": "RecordingFinished", "recording": {"name": name}}
        except Exception as exc:
            log.warning("call %s: could not check recording %s: %s", self.id, name, exc)

    async def transfer(self, target: DialTarget, *, caller_id: str, timeout: float) -> TransferOutcome:
        """Dial target and bridge the caller with it (see Channel.transfer). The far leg
        (`<node>-t<n>-<...>`) and the bridge (`<node>-b<n>-<...>`) have ids chosen here and
        claimed before they are asked for, so none of their events can miss this call. Whatever
        way it ends (answered and over, unanswered, the caller gone, an error, a cancel), the
        leg is hung up (confirmed, or left to the ARI link to keep at), the bridge destroyed,
        the claims released and the keys pressed meanwhile forgotten."""
        self._raise_if_gone()
        self._transfers += 1
        leg = self._leg = FarLeg(derived_id(self.id, "t", self._transfers), now())
        self._claims.claim(leg.id, self)
        # Before the request: a far leg dialled is a call of its own, recorded even if this
        # process dies while it rings or talks.
        self.on_dial(leg.id, target, caller_id, leg.started_at)
        caller_left = False
        try:
            await self._dial(leg, target.endpoint, caller_id, timeout)
        except CallerHungUp:
            caller_left = True
        finally:
            # Shielded: a cancel (the call's length cap, shutdown) must not leave the leg up.
            # A caller the platform hung up (shutdown) did not leave: the platform ended the leg.
            by = "caller" if caller_left and self.ended_by_platform is None and \
                (self.hangup_info is None or self.hangup_info.by != "platform") else "platform"
            await asyncio.shield(self._end_transfer(leg, by))
        outcome = leg.outcome()
        if caller_left:
            raise CallerHungUp(transfer=outcome)
        return outcome

    async def _dial(self, leg: FarLeg, endpoint: str, caller_id: str, timeout: float) -> None:
        number = CALLER_ID_NOT.sub("", caller_id)[:40]
        try:
            await self.ops.originate(endpoint, leg.id, app=self._claims.app, app_args=f"leg,{self.id}",
                                     caller_id=f"<{number}>" if number else "",
                                     timeout=math.ceil(timeout) + DIAL_BACKSTOP_S, originator=self.id)
        except Exception as exc:
            if not _refused(exc):
                raise
            leg.error = f"Asterisk refused the dial: {exc}"
            log.warning("call %s: transfer to %s: %s", self.id, endpoint, leg.error)
            return
        leg.requested = True
        ringing = await self._ringback(True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while leg.answered_at is None and not leg.over:
            self._raise_if_caller_gone()
            if loop.time() >= deadline:
                if leg.dialstatus == "ANSWER" and loop.time() < deadline + ANSWER_GRACE_S:
                    # Answered just in time: its StasisStart is on its way.
                    await self._pump(deadline + ANSWER_GRACE_S - loop.time())
                    continue
                leg.timed_out = True
                leg.hung_up_by = "platform"
                break
            await self._pump(deadline - loop.time())
        if ringing:
            await self._ringback(False)
        if leg.answered_at is None or not await self._join(leg):
            return
        while not leg.over:
            self._raise_if_caller_gone()
            await self._pump()
        self._raise_if_caller_gone()  # both gone at once (shutdown): the call does not go on

    async def _ringback(self, on: bool) -> bool:
        """Ringback for the caller while the far end rings; not hearing it is no reason to fail."""
        try:
            await self._request(self.ops.ring(self.id) if on else self.ops.stop_ringing(self.id))
        except CallerHungUp:
            raise
        except Exception as exc:
            if not _refused(exc):
                raise
            log.info("call %s: ringback %s refused: %s", self.id, "start" if on else "stop", exc)
            return False
        return True

    async def _join(self, leg: FarLeg) -> bool:
        """Bridge the caller with the answered leg; False (the leg failed) when Asterisk refuses."""
        bridge = self._bridge = derived_id(self.id, "b", self._transfers)
        self._claims.claim(bridge, self)
        try:
            await self.ops.create_bridge(bridge)
            await self.ops.add_to_bridge(bridge, [self.id, leg.id])
        except Exception as exc:
            if not _refused(exc):
                raise
            if not leg.over:  # a far end gone at once leaves nothing to bridge: that is no failure
                leg.error = f"could not bridge the caller with the far end: {exc}"
                log.warning("call %s: %s", self.id, leg.error)
            return False
        return True

    async def _end_transfer(self, leg: FarLeg, by: str) -> None:
        bridge = self._bridge
        try:
            if leg.requested and not leg.over:
                leg.hung_up_by = leg.hung_up_by or by
                await self._hang_up_leg(leg)
            if leg.requested and not leg.destroyed and leg.cause is None:
                # Its cause comes with ChannelDestroyed (after a Dial status), or came with its
                # ChannelHangupRequest (a leg that left Stasis may get no ChannelDestroyed).
                await self._pump_until(lambda: leg.destroyed, LEG_CAUSE_WAIT_S)
            if bridge is not None:
                try:
                    await self.ops.destroy_bridge(bridge)  # the caller, if still there, stays in Stasis
                except Exception as exc:
                    log.warning("call %s: destroying bridge %s failed (%s); reconcile will", self.id, bridge, exc)
        except Exception as exc:
            log.warning("call %s: ending transfer leg %s failed: %s", self.id, leg.id, exc)
            if not leg.over:
                self._claims.hang_up_later(leg.id)
        finally:
            leg.ended_at = leg.ended_at or now()
            self._claims.release(leg.id)
            if bridge is not None:
                self._claims.release(bridge)
            self._leg = self._bridge = None
            self._digits.clear()  # keys pressed while ringing or talking were not for the IVR

    async def _hang_up_leg(self, leg: FarLeg) -> None:
        for _ in range(LEG_HANGUP_ATTEMPTS):
            if await hang_up_channel(self.ops, leg.id):
                leg.destroyed = True
                return
            await self._pump_until(lambda: leg.over, LEG_GONE_WAIT_S)
            if leg.over:
                return
        log.error("call %s: leg %s still up after %d hang-ups; the ARI link keeps at it", self.id, leg.id,
                  LEG_HANGUP_ATTEMPTS)
        self._claims.hang_up_later(leg.id)

    def _raise_if_caller_gone(self) -> None:
        """During a transfer the caller's channel going ends it, whoever hung it up (the
        platform too, at shutdown): there is no one left to bridge."""
        if self.hangup_info is not None or self._left_stasis.is_set():
            raise CallerHungUp()

    def resync_leg(self, live: Mapping[str, dict[str, Any]]) -> None:
        """After the ARI websocket came back (live: Asterisk's channels by id): a far leg it no
        longer has is gone; one it has in Stasis, answered, whose StasisStart was lost with the
        old socket, answered then (not "no answer" when its ring time runs out)."""
        leg = self._leg
        if leg is None or not leg.requested or leg.destroyed:
            return
        channel = live.get(leg.id)
        if channel is None:
            self.feed({"type": "ChannelDestroyed", "channel": {"id": leg.id}, "lost": True})
        elif leg.answered_at is None and channel.get("state") == "Up" and \
                channel.get("dialplan", {}).get("app_name") == "Stasis":
            self.feed({"type": "StasisStart", "channel": channel, "args": ["leg", self.id], "resynced": True})

    async def hangup(self) -> None:
        """Ask Asterisk to hang up; ensure_gone() confirms it (and retries a failed request)."""
        if self.hangup_info is None:
            await self._try_hangup("normal")

    async def end(self, reason: str) -> None:
        """End the call from outside its IVR (the node is shutting down). A transfer under way,
        seeing its caller go, hangs up its far leg and removes the bridge."""
        self.ended_by_platform = reason
        await self.hangup()

    # -- a notification call: this call's own channel dialled out ----------------------------------
    async def dial_out(self, endpoint: str, *, caller_id: str, timeout: float, app_args: str) -> FarLeg:
        """Originate this session's channel (its id chosen before, so no event can miss it) to
        `endpoint`, into the Stasis app, and wait until it answers (its StasisStart), is
        refused (busy, unreachable) or rings past `timeout` (then it is hung up). Returns how
        the dial went; an answered call then runs like any other."""
        leg = self._dialling = FarLeg(self.id, now())
        number = CALLER_ID_NOT.sub("", caller_id)[:40]
        try:
            await self.ops.originate(endpoint, self.id, app=self._claims.app, app_args=app_args,
                                     caller_id=f"<{number}>" if number else "",
                                     timeout=math.ceil(timeout) + DIAL_BACKSTOP_S, originator="")
        except Exception as exc:
            if not _refused(exc):
                raise
            leg.error = f"Asterisk refused the dial: {exc}"
            self._left_stasis.set()  # there is no channel to wait for
            self.hangup_info = Hangup(None, None, "platform")
            return leg
        leg.requested = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while leg.answered_at is None and not leg.over:
            if loop.time() >= deadline:
                if leg.dialstatus == "ANSWER" and loop.time() < deadline + ANSWER_GRACE_S:
                    await self._pump_until(lambda: leg.answered_at is not None or leg.over,
                                           deadline + ANSWER_GRACE_S - loop.time())
                    continue
                leg.timed_out = True
                leg.hung_up_by = "platform"
                await self._try_hangup("normal")
                break
            await self._pump_until(lambda: leg.answered_at is not None or leg.over, deadline - loop.time())
        if leg.answered_at is None and leg.requested and not leg.destroyed:
            # Its cause (busy, no answer) comes with ChannelDestroyed.
            await self._pump_until(lambda: leg.destroyed, LEG_CAUSE_WAIT_S)
        self._dialling = None if leg.answered_at is not None else leg
        if leg.destroyed or leg.left:
            self._left_stasis.set()
        leg.ended_at = leg.ended_at or (None if leg.answered_at is not None else now())
        return leg

    # -- used by the inbound handler -----------------------------------------------------------
    async def answer(self) -> None:
        await self._request(self.ops.answer(self.id))

    async def reject(self, reason: str, hangup: Hangup) -> None:
        """End an unanswered call with an ARI hang-up reason (PJSIP turns it into a SIP code)."""
        await self._try_hangup(reason)
        if self.hangup_info is None or self.hangup_info.by == "platform":
            self.hangup_info = hangup

    async def ensure_gone(self, wait_s: float = 2.0) -> None:
        """Return once Asterisk has confirmed the channel left: its StasisEnd came, or a
        hang-up was answered 404. A DELETE that failed or timed out is sent again."""
        delay = 0.2
        for _ in range(HANGUP_ATTEMPTS):
            await self.wait_left(wait_s)
            if self._left_stasis.is_set():
                return
            if await self._try_hangup("normal"):
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise RuntimeError(f"channel {self.id} still up after {HANGUP_ATTEMPTS} hang-ups")

    async def _try_hangup(self, reason: str) -> bool:
        """One DELETE; True when Asterisk says the channel is already gone (404). The call
        counts as hung up by the platform only once Asterisk has taken the request."""
        self._hangup_asked = True
        gone = await hang_up_channel(self.ops, self.id, reason)
        if gone:
            self._left_stasis.set()
        elif gone is False and self.hangup_info is None:
            self.hangup_info = Hangup(16, "Normal Clearing", "platform")
        return bool(gone)

    async def wait_left(self, timeout: float) -> None:
        """Drain events until the channel has left Stasis (so the hang-up cause is known)."""
        await self._pump_until(self._left_stasis.is_set, timeout)

    async def _pump_until(self, done: Callable[[], bool], timeout: float) -> None:
        """Apply the call's events until done() or timeout, the caller gone or not."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done() and (remaining := deadline - loop.time()) > 0:
            try:
                await self._pump(remaining)
            except CallerHungUp:
                pass

    def lost(self) -> None:
        """Asterisk no longer has this channel (it restarted): end whatever is waiting."""
        self.feed({"type": "StasisEnd", "lost": True})

    # -- internals --------------------------------------------------------------------------------
    async def _pump(self, timeout: float | None = None) -> None:
        """Take one event (waiting up to timeout) and apply it to the call's state."""
        try:
            async with asyncio.timeout(timeout):
                event = await self._events.get()
        except TimeoutError:
            return
        self._apply(event)
        self._raise_if_gone()

    def _apply(self, event: dict[str, Any]) -> None:
        subject = _subject(event)
        if self._dialling is not None and subject == self.id:
            self._dialling.apply(event)  # and on: a hang-up is also the call's own
        if subject is not None and subject != self.id:
            # Another channel's: the transfer's far leg, or a late one of an earlier leg. Its
            # keys, its StasisStart, its hang-up are never the caller's.
            if self._leg is not None and subject == self._leg.id:
                self._leg.apply(event)
            return
        kind = event["type"]
        if kind == "ChannelDtmfReceived":
            self._digits.append(event["digit"])
        elif kind == "PlaybackFinished":  # also sent, with state "failed", when media cannot play
            if event["playback"]["id"] == self._playback:
                self._playback_done = True
        elif kind in RECORDING_EVENTS:
            if event.get("recording", {}).get("name") == self._recording and self._recording is not None:
                if kind == "RecordingStarted":
                    self._recording_started = self._recording_started or time.monotonic()
                else:
                    self._recording_end = event
        elif kind in GONE_EVENTS:
            self._note_gone(event)

    async def _check_playback(self, seconds: float | None) -> float:
        """No PlaybackFinished for a while: ask Asterisk how the playback is. Returns how long
        to wait before asking again. A playback of known length is given that length plus a
        margin from the moment Asterisk is first seen playing it (it may have started late,
        fetching its media); still playing after that, it is stuck, and stopped."""
        playback = self._playback
        if playback is None:
            return PLAYBACK_CHECK_S
        try:
            state = await self.ops.playback_state(playback)
        except Exception as exc:
            log.warning("call %s: could not check playback %s: %s", self.id, playback, exc)
            return PLAYBACK_CHECK_S
        if playback != self._playback:
            return PLAYBACK_CHECK_S
        if state is None:
            log.warning("call %s: playback %s ended without an event; going on", self.id, playback)
            self._playback_done = True
        elif seconds is None:
            return PLAYBACK_CHECK_S
        elif state != "playing" or not self._seen_playing:
            self._seen_playing = state == "playing"
            return seconds + PLAYBACK_MARGIN_S
        else:
            log.warning("call %s: playback %s runs past its length; stopping it", self.id, playback)
            await self._request(self.ops.stop_playback(playback))
            self._playback_done = True
        return PLAYBACK_CHECK_S

    def resync(self, alive: bool, finished: str | None = None) -> None:
        """After the ARI websocket came back: events missed while it was down are made up.
        finished: a playback Asterisk no longer has; only the finish of the one still waited
        on is made up (another may have started while the question was on its way)."""
        if not alive:
            self.lost()
        elif finished is not None and finished == self._playback:
            self.feed({"type": "PlaybackFinished", "playback": {"id": finished}})

    def setup_ms(self) -> float:
        """How long the call has waited since its channel was created (the INVITE): the part
        before StasisStart by Asterisk's clock, the rest by this process's own, so the two
        machines' clocks are never compared."""
        waited = (time.monotonic() - self._received_at) * 1000
        try:
            before = (datetime.fromisoformat(self._stasis_at or "")
                      - datetime.fromisoformat(self.channel.get("creationtime", ""))).total_seconds() * 1000
        except ValueError:
            before = 0.0
        return max(before, 0.0) + waited

    @property
    def left(self) -> bool:
        """Asterisk confirmed the channel left (its StasisEnd, or a hang-up answered 404)."""
        return self._left_stasis.is_set()

    @property
    def waiting_on_playback(self) -> str | None:
        return self._playback

    def _note_gone(self, event: dict[str, Any]) -> None:
        if event["type"] == "StasisEnd":
            self._left_stasis.set()
        if event.get("lost"):
            self.hangup_info = self.hangup_info or Hangup(None, "asterisk connection lost", "lost")
            self._left_stasis.set()
            return
        cause = event.get("cause")
        if event.get("soft") and not self._hangup_asked:
            # Asterisk itself hung the channel up (shutting down, an RTP timeout, an operator's
            # command): its `cause` here is a soft-hangup flag, not a Q.850 cause, and the
            # caller did nothing. A cause may still come with ChannelDestroyed.
            self.hangup_info = self.hangup_info or Hangup(None, "ended by Asterisk", "asterisk")
            return
        if self.hangup_info is None:
            self.hangup_info = Hangup(cause, event.get("cause_txt"), "platform" if self._hangup_asked else "caller")
        elif self.hangup_info.cause is None and cause is not None:
            self.hangup_info.cause, self.hangup_info.cause_text = cause, event.get("cause_txt")

    def _raise_if_gone(self) -> None:
        if self.hangup_info is not None and self.hangup_info.by != "platform":
            raise CallerHungUp()

    async def _request(self, request: Any) -> None:
        """An ARI request for this call; a 404 means the channel is already gone."""
        try:
            await request
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                self.hangup_info = self.hangup_info or Hangup(None, "channel gone", "caller")
                raise CallerHungUp() from None
            raise


def _subject(event: dict[str, Any]) -> str | None:
    """The channel an event is about: its `channel`, or a Dial's `peer` (the channel dialled);
    None for events that name a playback or recording instead (or none: a made-up StasisEnd)."""
    named = event.get("channel") or event.get("peer")
    return named.get("id") if isinstance(named, dict) else None

