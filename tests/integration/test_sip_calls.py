"""Real SIP: SIPp over PJSIP as the carrier's side, RFC 2833 digits."""
from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import TEST_NUMBER, wait_call
from tests.support import sipp
from tests.support.platform import Instance


def sip_call(instance: Instance, tmp_path: Path, number: str, steps: list, caller: str, **scenario_kw: str
             ) -> sipp.SippResult:
    return sipp.sip_call(instance.sip_target, tmp_path, number, steps, caller=caller, **scenario_kw)


def test_menu_repeats_on_1_then_platform_hangs_up_on_2(platform: Instance, tmp_path: Path) -> None:
    caller = sipp.new_caller()
    steps = [("pause", 2000), ("dtmf", "1"), ("pause", 2000), ("dtmf", "2"), ("expect_bye",)]
    sipp.assert_ok(sip_call(platform, tmp_path, "8005550100", steps, caller))
    call = wait_call(platform, lambda c: c.caller_id == caller)
    assert call.branch_data == [{"branch": "0", "input": "1"}, {"branch": "0", "input": "2"},
                                {"branch": "900", "input": ""}]
    assert call.number == "+18005550100" and call.hangup_by == "platform"


def test_e164_request_uri_reaches_the_same_number(platform: Instance, tmp_path: Path) -> None:
    caller = sipp.new_caller()
    steps = [("pause", 500), ("dtmf", "2"), ("expect_bye",)]
    sipp.assert_ok(sip_call(platform, tmp_path, "+18005550100", steps, caller))
    call = wait_call(platform, lambda c: c.caller_id == caller)
    assert call.number == "+18005550100"
    assert call.branch_data == [{"branch": "0", "input": "2"}, {"branch": "900", "input": ""}]


def test_no_key_times_out_to_on_timeout(platform: Instance, tmp_path: Path) -> None:
    caller = sipp.new_caller()
    sipp.assert_ok(sip_call(platform, tmp_path, TEST_NUMBER[2:], [("expect_bye",)], caller))
    call = wait_call(platform, lambda c: c.caller_id == caller)
    assert call.branch_data == [{"branch": "0", "input": ""}, {"branch": "900", "input": ""}]


def test_unknown_number_gets_404_and_a_record(platform: Instance, tmp_path: Path) -> None:
    caller = sipp.new_caller()
    sipp.assert_ok(sip_call(platform, tmp_path, "8005550199", [("expect", 404)], caller))
    call = wait_call(platform, lambda c: c.caller_id == caller)
    assert call.number == "8005550199" and call.hangup_cause == 1 and call.answered_at is None
    assert "refusing call" in platform.log_path.read_text()


def test_caller_bye_mid_menu(platform: Instance, tmp_path: Path) -> None:
    caller = sipp.new_caller()
    sipp.assert_ok(sip_call(platform, tmp_path, "8005550100", [("pause", 1000), ("bye",)], caller))
    call = wait_call(platform, lambda c: c.caller_id == caller)
    assert call.hangup_by == "caller" and call.branch_data == []


def test_a_call_to_a_registered_contact_is_routed_by_its_to_header(platform: Instance, tmp_path: Path) -> None:
    """Providers call the contact a trunk registered (user "s") and name the number in To."""
    caller = sipp.new_caller()
    steps = [("pause", 500), ("dtmf", "2"), ("expect_bye",)]
    result = sip_call(platform, tmp_path, "8005550100", steps, caller, request_uri="sip:s@[remote_ip]:[remote_port]")
    assert result.ok, platform.log_tail(5)
    call = wait_call(platform, lambda c: c.caller_id == caller)
    assert call.number == "+18005550100"
    assert call.branch_data == [{"branch": "0", "input": "2"}, {"branch": "900", "input": ""}]
