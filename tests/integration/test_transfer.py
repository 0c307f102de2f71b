"""The transfer branch on a real Asterisk over real SIP: a SIPp caller reaches an IVR whose
transfer dials, through a trunk, a second SIPp playing the far end, which answers (and later
hangs up), is busy, or rings past the ring time. Both legs are recorded, the far one linked to
the call; nothing is left in Asterisk. One instance of its own."""
from __future__ import annotations

import random
import re
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest

from control.calls.service import legs_of
from tests.integration.conftest import wait_call
from tests.integration.started import demo_instance
from tests.support import sipp
from tests.support.platform import Instance, free_port
from tests.support.wait import eventually

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
        tenant = instance.first_tenant()
        instance.cli("trunk", "add", "far", "--match", FAR, "--target", f"{FAR}:{far_port}")
        instance.cli("tenant", "set", tenant, "--outbound-trunk", "far")
        for number, document in IVRS.items():
            instance.add_ivr(number, document, tenant)

    with demo_instance(tmp_path_factory.mktemp("transfer"), rtp=RTP, provision=provision) as instance:
        yield instance, far_port


def far_end(tmp_path: Path, port: int, kind: str, **timing: int) -> sipp.Uas:
    return sipp.start_uas(sipp.far_end(kind, **timing), workdir=tmp_path / "far", local_ip=FAR, port=port,
                          timeout=40, media_port=random.randrange(39000, 39998, 2))


def sip_call(instance: Instance, tmp_path: Path, number: str, caller: str) -> sipp.SippResult:
    """The caller waits for the platform to hang up (after the far end did, or on_fail)."""
    return sipp.sip_call(instance.sip_target, tmp_path / "caller", number[2:], [("expect_bye",)], caller=caller,
                         timeout=45)


def the_call(instance: Instance, caller: str) -> Any:
    return wait_call(instance, lambda c: c.caller_id == caller and c.parent_id is None)


def run_transfer(instance: Instance, tmp_path: Path, port: int, number: str, kind: str, far_is: str = "far end",
                 **timing: int) -> tuple[Any, str]:
    """A new caller calls `number` while the far end plays `kind`; both SIPps must have done as
    scripted. The call's record, and the caller."""
    far = far_end(tmp_path, port, kind, **timing)
    caller = sipp.new_caller()
    try:
        result = sip_call(instance, tmp_path, number, caller)
        far_result = far.wait(30)
    finally:
        far.stop()
    sipp.assert_ok(result, "caller")
    sipp.assert_ok(far_result, far_is)
    return the_call(instance, caller), caller


def far_legs(instance: Instance, call_id: str) -> list[Any]:
    return instance.db(lambda db: legs_of(db, call_id))


def branches(call: Any) -> list[str]:
    return [b["branch"] for b in call.branch_data]


def assert_nothing_left(instance: Instance) -> None:
    """No channel and no bridge stays in Asterisk once the calls are over."""
    eventually(lambda: not instance.ari("GET", "channels") and not instance.ari("GET", "bridges"), 10,
               lambda: f"left in Asterisk: {instance.ari('GET', 'channels')} {instance.ari('GET', 'bridges')}\n"
                       f"{instance.log_tail()}")


def test_answered_the_caller_talks_until_the_far_end_hangs_up_then_next_runs(
        transfers: tuple[Instance, int], tmp_path: Path) -> None:
    instance, port = transfers
    call, caller = run_transfer(instance, tmp_path, port, ANSWERED, "answer", ring_ms=500, talk_ms=2000)
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
    call, _ = run_transfer(instance, tmp_path, port, BUSY, "busy", ring_ms=300)
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
    call, _ = run_transfer(instance, tmp_path, port, NO_ANSWER, "ring", far_is="far end (CANCELled)")
    assert branches(call) == ["0", "50"] and call.variables == {"transfer_result": "no answer"}
    leg = wait_call(instance, lambda c: c.parent_id == call.id)
    assert (leg.answered_at, leg.hangup_by, leg.variables) == (None, "platform", {"transfer_result": "no answer"})
    rang = (leg.ended_at - leg.started_at).total_seconds()
    assert 1.8 < rang < 4, rang
    assert_nothing_left(instance)


def test_a_country_the_tenant_does_not_allow_is_never_dialled(transfers: tuple[Instance, int],
                                                              tmp_path: Path) -> None:
    instance, _ = transfers
    caller = sipp.new_caller()
    sipp.assert_ok(sip_call(instance, tmp_path, REFUSED, caller), "caller")
    call = the_call(instance, caller)
    assert branches(call) == ["0", "50"] and call.variables == {"transfer_result": "refused"}
    assert far_legs(instance, call.id) == []
    assert "+442079460000 (GB, +44) is not allowed" in instance.log_path.read_text()
