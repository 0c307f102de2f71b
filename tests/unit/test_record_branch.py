"""The record branch on the fake channel and a fake album library: its fields, where a take
goes (kept, failed, empty, cut short by a hang-up), and the variables it leaves."""
from __future__ import annotations

import logging
from typing import Any

import pytest

from control.errors import Invalid
from control.flow.branches import TYPES, CallContext
from control.flow.channel import Take
from control.flow.document import IvrInvalid, parse_ivr
from control.flow.engine import run_ivr
from control.flow.ports import TenantView
from control.recordings.sink import EmptyTake
from tests.unit.fakes import EchoMedia, FakeChannel, FakeRecordingSink

BYE = {"type": "hangup"}


def doc(**fields: Any) -> dict[str, Any]:
    record = {"type": "record", "album": 7, "next": "10", **fields}
    return {"branches": {"0": record, "10": BYE, "20": BYE}}


def problems(document: dict[str, Any]) -> list[str]:
    with pytest.raises(IvrInvalid) as err:
        parse_ivr(document)
    return err.value.errors


async def run(document: dict[str, Any], *takes: Take, sink: FakeRecordingSink | None = None,
              variables: dict[str, str] | None = None, tenant: str = "ten_1",
              ) -> tuple[FakeChannel, CallContext, str, FakeRecordingSink]:
    channel = FakeChannel([], takes=list(takes))
    sink = sink if sink is not None else FakeRecordingSink()
    call = CallContext(channel, EchoMedia(), call_id="c-1", tenant=TenantView(tenant), recordings=sink,
                       variables=dict(variables or {}))
    how = await run_ivr(parse_ivr(document), call)
    return channel, call, how, sink


def test_fields_and_defaults() -> None:
    assert dict(TYPES["record"].fields) == {"type": "record", "album": None, "max_seconds": 60,
                                            "silence_seconds": None, "terminate_on": "#", "beep": True,
                                            "next": None, "on_fail": None}


def test_a_document_round_trips_and_dumps_its_defaults() -> None:
    dumped = parse_ivr(doc(silence_seconds=3, on_fail="20")).dump()["branches"]["0"]
    assert dumped == {"type": "record", "album": "7", "max_seconds": 60, "silence_seconds": 3,
                      "terminate_on": "#", "beep": True, "next": "10", "on_fail": "20"}
    assert parse_ivr({"branches": {"0": dumped, "10": BYE, "20": BYE}}).dump()["branches"]["0"] == dumped
    plain = parse_ivr(doc(album="${box}", terminate_on=None, beep=False)).dump()["branches"]["0"]
    assert plain == {"type": "record", "album": "${box}", "max_seconds": 60, "terminate_on": None, "beep": False,
                     "next": "10"}


@pytest.mark.parametrize("fields, error", [
    ({"album": None}, "branches.0.album: required; it must be a whole number from 0 to 999999999 or a ${variable}"),
    ({"album": 0}, "branches.0.album: must be 1 or more (albums are numbered from 1) or a ${variable}"),
    ({"album": "seven"}, "branches.0.album: must be a whole number from 0 to 999999999 or a ${variable}"),
    ({"max_seconds": 0}, "branches.0.max_seconds: must be a whole number from 1 to 3600"),
    ({"max_seconds": 3601}, "branches.0.max_seconds: must be a whole number from 1 to 3600"),
    ({"max_seconds": 2.5}, "branches.0.max_seconds: must be a whole number from 1 to 3600"),
    ({"max_seconds": True}, "branches.0.max_seconds: must be a whole number from 1 to 3600"),
    ({"silence_seconds": 0}, "branches.0.silence_seconds: must be a whole number from 1 to 60"),
    ({"silence_seconds": 61}, "branches.0.silence_seconds: must be a whole number from 1 to 60"),
    ({"terminate_on": "5"}, 'branches.0.terminate_on: must be "#", "*" or null (no terminator)'),
    ({"beep": "yes"}, "branches.0.beep: must be true or false"),
    ({"on_fail": "404"}, 'branches.0.on_fail: no branch "404"'),
    ({"prompt": "x"}, "branches.0.prompt: unknown field"),
])
def test_bad_fields_are_document_errors(fields: dict[str, Any], error: str) -> None:
    found = problems(doc(**fields))
    assert any(p.startswith(error) for p in found), found


async def test_a_take_is_kept_in_the_album_and_named_by_variables() -> None:
    channel, call, how, sink = await run(doc(max_seconds=30, silence_seconds=4), Take("t1", 6.0, "key"))
    assert channel.recordings == [{"max_seconds": 30, "silence_seconds": 4, "terminate_on": "#", "beep": True,
                                   "tag": "ten_1-a7"}], "the take names where it is to be kept"
    assert [(t.name, tenant, album) for t, tenant, album in sink.kept] == [("t1", "ten_1", 7)]
    assert call.variables == {"recording_id": "100", "recording_sort": "1"}
    assert call.branch_data == [{"branch": "0", "input": "#"}, {"branch": "10", "input": ""}]
    assert how == "completed" and channel.hung_up


