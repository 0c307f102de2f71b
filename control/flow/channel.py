"""The small interface the engine drives a call through."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Literal, Protocol, Sequence

# How a transfer's far leg went: it answered (and the conversation is over), it was busy, it
# rang until the ring time ran out (or the caller gave up), or it failed (refused, unreachable,
# congested, or the platform could not dial or bridge it).
TransferStatus = Literal["answered", "busy", "no answer", "failed"]


@dataclass(frozen=True)
class TransferOutcome:
    """A transfer's far leg, as the channel saw it: enough for the leg's own call record."""

    status: TransferStatus
    leg_id: str  # the far leg's channel id (chosen before dialling: set even if the dial was refused)
    cause: int | None = None  # the far leg's Q.850 hang-up cause, when Asterisk said
    cause_text: str | None = None
    sip_code: int | None = None  # the far end's SIP answer (486, 404...), when Asterisk said
    started_at: datetime | None = None  # when the dial began
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    # Who ended the leg: "far end" (hung up, refused, or never answered), "caller" (the caller
    # left, and the platform hung the leg up), "platform" (ring time over, an error, shutdown).
    ended_by: str = "far end"
    error: str | None = None  # what failed on the platform's side (Asterisk refused the dial...)


@dataclass(frozen=True)
class DialTarget:
    """Where a transfer may dial, as the tenant's trunks and limits allow."""

    endpoint: str  # the dial string the channel dials: "PJSIP/+442079460000@carrier"
    number: str  # the target as the far leg's call record keeps it: E.164, or the sip: URI
    trunk: str  # the trunk it goes through


class CallerHungUp(Exception):
    """The caller (or the network) ended the call; the engine stops where it is. Raised from
    a transfer, it carries the far leg's outcome so the leg is still recorded."""

    def __init__(self, *args: object, transfer: TransferOutcome | None = None) -> None:
        super().__init__(*args)
        self.transfer = transfer


# How a recording ended: the terminating key, silence_seconds of silence, max_seconds reached,
# the caller hanging up (what was recorded is still there), or Asterisk failing to record.
TakeEnd = Literal["key", "silence", "max", "hangup", "failed"]


@dataclass(frozen=True)
class Take:
    """One recording of the caller, as the channel left it: stored on the media server under
    `name` until a RecordingSink keeps (or discards) it."""

    name: str  # the media server's name for it (Asterisk's stored recording name)
    seconds: float | None  # its length as the media server counts it (whole seconds); None: unknown
    ended_by: TakeEnd
    cause: str | None = None  # why it failed, in the media server's words, when it did


class Channel(Protocol):
    async def play(self, media: Sequence[str], *, barge_in: bool, seconds: float | None = None,
                   stops_on: Callable[[str], bool] | None = None) -> str | None:
        """Play media URIs in order. With barge_in, the first key stops the audio and is
        returned (with stops_on, the first key it accepts: others are dropped, the audio goes
        on); otherwise keys are kept for later and None is returned when the audio ends.
        seconds: how long the media lasts, when known (a playback far past it is stuck)."""

    async def until_gone(self) -> None:
        """Wait until the caller hangs up, then raise CallerHungUp; keys pressed meanwhile are
        kept. Run beside a wait on something else (a webhook) so a caller who left is noticed."""

    async def wait_digit(self, timeout: float) -> str | None:
        """The next key pressed within timeout seconds, or None."""

    def flush_digits(self) -> None:
        """Forget keys pressed before this point (type-ahead is not carried into a menu)."""

    async def record(self, *, max_seconds: float, silence_seconds: float | None, terminate_on: str | None,
                     beep: bool, tag: str = "") -> Take:
        """Record the caller (after a beep, with beep) until terminate_on is pressed,
        silence_seconds of silence (None: silence never ends it), max_seconds, or a hang-up.
        A hang-up during the recording does not raise CallerHungUp when something was
        recorded: the Take comes back with ended_by "hangup" so what was said can still be
        kept, and the caller of record() raises CallerHungUp itself once done with it (a
        caller gone before anything was stored raises it, as every other method does). Keys
        pressed before and during the recording (the terminating one included) are forgotten.
        tag: carried in the take's name (RecordingSink.tag)."""

    async def transfer(self, target: DialTarget, *, caller_id: str, timeout: float) -> TransferOutcome:
        """Dial `target` (its endpoint: an Asterisk dial string, e.g. "PJSIP/+442079460000@carrier")
        presenting caller_id, ringing for at most `timeout` seconds while the caller hears
        ringback. Answered, the caller and the far end are bridged until the far end hangs up;
        the outcome then comes back with status "answered" and the call goes on. Busy, no
        answer or a failure come back as such, the caller still on the line. A caller who hangs
        up (or is hung up) meanwhile raises CallerHungUp carrying the outcome; the far leg is
        hung up whatever happens. Keys pressed during it are forgotten."""

    async def hangup(self) -> None:
        """End the call from the platform's side."""
