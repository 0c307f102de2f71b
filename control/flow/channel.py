"""The small interface the engine drives a call through."""
from __future__ import annotations

from typing import Protocol, Sequence


class CallerHungUp(Exception):
    """The caller (or the network) ended the call; the engine stops where it is."""


class Channel(Protocol):
    async def play(self, media: Sequence[str], *, barge_in: bool, seconds: float | None = None) -> str | None:
        """Play media URIs in order. With barge_in, the first key stops the audio and is
        returned; otherwise keys are ignored and None is returned when the audio ends.
        seconds: how long the media lasts, when known (a playback far past it is stuck)."""

    async def wait_digit(self, timeout: float) -> str | None:
        """The next key pressed within timeout seconds, or None."""

    def flush_digits(self) -> None:
        """Forget keys pressed before this point (type-ahead is not carried into a menu)."""

    async def hangup(self) -> None:
        """End the call from the platform's side."""
