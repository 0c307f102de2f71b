"""Run an IVR on a call: from branch "0", follow each branch's answer until one ends the call."""
from __future__ import annotations

import logging

from control.flow.branches import CallContext
from control.flow.channel import CallerHungUp
from control.flow.document import ENTRY, Ivr

log = logging.getLogger(__name__)

# Branches that play nothing and wait for nothing could loop forever without yielding to the
# caller; a call that visits this many branches is ended instead.
MAX_VISITS = 500


async def run_ivr(ivr: Ivr, call: CallContext, start: str = ENTRY) -> str:
    """Returns how the call ended: "completed" (the IVR hung up) or "caller" (caller hung up).
    Branches run from call.ivr, which a goto to another number replaces; a branch that is not
    there (a webhook's goto, or another IVR changed under the call) ends the call with a reason."""
    call.ivr = ivr
    current: str | None = start
    visits = 0
    try:
        while current is not None:
            visits += 1
            if visits > MAX_VISITS:
                call.end_because(f"the IVR visited {MAX_VISITS} branches without ending")
                break
            branch = call.ivr.branches.get(current)  # set above, never to None: a goto replaces it
            if branch is None:
                call.end_because(f'no branch "{current}" in the IVR')
                break
            current = await branch.run(call)
        await call.channel.hangup()
        return "completed"
    except CallerHungUp:
        return "caller"
