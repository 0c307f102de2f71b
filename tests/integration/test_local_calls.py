"""Calls from a dialplan caller over a Local channel: quick, no SIP involved."""
from __future__ import annotations

import uuid

from tests.integration.conftest import TEST_NUMBER, wait_call
from tests.support.platform import Instance


def call_local(instance: Instance, number: str, script: str, caller: str = "15550001111") -> str:
    """Originate Local/NUMBER@voicectl-inbound from `caller`; the other half runs the caller
    script (w<seconds> waits, d<keys> sends DTMF). Returns the id of the platform's side."""
    # Asterisk checks ids for uniqueness by prefix: neither id may start with the other.
    ours = f"test-{uuid.uuid4().hex[:12]}"
    instance.ari("POST", "channels", params={
        "endpoint": f"Local/{number}@voicectl-inbound", "context": "voicectl-test-caller",
        "extension": "s", "priority": "1", "callerId": f"Local Tester <{caller}>",
        "channelId": ours.replace("test-", "caller-"), "otherChannelId": ours,
    }, body={"variables": {"VC_SCRIPT": script}})
    return ours


def test_menu_repeats_on_1_then_ends_on_2(platform: Instance) -> None:
    call_id = call_local(platform, "8005550100", "w2,d1,w2,d2,w30")
    call = wait_call(platform, lambda c: c.id == call_id)
    assert call.branch_data == [{"branch": "0", "input": "1"}, {"branch": "0", "input": "2"},
                                {"branch": "900", "input": ""}]
    assert call.number == "+18005550100"
    assert (call.caller_id, call.caller_name) == ("15550001111", "Local Tester")
    assert call.hangup_by == "platform" and call.hangup_cause == 16
    assert call.answered_at is not None and call.started_at <= call.answered_at <= call.ended_at


def test_silence_times_out_to_on_timeout(platform: Instance) -> None:
    call_id = call_local(platform, TEST_NUMBER, "w30")
    call = wait_call(platform, lambda c: c.id == call_id)
    assert call.branch_data == [{"branch": "0", "input": ""}, {"branch": "900", "input": ""}]
    assert call.hangup_by == "platform"


def test_caller_hanging_up_mid_menu_is_recorded_as_such(platform: Instance) -> None:
    call_id = call_local(platform, "8005550100", "w1")
    call = wait_call(platform, lambda c: c.id == call_id)
    assert call.branch_data == []
    assert call.hangup_by == "caller"


def test_content_branch_then_hangup(platform: Instance) -> None:
    call_id = call_local(platform, TEST_NUMBER, "w0.3,d3,w20")
    call = wait_call(platform, lambda c: c.id == call_id)
    assert call.branch_data == [{"branch": "0", "input": "3"}, {"branch": "10", "input": ""},
                                {"branch": "900", "input": ""}]
