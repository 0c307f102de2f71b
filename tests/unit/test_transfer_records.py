"""Both legs of a transfer are recorded: the real InboundCalls, CallSession and CallRecorder on a
real SQLite, ARI played by hand; and a journal from before far legs existed still replays."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from sqlalchemy.ext.asyncio import async_sessionmaker

from control.calls.recorder import CallRecorder
from control.calls.service import CallEnd, CallStart, get_call, legs_of
from control.ivrs.service import import_ivr
from control.numbers.service import add_number
from control.telephony.inbound import InboundCalls
from control.tenants.service import create_tenant
from tests.unit.fakes import EchoMedia
from tests.unit.test_inbound_paths import Ops, new_call
from tests.unit.test_transfer_branch import PolicyTargets

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


class TransferOps(Ops):
    """The far end answers at once and hangs up as soon as it is bridged; or is busy."""

    def __init__(self, busy: bool = False) -> None:
        super().__init__()
        self.busy = busy

    def _emit(self, event: dict[str, Any]) -> None:
        assert self.session is not None
        self.session.feed(event)

    async def originate(self, endpoint: str, channel_id: str, **params: Any) -> None:
        self.requests.append(("originate", endpoint))
        if self.busy:
            self._emit({"type": "Dial", "peer": {"id": channel_id}, "dialstatus": "BUSY"})
            self._emit({"type": "ChannelDestroyed", "channel": {"id": channel_id}, "cause": 17,
                        "cause_txt": "User busy", "tech_cause": 486})
        else:
            self._emit({"type": "StasisStart", "channel": {"id": channel_id}, "args": ["leg", "c1"]})

    async def ring(self, channel_id: str) -> None:
        self.requests.append(("ring", channel_id))

    async def stop_ringing(self, channel_id: str) -> None:
        self.requests.append(("stop_ringing", channel_id))

    async def create_bridge(self, bridge_id: str) -> None:
        self.requests.append(("create_bridge", bridge_id))

    async def add_to_bridge(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        self.requests.append(("add_to_bridge", bridge_id))
        self._emit({"type": "ChannelHangupRequest", "channel": {"id": channel_ids[1]}, "cause": 16})
        self._emit({"type": "StasisEnd", "channel": {"id": channel_ids[1]}})

    async def destroy_bridge(self, bridge_id: str) -> None:
        self.requests.append(("destroy_bridge", bridge_id))


async def transfer_call(db: async_sessionmaker, ops: TransferOps, journal: Path | None = None) -> tuple[Any, list[Any]]:
    tenant = await create_tenant(db, "t")
    await add_number(db, "+18005550100", tenant.id)
    await import_ivr(db, "+18005550100", {"branches": {
        "0": {"type": "transfer", "to": "8005550199", "caller_id": "did", "next": "10", "on_fail": "20"},
        "10": {"type": "hangup"}, "20": {"type": "hangup"}}})
    recorder = CallRecorder(db, journal)
    inbound = InboundCalls(db, EchoMedia(), recorder, "n1", transfers=PolicyTargets())
    await asyncio.wait_for(inbound.handle(new_call(ops)), 10)
    await recorder.flush()
    return await get_call(db, "c1"), await legs_of(db, "c1")


async def test_an_answered_transfer_records_the_call_and_its_far_leg_linked_to_it(db: async_sessionmaker) -> None:
    ops = TransferOps()
    call, legs = await transfer_call(db, ops)
    assert call.branch_data == [{"branch": "0", "input": ""}, {"branch": "10", "input": ""}]
    assert call.variables == {"transfer_result": "answered"} and call.parent_id is None
    [leg] = legs
    assert (leg.id, leg.direction, leg.number, leg.caller_id, leg.tenant_id, leg.node) == \
        ("t1-c1", "outbound", "+18005550199", "+18005550100", call.tenant_id, "n1")
    assert (leg.parent_id, leg.hangup_cause, leg.hangup_by, leg.variables) == \
        ("c1", 16, "far end", {"transfer_result": "answered"})
    assert leg.started_at <= leg.answered_at <= leg.ended_at <= call.ended_at
    assert ("originate", "PJSIP/+18005550199@carrier") in ops.requests
    assert ("destroy_bridge", "b1-c1") in ops.requests


async def test_a_far_leg_is_journaled_before_it_is_dialled(db: async_sessionmaker, tmp_path: Path) -> None:
    """A kill -9 while the far end rings or talks must not lose its record: its start is in the
    journal before the dial request goes out."""
    journal = tmp_path / "journal"
    journaled_at_dial: list[bool] = []

    class Watching(TransferOps):
        async def originate(self, endpoint: str, channel_id: str, **params: Any) -> None:
            lines = [json.loads(line) for f in journal.glob("*.jsonl") for line in f.read_text().splitlines()]
            journaled_at_dial.append({"op": "start", "id": channel_id, "parent_id": "c1"}.items()
                                     <= next((e for e in lines if e["id"] == channel_id), {}).items())
            await super().originate(endpoint, channel_id, **params)

    _, [leg] = await transfer_call(db, Watching(), journal)
    assert journaled_at_dial == [True]
    assert leg.answered_at is not None and leg.hangup_by == "far end", "the end completes what the start said"


async def test_a_busy_far_end_is_recorded_with_its_cause_and_sip_code(db: async_sessionmaker) -> None:
    call, [leg] = await transfer_call(db, TransferOps(busy=True))
    assert call.branch_data[-1] == {"branch": "20", "input": ""}
    assert call.variables == {"transfer_result": "busy"}
    assert (leg.hangup_cause, leg.answered_at, leg.variables) == (17, None, {"transfer_result": "busy",
                                                                            "sip_code": "486"})


async def test_a_journal_written_before_far_legs_existed_replays(db: async_sessionmaker, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    journal.mkdir()
    old = {"op": "start", "id": "old-1", "direction": "inbound", "number": "+18005550100", "caller_id": "1",
           "caller_name": "", "tenant_id": None, "started_at": T0.isoformat(), "answered_at": None, "node": "n1",
           "ended_at": None, "hangup_cause": None, "hangup_cause_text": None, "hangup_by": None, "branch_data": [],
           "reason": None, "exchanges": [], "variables": {}}
    (journal / "calls.00000001.jsonl").write_text(json.dumps(old) + "\n")
    first = CallRecorder(db, journal)
    first.started(CallStart("leg-1", "outbound", "+18005550199", "1", "", None, T0, T0, "n1", parent_id="new-1"))
    first.ended("leg-1", CallEnd(16, "Normal Clearing", "far end", [], ended_at=T0))
    del first  # killed before any batch

    second = CallRecorder(db, journal)
    assert await second.replay() == 3
    assert (await get_call(db, "old-1")).parent_id is None
    leg = await get_call(db, "leg-1")
    assert (leg.parent_id, leg.hangup_by) == ("new-1", "far end")
    assert leg.ended_at.replace(tzinfo=timezone.utc) == T0
    assert second.dead_letters == 0
