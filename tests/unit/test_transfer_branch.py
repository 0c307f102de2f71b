"""The transfer branch on the fake channel: its fields, where each outcome sends the call, the
variable it leaves, the far legs it notes for the records, and targets refused before dialling
(the real dial policy, control/transfers/service.py, over a fixed tenant policy)."""
from __future__ import annotations

from typing import Any

import pytest

from control.flow.branches import TYPES, CallContext
from control.flow.channel import TransferOutcome
from control.flow.document import IvrInvalid, parse_ivr
from control.flow.engine import run_ivr
from control.flow.channel import DialTarget
from control.flow.ports import TenantView
from control.transfers.service import DialPolicy, TrunkTarget, plan
from tests.unit.fakes import HANGUP, EchoMedia, FakeChannel

BYE = {"type": "hangup"}
POLICY = DialPolicy("carrier", frozenset({"US"}), False, TrunkTarget("carrier", "sip.carrier.example", 5060))


class PolicyTargets:
    """TransferTargets over one fixed policy, noting every target asked for."""

    def __init__(self, policy: DialPolicy = POLICY) -> None:
        self.policy = policy
        self.asked: list[tuple[str, str]] = []

    async def target(self, to: str, tenant_id: str) -> DialTarget:
        self.asked.append((to, tenant_id))
        return plan(to, self.policy)


def doc(**fields: Any) -> dict[str, Any]:
    transfer = {"type": "transfer", "to": "+18005550199", "next": "10", "on_fail": "20", **fields}
    return {"branches": {"0": transfer, "10": BYE, "20": BYE}}


def problems(document: dict[str, Any]) -> list[str]:
    with pytest.raises(IvrInvalid) as err:
        parse_ivr(document)
    return err.value.errors


async def run(document: dict[str, Any], *outcomes: TransferOutcome | str, variables: dict[str, str] | None = None,
              targets: PolicyTargets | None = None) -> tuple[FakeChannel, CallContext, str]:
    channel = FakeChannel([], transfers=list(outcomes))
    call = CallContext(channel, EchoMedia(), call_id="c-1", caller="15551230000", did="+18005550100",
                       tenant=TenantView("ten_1"), transfers=targets or PolicyTargets(),
                       variables=dict(variables or {}))
    how = await run_ivr(parse_ivr(document), call)
    return channel, call, how


def visited(call: CallContext) -> list[str]:
    return [b["branch"] for b in call.branch_data]


def test_fields_and_defaults() -> None:
    assert dict(TYPES["transfer"].fields) == {"type": "transfer", "to": None, "timeout": 30, "caller_id": "caller",
                                              "on_fail": None, "next": None}


def test_a_document_round_trips_and_dumps_its_defaults() -> None:
    dumped = parse_ivr(doc()).dump()["branches"]["0"]
    assert dumped == {"type": "transfer", "to": "+18005550199", "timeout": 30, "caller_id": "caller",
                      "next": "10", "on_fail": "20"}
    assert parse_ivr({"branches": {"0": dumped, "10": BYE, "20": BYE}}).dump()["branches"]["0"] == dumped
    bare = parse_ivr({"branches": {"0": {"type": "transfer", "to": "sip:alice@10.0.0.7", "caller_id": "did",
                                         "timeout": 12.5}}}).dump()["branches"]["0"]
    assert bare == {"type": "transfer", "to": "sip:alice@10.0.0.7", "timeout": 12.5, "caller_id": "did"}


@pytest.mark.parametrize("fields, error", [
    ({"to": None}, "branches.0.to: required"),
    ({"to": ""}, "branches.0.to: required"),
    ({"to": ["+18005550199"]}, "branches.0.to: required"),
    ({"to": 442079460000}, 'branches.0.to: write the number as a quoted string ("+442079460000")'),
    ({"to": "+1555123"}, "branches.0.to: '+1555123' is not a valid phone number"),
    ({"to": "alice"}, "branches.0.to: 'alice' must be a phone number"),
    ({"to": "1-800-FLOWERS"}, "branches.0.to: '1-800-FLOWERS' must be a phone number"),
    ({"to": "sip:alice@host;transport=tcp"}, "is not a sip:user@host[:port] URI"),
    ({"to": "sip:al ice@host"}, "is not a sip:user@host[:port] URI"),
    ({"to": "sip:alice@1.2.3.999"}, "neither an IP address nor a valid host name"),
    ({"to": "${a}" * 200}, "branches.0.to: at most 300 printable characters"),
    ({"caller_id": "anonymous"}, 'branches.0.caller_id: must be "caller"'),
    ({"timeout": 0}, "branches.0.timeout: must be a number from 1 to 300"),
    ({"timeout": 301}, "branches.0.timeout: must be a number from 1 to 300"),
    ({"on_fail": "99"}, 'branches.0.on_fail: no branch "99"'),
    ({"ring": 5}, "branches.0.ring: unknown field"),
])
def test_problems_are_named(fields: dict[str, Any], error: str) -> None:
    found = problems(doc(**fields))
    assert any(error in p for p in found), found


def test_numbers_as_documents_write_them() -> None:
    for to in (8005550199, 18005550199, "8005550199", "+44 20 7946 0000", "011442079460000", "(845) 951-1000",
               "${agent}", "+1${agent_number}", "sip:+18005550199@sip.carrier.example:5060"):
        parse_ivr(doc(to=to))


