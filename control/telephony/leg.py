"""A transfer's far leg as its ARI events tell it: pure state, no requests (telephony/call.py
dials, bridges and hangs it up)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from control.clock import now
from control.flow.channel import TransferOutcome, TransferStatus

# Dial statuses that end a dial unanswered (ANSWER is followed by the leg's StasisStart).
DIAL_ENDED = frozenset({"BUSY", "NOANSWER", "CANCEL", "CONGESTION", "CHANUNAVAIL", "DONTCALL", "TORTURE",
                        "INVALIDARGS"})
BUSY_CAUSE = 17  # Q.850 "user busy" (SIP 486)
NO_ANSWER_CAUSES = frozenset({18, 19})  # "no user responding", "no answer from user"
CALLER_ID_NOT = re.compile(r"[^0-9A-Za-z+*#]")


@dataclass
class FarLeg:
    id: str
    started_at: datetime
    requested: bool = False  # Asterisk took the dial: the channel exists until it is destroyed
    dialstatus: str = ""
    answered_at: datetime | None = None  # its StasisStart came
    left: bool = False  # its StasisEnd came
    destroyed: bool = False
    cause: int | None = None
    cause_text: str | None = None
    sip_code: int | None = None
    ended_at: datetime | None = None
    hung_up_by: str | None = None  # "caller" or "platform" when the platform ended it
    timed_out: bool = False
    error: str | None = None

    @property
    def over(self) -> bool:
        return self.destroyed or self.left or (self.answered_at is None and self.dialstatus in DIAL_ENDED)

    def apply(self, event: dict[str, Any]) -> None:
        """One of the leg's own events (a Dial naming it as peer, or one naming its channel)."""
        kind = event["type"]
        if kind == "Dial":
            self.dialstatus = str(event.get("dialstatus") or "") or self.dialstatus
        elif kind == "StasisStart":
            self.answered_at = self.answered_at or now()
        elif kind == "StasisEnd":
            self.left = True
        elif kind in ("ChannelHangupRequest", "ChannelDestroyed"):
            cause, tech = event.get("cause"), event.get("tech_cause")
            # A soft hang-up's `cause` is a flag, not Q.850; the destroyed channel's cause wins.
            if isinstance(cause, int) and cause and not event.get("soft") and \
                    (kind == "ChannelDestroyed" or self.cause is None):
                self.cause, self.cause_text = cause, event.get("cause_txt") or self.cause_text
            if isinstance(tech, int) and tech:
                self.sip_code = tech
            if kind == "ChannelDestroyed" or event.get("lost"):
                self.destroyed = True
        if self.over and self.ended_at is None:
            self.ended_at = now()

    def status(self) -> TransferStatus:
        if self.error is not None:
            return "failed"
        if self.answered_at is not None:
            return "answered"
        if self.dialstatus == "BUSY" or self.cause == BUSY_CAUSE:
            return "busy"
        if (self.timed_out or self.hung_up_by == "caller" or self.dialstatus == "NOANSWER"
                or self.cause in NO_ANSWER_CAUSES):
            return "no answer"
        return "failed"

    def outcome(self) -> TransferOutcome:
        """Once the transfer is over (its end sets ended_at)."""
        return TransferOutcome(self.status(), self.id, self.cause, self.cause_text, self.sip_code, self.started_at,
                               self.answered_at, self.ended_at,
                               self.hung_up_by or ("platform" if self.error and not self.requested else "far end"),
                               self.error)
