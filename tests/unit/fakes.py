"""A scripted caller for the flow engine: no Asterisk, just the Channel interface."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Sequence

from control.flow.channel import CallerHungUp
from control.flow.play import PlayItem

HANGUP = "hangup"


@dataclass
class FakeChannel:
    """`script` answers each moment the engine listens for a key, in order: a key ("1"),
    None (silence until the timeout), or HANGUP. A barge-in play listens once (a key then
    stops the audio); a wait_digit listens once."""

    script: list[str | None]
    played: list[list[str]] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    flushes: int = 0
    hung_up: bool = False
    # Keys pressed ahead, before anyone listens (see press()); flush_digits forgets them.
    pressed: deque[str] = field(default_factory=deque)

    def press(self, key: str) -> None:
        self.pressed.append(key)

    def _listen(self) -> str | None:
        if not self.script:
            return None
        step = self.script.pop(0)
        if step == HANGUP:
            raise CallerHungUp()
        return step

    async def play(self, media: Sequence[str], *, barge_in: bool, seconds: float | None = None) -> str | None:
        self.played.append(list(media))
        if not barge_in:
            return None
        if self.pressed:
            return self.pressed.popleft()
        return self._listen()

    async def wait_digit(self, timeout: float) -> str | None:
        self.waits.append(timeout)
        if self.pressed:
            return self.pressed.popleft()
        return self._listen()

    def flush_digits(self) -> None:
        self.flushes += 1
        self.pressed.clear()

    async def hangup(self) -> None:
        self.hung_up = True


class EchoMedia:
    async def resolve(self, items: Sequence[PlayItem]) -> list[str]:
        return [f"{i.type}:{i.value}" for i in items]

    def seconds(self, uris: Sequence[str]) -> float | None:
        return None
