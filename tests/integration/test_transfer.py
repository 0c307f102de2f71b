"""The transfer branch on a real Asterisk over real SIP: a SIPp caller reaches an IVR whose
transfer dials, through a trunk, a second SIPp playing the far end, which answers (and later
hangs up), is busy, or rings past the ring time. Both legs are recorded, the far one linked to
the call; nothing is left in Asterisk. One instance of its own."""
from __future__ import annotations

import json
import random
import re
import socket
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from control.calls.service import legs_of
from tests.integration.conftest import wait_call
from tests.integration.started import demo_instance
from tests.support import sipp
from tests.support.platform import Instance, free_port

RTP = (49000, 49999)
FAR = "127.0.0.6"  # the far end's address: the trunk "far" targets it
TARGET = "+18005550199"
BEEP = [{"type": "sound", "name": "beep"}]
ANSWERED, BUSY, NO_ANSWER, REFUSED = "+18005550401", "+18005550402", "+18005550403", "+18005550404"


def transfer_ivr(to: str, **fields: Any) -> dict[str, Any]:
    return {"branches": {
        "0": {"type": "transfer", "to": to, "next": "10", "on_fail": "50", **fields},
        "10": {"type": "content", "play": BEEP, "next": "900"},
        "50": {"type": "hangup"}, "900": {"type": "hangup"},
    }}


IVRS = {
    ANSWERED: transfer_ivr(TARGET, timeout=15),
    BUSY: transfer_ivr(TARGET[2:], caller_id="did"),  # 10-digit, as Voitex writes numbers
    NO_ANSWER: transfer_ivr(TARGET, timeout=2),
    REFUSED: transfer_ivr("+442079460000"),  # the tenant's numbers are all +1
}


@pytest.fixture(scope="module")
def transfers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Instance, int]]:
    far_port = free_port(socket.SOCK_DGRAM)

    def provision(instance: Instance) -> None:
        tenant = json.loads(instance.cli("number", "list", "--json").stdout)[0]["tenant"]
        instance.cli("trunk", "add", "far", "--match", FAR, "--target", f"{FAR}:{far_port}")
        instance.cli("tenant", "set", tenant, "--outbound-trunk", "far")
        for number, document in IVRS.items():
            instance.cli("number", "add", number, "--tenant", tenant)
            path = instance.data_dir / f"ivr-{number.lstrip('+')}.json"
            path.write_text(json.dumps(document))
            instance.cli("ivr", "import", str(path), "--number", number)

    with demo_instance(tmp_path_factory.mktemp("transfer"), rtp=RTP, provision=provision) as instance:
        yield instance, far_port


def far_end(tmp_path: Path, port: int, kind: str, **timing: int) -> sipp.Uas:
    return sipp.start_uas(sipp.far_end(kind, **timing), workdir=tmp_path / "far", local_ip=FAR, port=port,
                          timeout=40, media_port=random.randrange(39000, 39998, 2))


def sip_call(instance: Instance, tmp_path: Path, number: str, caller: str) -> sipp.SippResult:
    """The caller waits for the platform to hang up (after the far end did, or on_fail)."""
    return sipp.run(sipp.scenario([("expect_bye",)], caller=caller), workdir=tmp_path / "caller",
                    target=instance.sip_target, service=number[2:], media_port=random.randrange(36000, 38000, 2),
                    timeout=45)


def assert_ok(result: sipp.SippResult, who: str) -> None:
    assert result.ok, f"{who}: SIPp failed ({result.returncode}):\n{result.errors[-3000:]}\n{result.stderr[-1000:]}"


def new_caller() -> str:
    return f"1555{random.randrange(10**6, 10**7)}"


def the_call(instance: Instance, caller: str) -> Any:
    return wait_call(instance, lambda c: c.caller_id == caller and c.parent_id is None)


def far_legs(instance: Instance, call_id: str) -> list[Any]:
    return instance.db(lambda db: legs_of(db, call_id))


def branches(call: Any) -> list[str]:
    return [b["branch"] for b in call.branch_data]