async def test_answered_then_the_far_end_hangs_up_goes_to_next() -> None:
    channel, call, how = await run(doc(timeout=20))
    assert channel.dials == [{"endpoint": "PJSIP/+18005550199@carrier", "caller_id": "15551230000", "timeout": 20}]
    assert visited(call) == ["0", "10"] and how == "completed"
    assert call.branch_data[0] == {"branch": "0", "input": ""}
    assert call.variables == {"transfer_result": "answered"}
    [leg] = call.legs
    assert (leg.number, leg.caller_id, leg.branch, leg.outcome.status) == ("+18005550199", "15551230000", "0",
                                                                          "answered")


@pytest.mark.parametrize("status", ["busy", "no answer", "failed"])
async def test_busy_no_answer_and_failed_go_to_on_fail_with_the_result(status: str) -> None:
    outcome = TransferOutcome(status, "leg-1", cause=17 if status == "busy" else None)  # type: ignore[arg-type]
    _, call, _ = await run(doc(), outcome)
    assert visited(call) == ["0", "20"]
    assert call.variables == {"transfer_result": status}
    assert [leg.outcome for leg in call.legs] == [outcome]
    assert call.reason is None


async def test_without_on_fail_a_failure_goes_on_to_next_and_without_either_the_call_ends_with_a_reason() -> None:
    _, call, _ = await run(doc(on_fail=None), TransferOutcome("busy", "leg-1"))
    assert visited(call) == ["0", "10"]
    _, call, how = await run({"branches": {"0": {"type": "transfer", "to": "+18005550199"}}},
                             TransferOutcome("no answer", "leg-1"))
    assert visited(call) == ["0"] and how == "completed"
    assert call.reason == "transfer 0: +18005550199 no answer"


async def test_a_country_the_tenant_does_not_allow_is_refused_without_dialling() -> None:
    channel, call, _ = await run(doc(to="+442079460000"))
    assert channel.dials == [] and call.legs == []
    assert visited(call) == ["0", "20"] and call.variables == {"transfer_result": "refused"}


async def test_variables_expand_in_to_and_are_checked_after_expansion() -> None:
    targets = PolicyTargets()
    channel, call, _ = await run(doc(to="${agent}"), variables={"agent": "8005550199"}, targets=targets)
    assert targets.asked == [("8005550199", "ten_1")]
    assert channel.dials[0]["endpoint"] == "PJSIP/+18005550199@carrier"
    assert call.legs[0].number == "+18005550199"
    # A webhook's variable cannot send the call abroad, nor anywhere through a dial string.
    for sneaky in ("+442079460000", "011442079460000", "+18005550199@evil", "sip:+442079460000@10.0.0.7:5070",
                   "sip:x@evil.example", "PJSIP/x@carrier", ""):
        channel, call, _ = await run(doc(to="${agent}"), variables={"agent": sneaky})
        assert channel.dials == [], sneaky
        assert call.variables["transfer_result"] == "refused" and visited(call) == ["0", "20"], sneaky


async def test_a_sip_uri_goes_through_the_outbound_trunk_it_names() -> None:
    channel, call, _ = await run(doc(to="sip:alice@sip.carrier.example"))
    assert channel.dials[0]["endpoint"] == "PJSIP/alice@carrier"
    assert call.legs[0].number == "sip:alice@sip.carrier.example"


async def test_caller_id_did_presents_the_number_dialled() -> None:
    channel, call, _ = await run(doc(caller_id="did"))
    assert channel.dials[0]["caller_id"] == "+18005550100" and call.legs[0].caller_id == "+18005550100"


async def test_a_caller_hanging_up_mid_transfer_ends_the_call_and_the_leg_is_still_noted() -> None:
    channel, call, how = await run(doc(), HANGUP)
    assert how == "caller" and not channel.hung_up
    assert visited(call) == ["0"]
    [leg] = call.legs
    assert leg.outcome.ended_by == "caller" and call.variables == {"transfer_result": "answered"}


async def test_a_call_with_no_dial_targets_refuses_without_dialling() -> None:
    channel = FakeChannel([])
    call = CallContext(channel, EchoMedia(), tenant=TenantView("ten_1"))
    await run_ivr(parse_ivr(doc()), call)
    assert channel.dials == [] and call.variables == {"transfer_result": "refused"}


def test_one_number_parser_for_provisioning_goto_and_transfer_targets() -> None:
    from control.flow.dial import parse_phone
    from control.numbers.phone import to_e164

    for text in ("8005550100", "+1 (800) 555-0100", "18005550100"):
        goto = parse_ivr({"branches": {"0": {"type": "goto", "number": text, "branch": "0"}}}).branches["0"]
        assert parse_phone(text).e164 == to_e164(text) == goto.number == "+18005550100"  # type: ignore[attr-defined]
    for text in ("8005550100 ext. 5", "+1555123", "+9991234567"):
        with pytest.raises(ValueError, match="phone number"):
            to_e164(text)
        assert "branches.0.number: must be a phone number" in str(problems(
            {"branches": {"0": {"type": "goto", "number": text, "branch": "0"}}}))