@pytest.mark.parametrize("ended_by", ["silence", "max"])
async def test_a_take_not_ended_by_the_key_records_no_input(ended_by: str) -> None:
    take = Take("t1", 3.0, ended_by)  # type: ignore[arg-type]
    _, call, _, sink = await run(doc(terminate_on=None, beep=False), take)
    assert call.branch_data[0] == {"branch": "0", "input": ""} and len(sink.kept) == 1


async def test_the_album_may_be_a_variable() -> None:
    _, call, _, sink = await run(doc(album="${box}"), variables={"box": "012"})
    assert sink.kept[0][2] == 12 and call.variables["recording_sort"] == "1"


@pytest.mark.parametrize("value", ["", "0", "x1", "1000000000"])
async def test_an_album_variable_that_is_no_album_records_nothing_and_goes_to_on_fail(value: str) -> None:
    channel, call, _, sink = await run(doc(album="${box}", on_fail="20"),
                                       variables={"box": value, "recording_id": "55"})
    assert channel.recordings == [] and sink.kept == []
    assert call.branch_data[:2] == [{"branch": "0", "input": ""}, {"branch": "20", "input": ""}]
    assert call.variables["recording_id"] == "" and call.variables["recording_sort"] == ""


async def test_a_failed_take_is_discarded_and_goes_to_on_fail(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    take = Take("t1", None, "failed", "Unable to open file")
    _, call, _, sink = await run(doc(on_fail="20"), take, variables={"recording_id": "55"})
    assert sink.kept == [] and sink.discarded == [take]
    assert [b["branch"] for b in call.branch_data] == ["0", "20"]
    assert call.variables["recording_id"] == ""
    assert "call c-1: record 0: Asterisk could not record (Unable to open file); going to on_fail 20" in caplog.text


async def test_without_on_fail_a_failed_take_goes_on_to_next() -> None:
    _, call, _, _ = await run(doc(), Take("t1", None, "failed"))
    assert [b["branch"] for b in call.branch_data] == ["0", "10"]


async def test_a_take_the_library_refuses_goes_to_on_fail(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    sink = FakeRecordingSink(fail=Invalid(["recording t1: has no audio (0 seconds)"]))
    _, call, _, _ = await run(doc(on_fail="20"), Take("t1", 2.0, "key"), sink=sink)
    assert [b["branch"] for b in call.branch_data] == ["0", "20"]
    assert "could not keep the recording: recording t1: has no audio (0 seconds)" in caplog.text
    empty = FakeRecordingSink(fail=EmptyTake("the recording holds 0.2 s of audio"))
    _, call, _, _ = await run(doc(), Take("t1", 1.0, "silence"), sink=empty)
    assert [b["branch"] for b in call.branch_data] == ["0", "10"], "without on_fail: next"


async def test_a_caller_who_hangs_up_mid_recording_leaves_it_kept_and_the_call_ends_as_theirs() -> None:
    channel, call, how, sink = await run(doc(on_fail="20"), Take("t1", 4.0, "hangup"))
    assert how == "caller" and not channel.hung_up
    assert [t.name for t, _, _ in sink.kept] == ["t1"]
    assert call.variables == {"recording_id": "100", "recording_sort": "1"}
    assert call.branch_data == [{"branch": "0", "input": ""}], "recorded, and nothing after it ran"


async def test_a_hang_up_whose_take_cannot_be_kept_still_ends_the_call() -> None:
    failing = FakeRecordingSink(fail=EmptyTake("the recording holds 0.1 s of audio"))
    _, call, how, _ = await run(doc(on_fail="20"), Take("t2", None, "hangup"), sink=failing,
                                variables={"recording_id": "55"})
    assert how == "caller" and call.branch_data == [{"branch": "0", "input": ""}]
    assert call.variables["recording_id"] == ""


async def test_with_no_library_or_tenant_nothing_is_recorded() -> None:
    channel, call, _, _ = await run(doc(on_fail="20"), tenant="")
    assert channel.recordings == [] and [b["branch"] for b in call.branch_data] == ["0", "20"]


async def test_two_takes_in_one_album_get_the_next_sorts() -> None:
    document = {"branches": {"0": {"type": "record", "album": 3, "next": "1"},
                             "1": {"type": "record", "album": 3, "next": "10"}, "10": BYE}}
    _, call, _, sink = await run(document)
    assert [album for _, _, album in sink.kept] == [3, 3] and call.variables["recording_sort"] == "2"
    assert call.variables["recording_id"] == "101"
