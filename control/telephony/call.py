"""One call's view of ARI: its own ordered event queue, and the Channel the engine drives.

The ARI read loop only appends events here (feed); everything that waits, waits in the
call's own task, so a slow call never delays another call's events.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, Sequence

from control.flow.channel import CallerHungUp

log = logging.getLogger(__name__)

GONE_EVENTS = {"StasisEnd", "ChannelHangupRequest", "ChannelDestroyed"}
# A playback whose PlaybackFinished has not come by its known length plus a margin (or, length
# unknown, after PLAYBACK_CHECK_S) is checked with Asterisk: a missed event (a websocket that
# dropped it) must not leave the caller in silence for ever, nor a playback stuck in Asterisk.
PLAYBACK_CHECK_S = 15.0
PLAYBACK_MARGIN_S = 3.0
# Hang-up is confirmed: this many DELETEs, each followed by a wait for the channel to leave.
HANGUP_ATTEMPTS = 6
# Every event type _pump reacts to; AriLink has Asterisk filter out all others.
CALL_EVENTS = ("StasisStart", "ChannelDtmfReceived", "PlaybackFinished", *sorted(GONE_EVENTS))


class AriOps(Protocol):
    """The ARI requests a call makes (implemented by telephony/ari_http.py)."""

    async def answer(self, channel_id: str) -> None: ...
    async def play(self, channel_id: str, media: Sequence[str], playback_id: str) -> None: ...
    async def stop_playback(self, playback_id: str) -> None: ...
    async def playback_state(self, playback_id: str) -> str | None: ...
    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...


@dataclass
class Hangup:
    cause: int | None = None
    cause_text: str | None = None
    by: str = "caller"


class CallSession:
    def __init__(self, ops: AriOps, channel: dict[str, Any], args: list[str], stasis_at: str | None = None) -> None:
        self.ops = ops
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
        self.hangup_info: Hangup | None = None
        # Why the platform ended the call from outside the IVR (shutdown), for its record.
        self.ended_by_platform: str | None = None
        # A hang-up was asked for: if the channel then goes, it went because we asked, even
        # when the answer to the request was lost on the way.
        self._hangup_asked = False
        self._left_stasis = asyncio.Event()

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
    async def play(self, media: Sequence[str], *, barge_in: bool, seconds: float | None = None) -> str | None:
        self._raise_if_gone()
        if barge_in and self._digits:
            return self._digits.popleft()
        if not media:
            return None
        self._playback, self._playback_done = uuid.uuid4().hex, False
        try:
            await self._request(self.ops.play(self.id, media, self._playback))
            loop = asyncio.get_running_loop()
            self._seen_playing = False
            check_at = loop.time() + (seconds + PLAYBACK_MARGIN_S if seconds is not None else PLAYBACK_CHECK_S)
            while not self._playback_done:
                await self._pump(max(check_at - loop.time(), 0))
                if not self._playback_done and loop.time() >= check_at:
                    check_at = loop.time() + await self._check_playback(seconds)
                if barge_in and self._digits:
                    await self._request(self.ops.stop_playback(self._playback))
                    return self._digits.popleft()
            return None
        finally:
            self._playback = None

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

    async def hangup(self) -> None:
        """Ask Asterisk to hang up; ensure_gone() confirms it (and retries a failed request)."""
        if self.hangup_info is None:
            await self._try_hangup("normal")

    async def end(self, reason: str) -> None:
        """End the call from outside its IVR (the node is shutting down)."""
        self.ended_by_platform = reason
        await self.hangup()

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
        try:
            await self.ops.hangup(self.id, reason)
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                self._left_stasis.set()
                return True
            log.warning("call %s: hang-up request failed (%s); will retry", self.id, exc or type(exc).__name__)
            return False
        if self.hangup_info is None:
            self.hangup_info = Hangup(16, "Normal Clearing", "platform")
        return False

    async def wait_left(self, timeout: float) -> None:
        """Drain events until the channel has left Stasis (so the hang-up cause is known)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._left_stasis.is_set() and loop.time() < deadline:
            try:
                await self._pump(deadline - loop.time())
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
        kind = event["type"]
        if kind == "ChannelDtmfReceived":
            self._digits.append(event["digit"])
        elif kind == "PlaybackFinished":  # also sent, with state "failed", when media cannot play
            if event["playback"]["id"] == self._playback:
                self._playback_done = True
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

    def resync(self, channel_alive: bool, checked: str | None = None, playback_alive: bool | None = None) -> None:
        """After the ARI websocket came back: events missed while it was down are made up.
        checked: the playback whose life was asked about; only its own finish is made up
        (another may have started while the question was on its way)."""
        if not channel_alive:
            self.lost()
        elif playback_alive is False and checked is not None and checked == self._playback:
            self.feed({"type": "PlaybackFinished", "playback": {"id": checked}})

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
