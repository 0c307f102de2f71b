from __future__ import annotations

import pytest

from control.flow.branches import TYPES, CallContext
from control.flow.document import IvrInvalid, parse_ivr
from control.flow.engine import run_ivr
from tests.unit.fakes import HANGUP, EchoMedia, FakeChannel

DEMO = {
    "branches": {
        "0": {"type": "menu", "play": [{"type": "tts", "text": "Welcome. Press 1 to hear this again, 2 to end."}],
              "inputs": {"1": "0", "2": "900"}, "timeout": 5, "retries": 2, "on_timeout": "900"},
        "900": {"type": "hangup", "play": [{"type": "tts", "text": "Goodbye."}]},
    }
}
WELCOME = ["tts:Welcome. Press 1 to hear this again, 2 to end."]
GOODBYE = ["tts:Goodbye."]


async def run(doc: dict, script: list) -> tuple[FakeChannel, CallContext, str]:
    channel = FakeChannel(script)
    call = CallContext(channel, EchoMedia())
    how = await run_ivr(parse_ivr(doc), call)
    return channel, call, how


async def test_menu_repeats_on_1_and_ends_on_2() -> None:
    channel, call, how = await run(DEMO, ["1", "2"])
    assert how == "completed" and channel.hung_up
    assert channel.played == [WELCOME, WELCOME, GOODBYE]
    assert call.branch_data == [{"branch": "0", "input": "1"}, {"branch": "0", "input": "2"},
                                {"branch": "900", "input": ""}]


async def test_key_after_the_audio_is_waited_for_with_the_timeout() -> None:
    channel, call, _ = await run(DEMO, [None, "2"])
    assert channel.waits == [5]
    assert call.branch_data[0] == {"branch": "0", "input": "2"}


async def test_silence_uses_every_retry_then_goes_to_on_timeout() -> None:
    channel, call, how = await run(DEMO, [])
    assert channel.played == [WELCOME] * 3 + [GOODBYE]
    assert channel.waits == [5, 5, 5]
    assert call.branch_data == [{"branch": "0", "input": ""}, {"branch": "900", "input": ""}]
    assert how == "completed"


async def test_unrouted_key_uses_a_try_and_catch_all_routes_anything() -> None:
    channel, call, _ = await run(DEMO, ["7", "2"])
    assert channel.played == [WELCOME, WELCOME, GOODBYE]
    doc = {"branches": {"0": {"type": "menu", "play": [{"type": "sound", "name": "hello-world"}],
                              "inputs": {"1": "0", "%": "5"}},
                        "5": {"type": "hangup"}}}
    _, call, _ = await run(doc, ["9"])
    assert call.branch_data == [{"branch": "0", "input": "9"}, {"branch": "5", "input": ""}]


async def test_menu_without_on_timeout_ends_the_call() -> None:
    doc = {"branches": {"0": {"type": "menu", "play": [], "inputs": {"1": "0"}, "retries": 0}}}
    channel, call, how = await run(doc, [])
    assert how == "completed" and channel.hung_up and channel.played == []


async def test_content_plays_without_barge_in_then_goes_next() -> None:
    doc = {"branches": {"0": {"type": "content", "play": [{"type": "tts", "text": "Hi"}], "next": "1"},
                        "1": {"type": "hangup"}}}
    channel, call, _ = await run(doc, ["5"])
    assert channel.played == [["tts:Hi"]]
    assert channel.script == ["5"], "content must not consume keys"
    assert [v["branch"] for v in call.branch_data] == ["0", "1"]


async def test_caller_hangup_stops_the_engine_without_platform_hangup() -> None:
    channel, call, how = await run(DEMO, ["1", HANGUP])
    assert how == "caller" and not channel.hung_up
    assert call.branch_data == [{"branch": "0", "input": "1"}]


async def test_content_loop_is_cut_off() -> None:
    doc = {"branches": {"0": {"type": "content", "next": "0"}}}
    channel, call, how = await run(doc, [])
    assert how == "completed" and channel.hung_up and len(call.branch_data) == 500


def test_invalid_document_lists_every_problem() -> None:
    doc = {"branches": {
        "1": {"type": "menu", "play": [{"type": "tts", "text": ""}], "inputs": {"4": "700", "x": "1"},
              "timeout": -1, "on_timeout": "800"},
        "2": {"type": "dance"},
        "3": {"type": "content", "play": [{"type": "video"}], "next": "1"},
    }}
    with pytest.raises(IvrInvalid) as caught:
        parse_ivr(doc)
    assert sorted(caught.value.errors) == sorted([
        "branches.1.play.0.text: tts needs non-empty text",
        "branches.1.inputs.x: a key is one of 0-9, *, # or % (any key)",
        "branches.1.timeout: must be a number from 0.5 to 120",
        f"branches.2.type: unknown branch type 'dance' (known: {', '.join(sorted(TYPES))})",
        "branches.3.play.0.type: unknown play item type 'video' (expected tts, sound or file)",
        'branches: there is no branch "0", where every call starts',
        'branches.1.inputs.4: no branch "700"',
        'branches.1.on_timeout: no branch "800"',
    ])


def test_dump_round_trips() -> None:
    ivr = parse_ivr(DEMO)
    assert parse_ivr(ivr.dump()).dump() == ivr.dump()
    assert ivr.dump()["branches"]["0"]["inputs"] == {"1": "0", "2": "900"}
