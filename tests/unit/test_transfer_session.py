"""CallSession.transfer without Asterisk: ARI played by hand through AriLink's dispatcher, so the
routing of the far leg's and the bridge's events to the call that owns them is tested with it."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

import pytest

from control.flow.channel import CallerHungUp, DialTarget, TransferOutcome
from control.pbx.secrets import PbxSecrets
from control.settings import Settings
from control.telephony.ari import AriLink
from control.telephony.ari_http import AriError
from control.telephony.call import CALL_EVENTS, CallSession, derived_id

CALLER = "n-1700000000.1"
LEG = "n-t1-1700000000.1"
BRIDGE = "n-b1-1700000000.1"


class Ops:
    """ARI by hand: every request noted; hanging a channel up makes Asterisk's events for it."""

    def __init__(self) -> None:
        self.requests: list[tuple[Any, ...]] = []
        self.link: AriLink | None = None
        self.originated = asyncio.Event()
        self.bridged = asyncio.Event()
        self.refuse_originate: Exception | None = None
        self.claimed_before: list[bool] = []
        self.live: list[dict[str, Any]] = []
        self.bridge_list: list[dict[str, Any]] = []

    def emit(self, event: dict[str, Any]) -> None:
        assert self.link is not None
        self.link._dispatch(self, event)  # type: ignore[arg-type]

    async def answer(self, channel_id: str) -> None:
        self.requests.append(("answer", channel_id))

    async def play(self, channel_id: str, media: Sequence[str], playback_id: str) -> None:
        self.requests.append(("play", channel_id))

    async def stop_playback(self, playback_id: str) -> None:
        self.requests.append(("stop", playback_id))

    async def playback_state(self, playback_id: str) -> str | None:
        return None

    async def originate(self, endpoint: str, channel_id: str, **params: Any) -> None:
        assert self.link is not None
        self.claimed_before.append(channel_id in self.link._owned)
        self.requests.append(("originate", endpoint, channel_id, params))
        if self.refuse_originate is not None:
            raise self.refuse_originate
        self.originated.set()

    async def ring(self, channel_id: str) -> None:
        self.requests.append(("ring", channel_id))

    async def stop_ringing(self, channel_id: str) -> None:
        self.requests.append(("stop_ringing", channel_id))

    async def create_bridge(self, bridge_id: str) -> None:
        assert self.link is not None
        self.claimed_before.append(bridge_id in self.link._owned)
        self.requests.append(("create_bridge", bridge_id))

    async def add_to_bridge(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        self.requests.append(("add_to_bridge", bridge_id, list(channel_ids)))
        self.bridged.set()

    async def destroy_bridge(self, bridge_id: str) -> None:
        self.requests.append(("destroy_bridge", bridge_id))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.requests.append(("hangup", channel_id))
        if channel_id == CALLER:
            self.emit({"type": "StasisEnd", "channel": {"id": CALLER}})
        else:
            self.emit({"type": "ChannelDestroyed", "channel": {"id": channel_id}, "cause": 16,
                       "cause_txt": "Normal Clearing", "tech_cause": 0})

    async def channels(self) -> list[dict[str, Any]]:
        return self.live

    async def bridges(self) -> list[dict[str, Any]]:
        return self.bridge_list

    async def set_global(self, name: str, value: str) -> None:
        return None

    def kinds(self) -> list[str]:
        return [r[0] for r in self.requests]


def link_with(on_call: Any, ops: Ops) -> AriLink:
    async def no_reconcile(_live: set[str], _owned: set[str]) -> None:
        return None

    link = AriLink(Settings.from_env({"VOICECTL_DATA_DIR": "/tmp/unused", "VOICECTL_NODE": "n"}),
                   PbxSecrets("u", "p", "u", "p"), on_call, no_reconcile)
    ops.link = link
    return link


async def transferring(timeout: float = 5) -> tuple[Ops, AriLink, asyncio.Future[Any]]:
    """A call in Stasis whose handler transfers at once; the future gets the outcome (or the
    exception) once the transfer is over."""
    ops = Ops()
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def on_call(session: CallSession) -> None:
        try:
            done.set_result(await session.transfer(DialTarget("PJSIP/+18005550199@carrier", "+18005550199", "carrier"), caller_id="1 (555) 123-0000\"<",
                                                   timeout=timeout))
        except CallerHungUp as gone:
            done.set_result(gone)
        # The call goes on after a transfer: the caller hears the next branch.
        await session.wait_digit(0.05)

    link = link_with(on_call, ops)
    ops.emit({"type": "StasisStart", "args": ["inbound"], "channel": {"id": CALLER}})
    await asyncio.wait_for(ops.originated.wait(), 1)
    return ops, link, done


def leg(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "channel": {"id": LEG}, **fields}


def dial(status: str) -> dict[str, Any]:
    return {"type": "Dial", "peer": {"id": LEG}, "dialstatus": status, "dialstring": "+18005550199@carrier"}


async def test_answered_the_caller_is_bridged_until_the_far_end_hangs_up() -> None:
    ops, link, done = await transferring()
    [(_, endpoint, channel_id, params)] = [r for r in ops.requests if r[0] == "originate"]
    assert (endpoint, channel_id) == ("PJSIP/+18005550199@carrier", LEG)
    assert params == {"app": "voicectl", "app_args": f"leg,{CALLER}", "caller_id": "<15551230000>",
                      "timeout": 10, "originator": CALLER}
    assert ops.requests[-1] == ("ring", CALLER)
    ops.emit(dial("RINGING"))
    ops.emit(dial("ANSWER"))
    ops.emit(leg("StasisStart", args=["leg", CALLER]))
    await asyncio.wait_for(ops.bridged.wait(), 1)
    assert link.active_calls == 1, "the far leg's StasisStart is no new call"
    assert ops.requests[-3:] == [("stop_ringing", CALLER), ("create_bridge", BRIDGE),
                                 ("add_to_bridge", BRIDGE, [CALLER, LEG])]
    assert ops.claimed_before == [True, True], "leg and bridge were claimed before they were asked for"
    assert set(link._owned) == {LEG, BRIDGE}
    ops.emit(leg("ChannelDtmfReceived", digit="5"))  # the far end's keys are not the caller's
    ops.emit(leg("ChannelHangupRequest", cause=16))
    ops.emit(leg("StasisEnd"))
    outcome = await asyncio.wait_for(done, 1)
    assert isinstance(outcome, TransferOutcome)
    assert (outcome.status, outcome.leg_id, outcome.cause, outcome.ended_by) == ("answered", LEG, 16, "far end")
    assert outcome.started_at <= outcome.answered_at <= outcome.ended_at  # type: ignore[operator]
    assert ops.requests[-1] == ("destroy_bridge", BRIDGE)
    assert ("hangup", LEG) not in ops.requests and ("hangup", CALLER) not in ops.requests
    assert link._owned == {}
    [session] = link.sessions
    assert session.hangup_info is None and session._digits == deque_of()
    await link.stop()


def deque_of(*keys: str) -> Any:
    from collections import deque
    return deque(keys)


async def test_busy_comes_back_with_its_cause_and_sip_code_and_nothing_is_bridged() -> None:
    ops, link, done = await transferring()
    ops.emit(dial("BUSY"))
    ops.emit(leg("ChannelDestroyed", cause=17, cause_txt="User busy", tech_cause=486))
    outcome = await asyncio.wait_for(done, 1)
    assert (outcome.status, outcome.cause, outcome.cause_text, outcome.sip_code, outcome.answered_at) == \
        ("busy", 17, "User busy", 486, None)
    assert "create_bridge" not in ops.kinds() and ("hangup", LEG) not in ops.requests
    assert ops.kinds()[-1] == "stop_ringing" and link._owned == {}
    await link.stop()


async def test_failed_dials_are_failed() -> None:
    ops, link, done = await transferring()
    ops.emit(dial("CHANUNAVAIL"))
    ops.emit(leg("ChannelDestroyed", cause=38, cause_txt="Network out of order", tech_cause=503))
    outcome = await asyncio.wait_for(done, 1)
    assert (outcome.status, outcome.cause, outcome.sip_code) == ("failed", 38, 503)
    await link.stop()


async def test_no_answer_within_the_ring_time_hangs_the_leg_up() -> None:
    ops, link, done = await transferring(timeout=0.2)
    ops.emit(dial("RINGING"))
    outcome = await asyncio.wait_for(done, 2)
    assert (outcome.status, outcome.ended_by) == ("no answer", "platform")
    assert ("hangup", LEG) in ops.requests and "create_bridge" not in ops.kinds()
    assert link._owned == {}
    await link.stop()


async def test_a_caller_hanging_up_while_bridged_ends_the_leg_and_the_bridge() -> None:
    ops, link, done = await transferring()
    ops.emit(leg("StasisStart", args=["leg", CALLER]))
    await asyncio.wait_for(ops.bridged.wait(), 1)
    ops.emit({"type": "ChannelHangupRequest", "channel": {"id": CALLER}, "cause": 16})
    ops.emit({"type": "StasisEnd", "channel": {"id": CALLER}})
    gone = await asyncio.wait_for(done, 2)
    assert isinstance(gone, CallerHungUp) and gone.transfer is not None
    assert (gone.transfer.status, gone.transfer.ended_by) == ("answered", "caller")
    assert ("hangup", LEG) in ops.requests and ops.requests[-1] == ("destroy_bridge", BRIDGE)
    await asyncio.sleep(0.1)
    assert link._owned == {} and link.active_calls == 0
    await link.stop()


async def test_a_caller_gone_while_it_rings_cancels_the_dial() -> None:
    ops, link, done = await transferring()
    ops.emit(dial("RINGING"))
    ops.emit({"type": "StasisEnd", "channel": {"id": CALLER}})
    gone = await asyncio.wait_for(done, 2)
    assert isinstance(gone, CallerHungUp)
    assert (gone.transfer.status, gone.transfer.ended_by) == ("no answer", "caller")  # type: ignore[union-attr]
    assert ("hangup", LEG) in ops.requests
    await link.stop()


async def test_a_refused_dial_fails_at_once_and_releases_its_claim() -> None:
    ops = Ops()
    ops.refuse_originate = AriError(400, "POST", "/channels", "Invalid endpoint")
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def on_call(session: CallSession) -> None:
        done.set_result(await session.transfer(DialTarget("PJSIP/x@nowhere", "+18005550199", "nowhere"), caller_id="", timeout=5))

    link = link_with(on_call, ops)
    ops.emit({"type": "StasisStart", "args": ["inbound"], "channel": {"id": CALLER}})
    outcome = await asyncio.wait_for(done, 1)
    assert (outcome.status, outcome.ended_by) == ("failed", "platform")
    assert "Invalid endpoint" in outcome.error
    assert ops.kinds() == ["originate"] and ops.requests[0][3]["caller_id"] == ""
    assert link._owned == {}
    await link.stop()


async def test_shutdown_mid_transfer_hangs_up_the_leg_and_ends_the_transfer() -> None:
    ops, link, done = await transferring()
    ops.emit(leg("StasisStart", args=["leg", CALLER]))
    await asyncio.wait_for(ops.bridged.wait(), 1)
    [session] = link.sessions
    await session.end("platform shutdown")
    gone = await asyncio.wait_for(done, 2)
    assert isinstance(gone, CallerHungUp) and gone.transfer.ended_by == "platform"  # type: ignore[union-attr]
    assert ("hangup", LEG) in ops.requests and ("hangup", CALLER) in ops.requests
    assert ops.requests[-1] == ("destroy_bridge", BRIDGE)
    await link.stop()


async def test_a_leg_whose_call_is_over_is_hung_up_never_taken_for_a_call() -> None:
    ops = Ops()
    link = link_with(lambda session: asyncio.sleep(0), ops)
    ops.emit({"type": "StasisStart", "args": ["leg", CALLER], "channel": {"id": LEG}})
    await asyncio.sleep(0.05)
    assert link.active_calls == 0 and ops.requests == [("hangup", LEG)]
    await link.stop()


async def test_other_channels_events_are_never_the_callers() -> None:
    session = CallSession(Ops(), {"id": CALLER}, ["inbound"])  # type: ignore[arg-type]
    session.feed({"type": "ChannelDtmfReceived", "digit": "4", "channel": {"id": LEG}})
    session.feed({"type": "StasisEnd", "channel": {"id": LEG}})
    assert await session.wait_digit(0.05) is None
    assert session.hangup_info is None and not session.left


async def test_reconcile_keeps_owned_legs_and_clears_bridges_no_call_owns(monkeypatch: pytest.MonkeyPatch) -> None:
    ops, link, done = await transferring()
    old = (datetime.now(timezone.utc) - timedelta(seconds=60)).isoformat()
    in_stasis = {"app_name": "Stasis", "app_data": f"voicectl,leg,{CALLER}"}
    ops.live = [{"id": CALLER, "creationtime": old, "dialplan": {"app_name": "Stasis", "app_data": "voicectl,inbound"}},
                {"id": LEG, "creationtime": old, "dialplan": in_stasis},
                {"id": "n-t1-1600000000.9", "creationtime": old, "dialplan": in_stasis}]
    ops.bridge_list = [{"id": "n-b1-1600000000.9"}, {"id": "other-node-b1-1.1"}, {"id": "3f2a-uuid"}]
    await link._reconcile(ops)  # type: ignore[arg-type]
    hung = [r[1] for r in ops.requests if r[0] == "hangup"]
    assert hung == ["n-t1-1600000000.9"], "the owned leg is no orphan; the other one is"
    assert [r[1] for r in ops.requests if r[0] == "destroy_bridge"] == ["n-b1-1600000000.9"]
    # A leg gone while the link was down is made up as destroyed.
    ops.live = ops.live[:1]
    await link._reconcile(ops)  # type: ignore[arg-type]
    outcome = await asyncio.wait_for(done, 2)
    # Lost unanswered, with no Dial status nor cause to tell why: failed, not "no answer".
    assert outcome.status == "failed" and outcome.answered_at is None
    await link.stop()


async def test_a_leg_that_answered_while_the_socket_was_down_is_bridged_at_the_resync() -> None:
    ops, link, done = await transferring()
    old = (datetime.now(timezone.utc) - timedelta(seconds=60)).isoformat()
    in_app = {"app_name": "Stasis", "app_data": "voicectl,inbound"}
    ringing = {"id": LEG, "state": "Ringing", "creationtime": old, "dialplan": {"app_name": "AppDial2"}}
    ops.live = [{"id": CALLER, "state": "Up", "creationtime": old, "dialplan": in_app}, ringing]
    await link._reconcile(ops)  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert not ops.bridged.is_set(), "still ringing: nothing to bridge"
    # Its Dial ANSWER and StasisStart went with the old socket: only the channel list tells.
    ops.live[1] = {**ringing, "state": "Up", "dialplan": {"app_name": "Stasis", "app_data": f"voicectl,leg,{CALLER}"}}
    await link._reconcile(ops)  # type: ignore[arg-type]
    await asyncio.wait_for(ops.bridged.wait(), 1)
    ops.emit(leg("ChannelDestroyed", cause=16, cause_txt="Normal Clearing"))
    outcome = await asyncio.wait_for(done, 2)
    assert outcome.status == "answered" and outcome.ended_by == "far end"
    assert [r[1] for r in ops.requests if r[0] == "hangup"] == [], "an answered leg is no orphan"
    await link.stop()


def test_the_event_filter_lets_through_what_a_transfer_needs() -> None:
    assert {"Dial", "StasisStart", "StasisEnd", "ChannelDestroyed", "ChannelHangupRequest"} <= set(CALL_EVENTS)


async def test_ids_are_node_qualified_and_never_the_callers_with_something_appended() -> None:
    assert derived_id("node-a-1700000000.42", "t", 3) == "node-a-t3-1700000000.42"
    assert derived_id("c1", "b", 1) == "b1-c1"
