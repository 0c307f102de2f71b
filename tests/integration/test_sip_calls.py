"""Real SIP: SIPp over PJSIP as the carrier's side, RFC 2833 digits."""
from __future__ import annotations

import random
from pathlib import Path

from tests.integration.conftest import TEST_NUMBER, wait_call
from tests.support import sipp
from tests.support.platform import Instance


def sip_call(instance: Instance, tmp_path: Path, number: str, steps: list, caller: str) -> sipp.SippResult:
    return sipp.run(sipp.scenario(steps, caller=caller), workdir=tmp_path, target=instance.sip_target,
                    service=number, media_port=random.randrange(36000, 38000, 2), timeout=60)


def assert_ok(result: sipp.SippResult) -> None:
    assert result.ok, f"SIPp failed ({result.returncode}):\n{result.errors[-3000:]}\n{result.stderr[-2000:]}"


def test_menu_repeats_on_1_then_platform_hangs_up_on_2(platform: Instance, tmp_path: Path) -> None:
    caller = f"1555{random.randrange(10**6, 10**7)}"
    steps = [("pause", 2000), ("dtmf", "1"), ("pause", 2000), ("dtmf", "2"), ("expect_bye",)]
    assert_ok(sip_call(platform, tmp_path, "8005550100", steps, caller))
    call = wait_call(platform, lambda c: c.caller_id == caller)
    assert call.branch_data == [{"branch": "0", "input": "1"}, {"branch": "0", "input": "2"},
                                {"branch": "900", "input": ""}]
    assert call.number == "+18005550100" and call.hangup_by == "platform"


def test_e164_request_uri_reaches_the_same_number(platform: Instance, tmp_path: Path) -> None:
    caller = f"1555{random.randrange(10**6, 10**7)}"
    steps = [("pause", 500), ("dtmf", "2"), ("expect_bye",)]
    assert_ok(sip_call(platform, tmp_path, "+18005550100", steps, caller))
    call = wait_call(platform, lambda c: c.caller_id == caller)
    assert call.number == "+18005550100"
    assert call.branch_data == [{"branch": "0", "input": "2"}, {"branch": "900", "input": ""}]


def test_no_key_times_out_to_on_timeout(platform: Instance, tmp_path: Path) -> None:
    caller = f"1555{random.randrange(10**6, 10**7)}"
    assert_ok(sip_call(platform, tmp_path, TEST_NUMBER[2:], [("expect_bye",)], caller))
    call = wait_call(platform, lambda c: c.caller_id == caller)
    assert call.branch_data == [{"branch": "0", "input": ""}, {"branch": "900", "input": ""}]


def test_unknown_number_gets_404_and_a_record(platform: Instance, tmp_path: Path) -> None:
    caller = f"1555{random.randrange(10**6, 10**7)}"
    assert_ok(sip_call(platform, tmp_path, "8005550199", [("expect", 404)], caller))
    call = wait_call(platform, lambda c: c.caller_id == caller)
    assert call.number == "8005550199" and call.hangup_cause == 1 and call.answered_at is None
    assert "refusing call" in platform.log_path.read_text()


def test_caller_bye_mid_menu(platform: Instance, tmp_path: Path) -> None:
    caller = f"1555{random.randrange(10**6, 10**7)}"
    assert_ok(sip_call(platform, tmp_path, "8005550100", [("pause", 1000), ("bye",)], caller))
    call = wait_call(platform, lambda c: c.caller_id == caller)
    assert call.hangup_by == "caller" and call.branch_data == []


def test_a_call_to_a_registered_contact_is_routed_by_its_to_header(platform: Instance, tmp_path: Path) -> None:
    """Providers call the contact a trunk registered (user "s") and name the number in To."""
    caller = f"1555{random.randrange(10**6, 10**7)}"
    steps = [("pause", 500), ("dtmf", "2"), ("expect_bye",)]
    result = sipp.run(sipp.scenario(steps, caller=caller, request_uri="sip:s@[remote_ip]:[remote_port]"),
                      workdir=tmp_path, target=platform.sip_target, service="8005550100",
                      media_port=random.randrange(36000, 38000, 2), timeout=60)
    assert result.ok, platform.log_tail(5)
    call = wait_call(platform, lambda c: c.caller_id == caller)
    assert call.number == "+18005550100"
    assert call.branch_data == [{"branch": "0", "input": "2"}, {"branch": "900", "input": ""}]