def assert_nothing_left(instance: Instance) -> None:
    """No channel and no bridge stays in Asterisk once the calls are over."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        channels, bridges = instance.ari("GET", "channels"), instance.ari("GET", "bridges")
        if not channels and not bridges:
            return
        time.sleep(0.3)
    raise AssertionError(f"left in Asterisk: {channels} {bridges}\n{instance.log_tail()}")


def test_answered_the_caller_talks_until_the_far_end_hangs_up_then_next_runs(
        transfers: tuple[Instance, int], tmp_path: Path) -> None:
    instance, port = transfers
    far = far_end(tmp_path, port, "answer", ring_ms=500, talk_ms=2000)
    caller = new_caller()
    try:
        result = sip_call(instance, tmp_path, ANSWERED, caller)
        far_result = far.wait(30)
    finally:
        far.stop()
    assert_ok(result, "caller")
    assert_ok(far_result, "far end")
    call = the_call(instance, caller)
    assert branches(call) == ["0", "10", "900"], instance.log_tail()
    assert call.variables == {"transfer_result": "answered"} and call.hangup_by == "platform"
    leg = wait_call(instance, lambda c: c.parent_id == call.id)
    assert [c.id for c in far_legs(instance, call.id)] == [leg.id]
    assert (leg.direction, leg.number, leg.caller_id, leg.tenant_id) == ("outbound", TARGET, caller, call.tenant_id)
    assert (leg.hangup_by, leg.hangup_cause, leg.variables) == ("far end", 16, {"transfer_result": "answered"})
    assert call.answered_at <= leg.started_at <= leg.answered_at <= leg.ended_at <= call.ended_at
    talked = (leg.ended_at - leg.answered_at).total_seconds()
    assert 1.5 < talked < 5, talked
    assert leg.id.startswith(instance.env["VOICECTL_NODE"] + "-t1-") and leg.node == call.node

    messages = (tmp_path / "far" / "messages.log").read_text()
    assert f"INVITE sip:{TARGET}@{FAR}:{port} SIP/2.0" in messages
    assert re.search(rf"^From: .*<sip:{caller}@", messages, re.M), "the caller's number is presented"
    code, health = instance.health()
    assert health["records"]["dead_letters"] == 0, "the far leg was never taken for an inbound call"
    assert_nothing_left(instance)
    shown = instance.cli("calls", "show", call.id).stdout
    assert f"transfer  {leg.id} -> {TARGET}  answered" in shown


def test_busy_goes_to_on_fail_with_transfer_result_busy(transfers: tuple[Instance, int], tmp_path: Path) -> None:
    instance, port = transfers
    far = far_end(tmp_path, port, "busy", ring_ms=300)
    caller = new_caller()
    try:
        result = sip_call(instance, tmp_path, BUSY, caller)
        far_result = far.wait(30)
    finally:
        far.stop()
    assert_ok(result, "caller")
    assert_ok(far_result, "far end")
    call = the_call(instance, caller)
    assert branches(call) == ["0", "50"] and call.variables == {"transfer_result": "busy"}
    leg = wait_call(instance, lambda c: c.parent_id == call.id)
    assert (leg.hangup_cause, leg.answered_at, leg.hangup_by) == (17, None, "far end")
    assert leg.variables == {"transfer_result": "busy", "sip_code": "486"}
    assert leg.number == TARGET and leg.caller_id == BUSY, "caller_id: did presents the number dialled"
    messages = (tmp_path / "far" / "messages.log").read_text()
    assert re.search(rf"^From: .*<sip:\+?{BUSY[1:]}@", messages, re.M), messages[:2000]
    assert_nothing_left(instance)


def test_no_answer_within_the_ring_time_goes_to_on_fail(transfers: tuple[Instance, int], tmp_path: Path) -> None:
    instance, port = transfers
    far = far_end(tmp_path, port, "ring")
    caller = new_caller()
    try:
        result = sip_call(instance, tmp_path, NO_ANSWER, caller)
        far_result = far.wait(30)
    finally:
        far.stop()
    assert_ok(result, "caller")
    assert_ok(far_result, "far end (CANCELled)")
    call = the_call(instance, caller)
    assert branches(call) == ["0", "50"] and call.variables == {"transfer_result": "no answer"}
    leg = wait_call(instance, lambda c: c.parent_id == call.id)
    assert (leg.answered_at, leg.hangup_by, leg.variables) == (None, "platform", {"transfer_result": "no answer"})
    rang = (leg.ended_at - leg.started_at).total_seconds()
    assert 1.8 < rang < 4, rang
    assert_nothing_left(instance)


def test_a_country_the_tenant_does_not_allow_is_never_dialled(transfers: tuple[Instance, int],
                                                              tmp_path: Path) -> None:
    instance, _ = transfers
    caller = new_caller()
    assert_ok(sip_call(instance, tmp_path, REFUSED, caller), "caller")
    call = the_call(instance, caller)
    assert branches(call) == ["0", "50"] and call.variables == {"transfer_result": "refused"}
    assert far_legs(instance, call.id) == []
    assert "+442079460000 (GB, +44) is not allowed" in instance.log_path.read_text()
