"""A recipient's states. `queued` and `sending` are not final; every other one is."""
from __future__ import annotations

QUEUED = "queued"  # waiting for its time (to_be_sent, the send window, a retry)
SENDING = "sending"  # claimed by a node: a message being handed over, a call ringing or up
SENT = "sent"  # a message Asterisk accepted for the trunk
ANSWERED = "answered"
BUSY = "busy"
NO_ANSWER = "no answer"
FAILED = "failed"
DNC = "dnc"  # opted out or put on the do-not-call list after it was queued: never sent
CANCELLED = "cancelled"
# Claimed by a node that died before recording how it went: maybe sent (a message handed to
# Asterisk just before the crash, a call cut by it), so never sent again automatically.
INTERRUPTED = "interrupted"

OPEN = (QUEUED, SENDING)
FINAL = (SENT, ANSWERED, BUSY, NO_ANSWER, FAILED, DNC, CANCELLED, INTERRUPTED)
ALL = OPEN + FINAL
RETRIED = frozenset({BUSY, NO_ANSWER})  # a call's outcomes tried again while attempts are left
