"""After the ARI link comes back: live calls resynced, old orphans hung up (young ones left to
their StasisStart), records closed per node, and a database outage never takes the link down."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.calls.recorder import CallRecorder
from control.calls.service import CallStart, end_orphans, get_call
from control.pbx.secrets import PbxSecrets
from control.settings import Settings
from control.telephony import ari as ari_module
from control.telephony.ari import AriLink
from control.telephony.call import CallSession
from tests.unit.test_call_session import CHANNEL, RecordingOps

NOW = datetime.now(timezone.utc)


class Ops(RecordingOps):
    def __init__(self, channels: list[dict[str, Any]], playing: bool) -> None:
        super().__init__()
        self._channels = channels
        self._playing = playing

    async def channels(self) -> list[dict[str, Any]]:
        return self._channels

    async def playback_state(self, playback_id: str) -> str | None:
        return "playing" if self._playing else None

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.requests.append(("hangup", channel_id))

    async def set_global(self, name: str, value: str) -> None:
        self.requests.append(("global", f"{name}={value}"))


def in_app(channel_id: str, age_s: float) -> dict[str, Any]:
    created = datetime.now(timezone.utc) - timedelta(seconds=age_s)
    return {"id": channel_id, "creationtime": created.isoformat(),
            "dialplan": {"app_name": "Stasis", "app_data": "voicectl,inbound"}}


def link(on_reconcile: Any) -> AriLink:
    return AriLink(Settings.from_env({"VOICECTL_DATA_DIR": "/tmp/unused"}), PbxSecrets("u", "p", "u", "p"),
                   lambda session: asyncio.sleep(0), on_reconcile)


async def test_old_orphans_are_hung_up_young_ones_are_left_and_live_calls_resynced() -> None:
    seen: list[tuple[set[str], set[str]]] = []

    async def reconcile(live: set[str], owned: set[str]) -> None:
        seen.append((live, owned))

    ari = link(reconcile)
    ops = Ops([in_app("old", 60), in_app("young", 1), in_app("c1", 30)], playing=False)
    session = CallSession(ops, CHANNEL, ["inbound"])
    ari._calls["c1"] = session
    session._playback = "p1"  # waiting on a prompt whose PlaybackFinished was lost with the socket
    await ari._reconcile(ops)  # type: ignore[arg-type]
    assert [cid for kind, cid in ops.requests if kind == "hangup"] == ["old"]
    assert session._events.get_nowait() == {"type": "PlaybackFinished", "playback": {"id": "p1"}}
    await asyncio.sleep(0.01)
    # "old" was hung up: its record is closed with those Asterisk no longer has.
    assert seen == [({"young", "c1"}, {"c1"})]
    await ari.stop()


async def test_a_young_unowned_channel_is_looked_at_again_and_hung_up_once_old(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ari_module, "ORPHAN_AGE_S", 0.2)

    async def reconcile(live: set[str], owned: set[str]) -> None:
        return None

    ari = link(reconcile)
    ari.connected.set()
    ops = Ops([in_app("young", 0)], playing=False)
    await ari._reconcile(ops)  # type: ignore[arg-type]
    assert not any(kind == "hangup" for kind, _ in ops.requests)
    for _ in range(100):
        if ("hangup", "young") in ops.requests:
            break
        await asyncio.sleep(0.02)
    assert ("hangup", "young") in ops.requests, "its StasisStart never came: an orphan after all"
    await ari.stop()


async def test_a_call_that_starts_while_the_channel_list_is_fetched_is_not_lost() -> None:
    async def reconcile(live: set[str], owned: set[str]) -> None:
        return None

    ari = link(reconcile)
    ops = Ops([], playing=False)
    newcomer = CallSession(ops, {**CHANNEL, "id": "new"}, ["inbound"])

    async def channels_then_a_stasis_start() -> list[dict[str, Any]]:
        ari._calls["new"] = newcomer  # its StasisStart is handled while the GET is under way
        return []

    ops.channels = channels_then_a_stasis_start  # type: ignore[method-assign]
    await ari._reconcile(ops)  # type: ignore[arg-type]
    assert newcomer._events.empty() and newcomer.hangup_info is None
    await ari.stop()


async def test_a_database_outage_during_reconcile_does_not_take_the_link_down() -> None:
    attempts = 0

    async def reconcile(live: set[str], owned: set[str]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionRefusedError("database down")

    ari = link(reconcile)
    ops = Ops([], playing=False)
    await ari._reconcile(ops)  # returns at once: the records are closed in the background
    assert attempts <= 1
    for _ in range(100):
        if attempts >= 3:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0)
    assert ari._reconciling is not None
    await asyncio.wait_for(ari._reconciling, 10)
    assert attempts == 3
    await ari.stop()


async def test_reconcile_closes_only_its_own_nodes_calls(db: async_sessionmaker) -> None:
    recorder = CallRecorder(db)
    for call_id, node in (("a-1", "a"), ("b-1", "b")):
        recorder.started(CallStart(call_id, "inbound", "+18005550100", "1555", "", None, NOW, NOW, node))
    await recorder.flush()
    assert await end_orphans(db, "a", live_ids=set(), owned=set()) == ["a-1"]
    assert (await get_call(db, "a-1")).hangup_by == "lost"
    assert (await get_call(db, "b-1")).ended_at is None, "node b's call is b's to reconcile"


async def test_resync_makes_up_only_the_finish_of_the_playback_it_asked_about() -> None:
    async def reconcile(live: set[str], owned: set[str]) -> None:
        return None

    ari = link(reconcile)
    ops = Ops([in_app("c1", 30)], playing=False)
    session = CallSession(ops, CHANNEL, ["inbound"])
    ari._calls["c1"] = session
    session._playback = "p1"

    async def p1_ends_and_p2_starts_meanwhile(playback_id: str) -> str | None:
        session._playback = "p2"  # the next prompt began while the question was on its way
        return None

    ops.playback_state = p1_ends_and_p2_starts_meanwhile  # type: ignore[method-assign]
    await ari._reconcile(ops)  # type: ignore[arg-type]
    assert session._events.empty(), "p2 must not be finished on p1's account"
    await ari.stop()


async def test_an_orphan_whose_hang_up_fails_keeps_its_record_open_and_is_tried_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ari_module, "ORPHAN_AGE_S", 0.1)
    seen: list[set[str]] = []

    async def reconcile(live: set[str], owned: set[str]) -> None:
        seen.append(live)

    ari = link(reconcile)
    ari.connected.set()
    ops = Ops([in_app("old", 60)], playing=False)
    attempts: list[str] = []

    async def refuse_once(channel_id: str, reason: str = "normal") -> None:
        attempts.append(channel_id)
        if len(attempts) == 1:
            raise RuntimeError("ARI timed out")

    ops.hangup = refuse_once  # type: ignore[method-assign]
    await ari._reconcile(ops)  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    assert seen[0] == {"old"}, "not confirmed gone: its record stays open"
    for _ in range(100):
        if len(attempts) >= 2:
            break
        await asyncio.sleep(0.02)
    assert attempts == ["old", "old"]
    await ari.stop()
