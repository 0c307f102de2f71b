"""Calls the dialplan refused before Stasis (the admission gate closed, or `Stasis()` failed),
recorded from the AMI UserEvent it raises: the control plane never saw them otherwise."""
from __future__ import annotations

from typing import Mapping
from urllib.parse import unquote

from control.calls.recorder import CallRecorder
from control.calls.service import CallEnd, CallStart
from control.clock import now
from control.telephony.inbound import FAILURE_CAUSE

EVENT = "VoicectlRefused"  # the name the inbound dialplan gives its UserEvent


def record_refusal(recorder: CallRecorder, node: str, event: Mapping[str, str], why: str | None) -> None:
    """Record one refusal; any other event, or one without the call's id, is ignored. The
    values come URI-encoded, so no caller-supplied text can break the event apart."""
    def field(name: str) -> str:
        value = event.get(name, "")
        return unquote(value) if isinstance(value, str) else ""

    call_id = field("VcId")
    if event.get("UserEvent") != EVENT or not call_id:
        return
    stasis_failed = field("VcStasis") == "FAILED"
    reason = "refused: the Stasis app was not registered" if stasis_failed else f"refused: {why or 'gate closed'}"
    recorder.started(CallStart(call_id, "inbound", field("VcExten"), field("VcCaller"), field("VcName"),
                               None, now(), None, node))
    recorder.ended(call_id, CallEnd(*FAILURE_CAUSE, "platform", [], reason))
