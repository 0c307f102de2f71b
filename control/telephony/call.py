"""One call's view of ARI: its own ordered event queue, and the Channel the engine drives.

The ARI read loop only appends events here (feed); everything that waits, waits in the
call's own task, so a slow call never delays another call's events.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from control.flow.channel import CallerHungUp

log = logging.getLogger(__name__)

GONE_EVENTS = {"StasisEnd", "ChannelHangupRequest", "ChannelDestroyed"}
# Every event type _pump reacts to; AriLink has Asterisk filter out all others.
CALL_EVENTS = ("StasisStart", "ChannelDtmfReceived", "PlaybackFinished", *sorted(GONE_EVENTS))


class AriOps(Protocol):
    """The ARI requests a call makes (implemented by telephony/ari_http.py)."""

    async def answer(self, channel_id: str) -> None: ...
    async def play(self, channel_id: str, media: Sequence[str], playback_id: str) -> None: ...
    async def stop_playback(self, playback_id: str) -> None: ...
    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...


@dataclass
class Hangup:
    cause: int | None = None
    cause_text: str | None = None
    by: str = "caller"


class CallSession:
    def __init__(self, ops: AriOps, channel: dict[str, Any], args: list[str]) -> None:
        self.ops = ops
        self.id: str = channel["id"]
        self.channel = channel
        self.args = args
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._digits: deque[str] = deque()
        # The one playback this call waits on; a stopped one's late PlaybackFinished is ignored.
        self._playback: str | None = None
        self._playback_done = False
        self.hangup_info: Hangup | None = None
        self._left_stasis = asyncio.Event()

    # -- called from the ARI read loop: never awaits --------------------------------------
    def feed(self, event: dict[str, Any]) -> None:
        self._events.put_nowait(event)

    # -- details of the call ----------------------------------------------------------------
    @property
    def dialled(self) -> str:
        return str(self.channel.get("dialplan", {}).get("exten", ""))

    @property
    def caller(self) -> tuple[str, str]:
        c = self.channel.get("caller", {})
        return str(c.get("number", "")), str(c.get("name", ""))

    # -- the Channel interface the flow engine uses -------------------------------------------
    async def play(self, media: Sequence[str], *, barge_in: bool) -> str | None:
        self._raise_if_gone()
        if barge_in and self._digits:
            return self._digits.popleft()
        if not media:
            return None
        self._playback, self._playback_done = uuid.uuid4().hex, False
        try:
            await self._request(self.ops.play(self.id, media, self._playback))
            while not self._playback_done:
                await self._pump()
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
        self._digits.clear()

    async def hangup(self) -> None:
        if self.hangup_info is None:
            self.hangup_info = Hangup(16, "Normal Clearing", "platform")
            await self._request(self.ops.hangup(self.id), missing_ok=True)

    # -- used by the inbound handler -----------------------------------------------------------
    async def answer(self) -> None:
        await self._request(self.ops.answer(self.id))

    async def reject(self, reason: str) -> None:
        self.hangup_info = Hangup(None, reason, "platform")
        await self._request(self.ops.hangup(self.id, reason), missing_ok=True)

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
        kind = event["type"]
        if kind == "ChannelDtmfReceived":
            self._digits.append(event["digit"])
        elif kind == "PlaybackFinished":  # also sent, with state "failed", when media cannot play
            if event["playback"]["id"] == self._playback:
                self._playback_done = True
        elif kind in GONE_EVENTS:
            self._note_gone(event)
        self._raise_if_gone()

    def _note_gone(self, event: dict[str, Any]) -> None:
        if event["type"] == "StasisEnd":
            self._left_stasis.set()
        if event.get("lost"):
            self.hangup_info = self.hangup_info or Hangup(None, "asterisk connection lost", "lost")
            self._left_stasis.set()
            return
        cause = event.get("cause")
        if self.hangup_info is None:
            self.hangup_info = Hangup(cause, event.get("cause_txt"), "caller")
        elif self.hangup_info.cause is None and cause is not None:
            self.hangup_info.cause, self.hangup_info.cause_text = cause, event.get("cause_txt")

    def _raise_if_gone(self) -> None:
        if self.hangup_info is not None and self.hangup_info.by != "platform":
            raise CallerHungUp()

    async def _request(self, request: Any, missing_ok: bool = False) -> None:
        """An ARI request for this call; a 404 means the channel is already gone."""
        try:
            await request
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                if missing_ok:
                    return
                self.hangup_info = self.hangup_info or Hangup(None, "channel gone", "caller")
                raise CallerHungUp() from None
            raise
