"""A scripted caller for the flow engine, and fakes of its other ports: no Asterisk, no HTTP,
no database."""
from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from control.flow.channel import CallerHungUp, DialTarget, Take, TransferOutcome
from control.flow.document import Ivr
from control.flow.play import MediaMissing, PlayItem
from control.flow.ports import HookAnswer, KeptRecording

HANGUP = "hangup"


@dataclass
class FakeChannel:
    """`script` answers each moment the engine listens for a key, in order: a key ("1"),
    None (silence until the timeout), or HANGUP. A barge-in play listens once (a key then
    stops the audio); a wait_digit listens once.

    Every play yields to other tasks; with `play_seconds` it lasts that long in real time
    before it listens, so a test can overlap it with something else. A play cancelled
    meanwhile (a hold prompt stopped) is noted in `cancelled` and consumes no step."""

    script: list[str | None]
    played: list[list[str]] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    flushes: int = 0
    hung_up: bool = False
    # Keys pressed ahead, before anyone listens (see press()); flush_digits forgets them.
    pressed: deque[str] = field(default_factory=deque)
    play_seconds: float = 0.0
    ignored: list[str] = field(default_factory=list)  # keys a play's stops_on refused
    gone_after: float | None = None  # until_gone(): the caller hangs up this long into a wait
    cancelled: list[list[str]] = field(default_factory=list)
    # What each record() returns, in order (once they run out: a 5 s take ended by the key);
    # each call's arguments go into `recordings`.
    takes: list[Take] = field(default_factory=list)
    recordings: list[dict[str, Any]] = field(default_factory=list)
    # What each transfer() does, in order: an outcome to return, or HANGUP (the caller hangs up
    # while bridged: CallerHungUp carrying the answered leg); once they run out, answered. Each
    # call's arguments go into `dials`.
    transfers: list[TransferOutcome | str] = field(default_factory=list)
    dials: list[dict[str, Any]] = field(default_factory=list)

    def press(self, key: str) -> None:
        self.pressed.append(key)

    def _listen(self) -> str | None:
        if not self.script:
            return None
        step = self.script.pop(0)
        if step == HANGUP:
            raise CallerHungUp()
        return step

    async def play(self, media: Sequence[str], *, barge_in: bool, seconds: float | None = None,
                   stops_on: Callable[[str], bool] | None = None) -> str | None:
        self.played.append(list(media))
        if barge_in and self.pressed:
            return self.pressed.popleft()
        try:
            # Always yield once, as real audio does: a task looping on plays (a hold prompt
            # until an answer comes) lets others run, and can be cancelled mid-play.
            await asyncio.sleep(self.play_seconds)
        except asyncio.CancelledError:
            self.cancelled.append(list(media))
            raise
        if not barge_in:
            return None
        key = self._listen()
        while key is not None and stops_on is not None and not stops_on(key):
            self.ignored.append(key)  # dropped; the audio goes on and listens again
            key = self._listen()
        return key

    async def until_gone(self) -> None:
        """The caller leaves `gone_after` seconds into the wait (None: stays on)."""
        if self.gone_after is None:
            await asyncio.Event().wait()
        await asyncio.sleep(self.gone_after or 0)
        raise CallerHungUp()

    async def wait_digit(self, timeout: float) -> str | None:
        self.waits.append(timeout)
        if self.pressed:
            return self.pressed.popleft()
        return self._listen()

    def flush_digits(self) -> None:
        self.flushes += 1
        self.pressed.clear()

    async def record(self, *, max_seconds: float, silence_seconds: float | None, terminate_on: str | None,
                     beep: bool, tag: str = "") -> Take:
        self.recordings.append({"max_seconds": max_seconds, "silence_seconds": silence_seconds,
                                "terminate_on": terminate_on, "beep": beep, "tag": tag})
        self.pressed.clear()  # keys pressed during a recording are its own
        await asyncio.sleep(0)
        return self.takes.pop(0) if self.takes else Take(f"take-{len(self.recordings)}", 5.0, "key")

    async def transfer(self, target: DialTarget, *, caller_id: str, timeout: float) -> TransferOutcome:
        self.dials.append({"endpoint": target.endpoint, "caller_id": caller_id, "timeout": timeout})
        self.pressed.clear()  # keys pressed while ringing or talking are not the IVR's
        await asyncio.sleep(0)
        leg = f"leg-{len(self.dials)}"
        step = self.transfers.pop(0) if self.transfers else TransferOutcome("answered", leg)
        if step == HANGUP:
            raise CallerHungUp(transfer=TransferOutcome("answered", leg, ended_by="caller"))
        assert isinstance(step, TransferOutcome)
        return step

    async def hangup(self) -> None:
        self.hung_up = True


@dataclass
class EchoMedia:
    """Items as readable URIs: "tts:<text>", "sound:<name>", "file:<album>/<sort>". A file
    in `missing` (album, sort) raises MediaMissing, as a recording that is not there does."""

    missing: set[tuple[str, str]] = field(default_factory=set)
    tenants: list[str] = field(default_factory=list)  # the tenant id of each resolve

    async def resolve(self, items: Sequence[PlayItem], tenant_id: str = "") -> list[str]:
        self.tenants.append(tenant_id)
        uris = []
        for item in items:
            if item.type != "file":
                uris.append(f"{item.type}:{item.value}")
            elif (item.album, item.sort) in self.missing:
                raise MediaMissing(item, f"album {item.album} has no recording {item.sort}")
            else:
                uris.append(f"file:{item.album}/{item.sort}")
        return uris

    def seconds(self, uris: Sequence[str]) -> float | None:
        return None


@dataclass
class FakeIvrs:
    """Other numbers' IVRs by (E.164 number, as goto branches keep it, tenant id)."""

    ivrs: dict[tuple[str, str], Ivr] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)

    async def for_number(self, number: str, tenant_id: str) -> Ivr | None:
        self.asked.append((number, tenant_id))
        return self.ivrs.get((number, tenant_id))


@dataclass
class FakeWebhooks:
    """Answers posts in order from `answers` (the last one again once they run out), each
    after `delay` seconds; a delay past the post's timeout answers as a timeout does."""

    answers: list[HookAnswer]
    delay: float = 0.0
    posts: list[dict[str, Any]] = field(default_factory=list)

    async def post(self, url: str, body: dict[str, Any], *, secret: str, timeout: float) -> HookAnswer:
        self.posts.append({"url": url, "body": body, "secret": secret, "timeout": timeout})
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if self.delay > timeout:
            await asyncio.sleep(timeout)
            return HookAnswer(None, None, timeout * 1000, f"timeout after {timeout:g} s")
        if self.delay:
            await asyncio.sleep(self.delay)
        return answer


@dataclass
class FakeRecordingSink:
    """Keeps takes as recordings with ids from 100 and sorts from 1 (per album), or raises
    `fail` when set; every discarded take is noted."""

    fail: Exception | None = None
    kept: list[tuple[Take, str, int]] = field(default_factory=list)
    discarded: list[Take] = field(default_factory=list)

    def tag(self, tenant_id: str, album: int) -> str:
        return f"{tenant_id}-a{album}"

    async def keep(self, take: Take, tenant_id: str, album: int) -> KeptRecording:
        if self.fail is not None:
            self.discarded.append(take)
            raise self.fail
        self.kept.append((take, tenant_id, album))
        sort = sum(1 for _, t, a in self.kept if (t, a) == (tenant_id, album))
        return KeptRecording(str(99 + len(self.kept)), sort, take.seconds or 1.0)

    async def discard(self, take: Take) -> None:
        self.discarded.append(take)
