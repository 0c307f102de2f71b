"""The trigger branch (Voitex's API Branch) with a scripted caller and a scripted server.
The real thing, a real webhook server on real calls, is tests/integration/test_trigger.py."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from control.flow.branches import CallContext
from control.flow.document import IvrInvalid, parse_ivr
from control.flow.engine import run_ivr
from control.flow.ports import HookAnswer, TenantView
from control.flow.trigger_answer import read_answer
from tests.unit.fakes import EchoMedia, FakeChannel, FakeWebhooks

URL = "http://crm.example/ivr"


def doc(trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"branches": {
        "0": {"type": "menu", "play": [{"type": "sound", "name": "welcome"}], "inputs": {"1": "5"}},
        "5": {"type": "trigger", "url": URL, "no_route": "99", **(trigger or {})},
        "3": {"type": "content", "play": [{"type": "sound", "name": "three"}]},
        "150": {"type": "content", "play": [{"type": "sound", "name": "one-fifty"}]},
        "99": {"type": "hangup", "play": [{"type": "sound", "name": "sorry"}]},
    }}


def ok(body: Any, status: int = 200) -> HookAnswer:
    return HookAnswer(status, body, 12.0)


async def run(answers: list[HookAnswer], script: list, trigger: dict[str, Any] | None = None,
              delay: float = 0.0, **context: Any) -> tuple[FakeChannel, CallContext, FakeWebhooks]:
    channel = FakeChannel(script)
    hooks = FakeWebhooks(answers, delay=delay)
    call = CallContext(channel, EchoMedia(), call_id="vm-1.1", caller="18459511000", caller_name="VOITEX",
                       did="+18459511110", tenant=TenantView("ten_1", "America/New_York", "whsec_x"),
                       hooks=hooks, **context)
    await run_ivr(parse_ivr(doc(trigger)), call)
    return channel, call, hooks


def path(call: CallContext) -> list[str]:
    return [f"{b['branch']}:{b['input']}" for b in call.branch_data]


async def test_the_request_is_voitexs_field_for_field() -> None:
    _, call, hooks = await run([ok({"goto": "150"})], ["1"], variables={"caller_pin": "123"})
    post = hooks.posts[0]
    assert (post["url"], post["secret"], post["timeout"]) == (URL, "whsec_x", 5)
    body = post["body"]
    assert list(body) == ["call_id", "cid", "cnam", "contact_info", "date_time", "did", "branch_data",
                          "payment_info", "variables"]
    assert body["call_id"] == "vm-1.1" and body["cid"] == "8459511000" and body["did"] == "8459511110"
    assert body["cnam"] == "VOITEX" and body["contact_info"] is None and body["payment_info"] == []
    assert body["branch_data"] == [{"branch": "0", "input": "1"}], "not the trigger making the request"
    assert body["variables"] == [{"caller_pin": "123"}]
    datetime.strptime(body["date_time"], "%Y-%m-%d %H:%M:%S")
    assert path(call) == ["0:1", "5:", "150:"]
    assert call.exchanges[0]["status"] == 200 and call.exchanges[0]["answer"] == {"goto": "150"}
    assert "reason" not in call.exchanges[0]


async def test_play_with_inputs_routes_the_key_pressed_during_play() -> None:
    answer = {"play": [{"type": "file", "album": "10", "sort": "25"}, {"type": "tts", "text": "Hi ${name}"}],
              "inputs": {"1": "3", "4": "150"}, "variables": {"name ": "Ann", "album_num": 13}}
    channel, call, _ = await run([ok(answer)], ["1", "4"])
    assert channel.played[1] == ["file:10/25", "tts:Hi Ann"]
    assert path(call) == ["0:1", "5:4", "150:"]
    assert call.variables == {"name": "Ann", "album_num": "13"}


async def test_no_key_after_play_waits_input_timeout_then_goto() -> None:
    answer = {"goto": "3", "play": [{"type": "tts", "text": "Press 1"}], "inputs": {"1": "150"}}
    channel, call, _ = await run([ok(answer)], ["1", None, None], trigger={"input_timeout": 7})
    assert channel.waits[-1] == pytest.approx(7, abs=0.1)
    assert path(call) == ["0:1", "5:", "3:"]


async def test_no_key_and_no_goto_is_no_route() -> None:
    answer = {"play": [{"type": "tts", "text": "Press 1"}], "inputs": {"1": "150"}}
    _, call, _ = await run([ok(answer)], ["1", None, None])
    assert path(call) == ["0:1", "5:", "99:"]
    assert call.exchanges[0]["reason"] == "no key pressed and no goto"


async def test_play_alone_goes_to_no_route_when_it_ends_and_play_with_goto_to_goto() -> None:
    _, call, _ = await run([ok({"play": [{"type": "tts", "text": "Bye"}]})], ["1"])
    assert path(call)[-1] == "99:"
    _, call, _ = await run([ok({"play": [{"type": "tts", "text": "Bye"}], "goto": 150})], ["1"])
    assert path(call)[-1] == "150:"


async def test_a_key_no_input_matches_is_ignored_and_percent_catches_any() -> None:
    answer = {"play": [{"type": "tts", "text": "Press 1"}], "inputs": {"1": "150"}}
    _, call, _ = await run([ok(answer)], ["1", "7", "1"])
    assert path(call) == ["0:1", "5:1", "150:"]
    _, call, _ = await run([ok({**answer, "inputs": {"1": "150", "%": "3"}})], ["1", "7"])
    assert path(call) == ["0:1", "5:7", "3:"]


async def test_multi_key_inputs_collect_up_to_the_longest_and_end_early_on_a_whole_key() -> None:
    answer = {"play": [{"type": "tts", "text": "Enter"}], "inputs": {"17": "150", "170": "3", "2": "3"}}
    channel, call, _ = await run([ok(answer)], ["1", "1", "7", None])
    assert path(call) == ["0:1", "5:17", "150:"], "17 then the inter-digit timeout"
    channel, call, _ = await run([ok(answer)], ["1", "1", "7", "0"])
    assert path(call) == ["0:1", "5:170", "3:"]
    channel, call, _ = await run([ok(answer)], ["1", "2"])
    assert path(call) == ["0:1", "5:2", "3:"], "2 is a key nothing extends: no wait"
    assert channel.waits == [], "nothing waited on after the whole key"


@pytest.mark.parametrize("answer, reason", [
    (HookAnswer(None, None, 5000, "timeout after 5 s"), "timeout after 5 s"),
    (HookAnswer(500, {"goto": "150"}, 3), "the server answered HTTP 500"),
    (HookAnswer(200, None, 3, "not JSON"), "not JSON"),
    (ok(["goto", "150"]), "the answer is a list, not a JSON object"),
    (ok({"goto": "404"}), 'goto: no branch "404" in this IVR'),
    (ok({"inputs": {"1": "404"}}), 'inputs.1: no branch "404" in this IVR'),
    (ok({"play": [{"type": "file", "album": "1", "sort": "9"}], "goto": "150"}), "play: album 1 has no recording 9"),
    (ok({"play": [{"type": "video"}]}), "unknown play item type"),
    (ok({}), "the answer has no goto and nothing to play"),
])
async def test_every_failure_goes_to_no_route_with_the_reason_kept(answer: HookAnswer, reason: str) -> None:
    channel = FakeChannel(["1"])
    call = CallContext(channel, EchoMedia(missing={("1", "9")}), hooks=FakeWebhooks([answer]))
    await run_ivr(parse_ivr(doc()), call)
    assert path(call) == ["0:1", "5:", "99:"]
    assert reason in call.exchanges[0]["reason"]
    assert call.variables == {}, "a wrong answer changes nothing"


async def test_no_no_route_plays_an_apology_and_hangs_up_with_the_reason() -> None:
    document = doc()
    del document["branches"]["5"]["no_route"]
    channel = FakeChannel(["1"])
    call = CallContext(channel, EchoMedia(), hooks=FakeWebhooks([HookAnswer(503, None, 3)]))
    assert await run_ivr(parse_ivr(document), call) == "completed"
    assert channel.hung_up and channel.played[-1][0].startswith("tts:We are sorry")
    assert call.reason == "trigger 5: the server answered HTTP 503"


async def test_hold_plays_over_a_slow_server_and_stops_when_it_answers() -> None:
    hold = [{"type": "sound", "name": "hold-music"}]
    channel = FakeChannel(["1"], play_seconds=0.4)
    call = CallContext(channel, EchoMedia(), hooks=FakeWebhooks([ok({"goto": "150"})], delay=1.6))
    await run_ivr(parse_ivr(doc({"hold": hold})), call)
    holds = [p for p in channel.played if p == ["sound:hold-music"]]
    assert len(holds) >= 1 and channel.cancelled == [["sound:hold-music"]]
    assert path(call) == ["0:1", "5:", "150:"]


async def test_a_fast_server_is_heard_with_no_hold() -> None:
    channel = FakeChannel(["1"])
    call = CallContext(channel, EchoMedia(),
                       hooks=FakeWebhooks([ok({"goto": "150"})], delay=0.2))
    await run_ivr(parse_ivr(doc({"hold": [{"type": "sound", "name": "hold-music"}]})), call)
    assert ["sound:hold-music"] not in channel.played


async def test_variables_carry_from_one_trigger_to_the_next_and_clear_data_resets_branch_data() -> None:
    document = {"branches": {
        "0": {"type": "trigger", "url": URL, "no_route": "99"},
        "1": {"type": "content", "clear_data": True, "next": "2"},
        "2": {"type": "trigger", "url": URL, "no_route": "99"},
        "3": {"type": "hangup"},
        "99": {"type": "hangup"},
    }}
    hooks = FakeWebhooks([ok({"goto": "1", "variables": {"pin": "42"}}), ok({"goto": "3"})])
    call = CallContext(FakeChannel([]), EchoMedia(), hooks=hooks)
    await run_ivr(parse_ivr(document), call)
    assert hooks.posts[1]["body"]["variables"] == [{"pin": "42"}]
    assert hooks.posts[0]["body"]["branch_data"] == []
    assert hooks.posts[1]["body"]["branch_data"] == [], "cleared at branch 1"
    assert path(call) == ["0:", "1:", "2:", "3:"], "the record keeps every branch"


def test_the_document_checks_a_triggers_fields() -> None:
    with pytest.raises(IvrInvalid) as found:
        parse_ivr({"branches": {"0": {"type": "trigger", "url": "ftp://x", "timout": 3, "no_route": "7"}}})
    text = str(found.value)
    assert "branches.0.url: must be an http:// or https:// URL" in text
    assert "did you mean 'timeout'" in text and 'no_route: no branch "7"' in text
    with pytest.raises(IvrInvalid, match="credentials"):
        parse_ivr({"branches": {"0": {"type": "trigger", "url": "https://u:p@x.example/"}}})


def test_the_answer_tolerates_what_ported_servers_send() -> None:
    answer, problems = read_answer({"goto": "", "inputs": [], "variables": [{"a ": 1}], "extra": 1},
                                   {"3": None})
    assert problems == [] and answer is not None
    assert (answer.goto, answer.inputs, answer.variables, answer.ignored) == (None, {}, {"a": "1"}, ["extra"])


async def test_a_hold_that_resolves_to_nothing_waits_in_silence_instead_of_spinning() -> None:
    channel = FakeChannel(["1"])
    call = CallContext(channel, EchoMedia(missing={("7", "7")}),
                       hooks=FakeWebhooks([ok({"goto": "150"})], delay=1.5))
    hold = [{"type": "tts", "text": "${unset}"}, {"type": "file", "album": "7", "sort": "7"}]
    await asyncio.wait_for(run_ivr(parse_ivr(doc({"hold": hold})), call), 5)
    assert path(call) == ["0:1", "5:", "150:"]
    assert channel.played == [["sound:welcome"], ["sound:one-fifty"]], "no hold played, nothing looped"


async def test_an_answer_whose_recording_is_missing_changes_no_variable() -> None:
    answer = ok({"play": [{"type": "file", "album": "${a}", "sort": "9"}], "goto": "150", "variables": {"a": "1"}})
    call = CallContext(FakeChannel(["1"]), EchoMedia(missing={("1", "9")}), hooks=FakeWebhooks([answer]),
                       variables={"kept": "yes"})
    await run_ivr(parse_ivr(doc()), call)
    assert path(call)[-1] == "99:" and "album 1 has no recording 9" in call.exchanges[0]["reason"]
    assert call.variables == {"kept": "yes"}


async def test_an_answer_nested_past_the_stack_is_a_wrong_answer_not_a_crash() -> None:
    deep: Any = {"goto": "150"}
    for _ in range(5000):
        deep = {"x": deep}
    call = CallContext(FakeChannel(["1"]), EchoMedia(), hooks=FakeWebhooks([ok({"inputs": deep})]))
    await run_ivr(parse_ivr(doc()), call)
    assert path(call)[-1] == "99:"


async def test_variables_expand_in_the_url() -> None:
    hooks = FakeWebhooks([ok({"goto": "150"})])
    call = CallContext(FakeChannel(["1"]), EchoMedia(), hooks=hooks, variables={"region": "eu"})
    await run_ivr(parse_ivr(doc({"url": "https://${region}.crm.example/ivr"})), call)
    assert hooks.posts[0]["url"] == "https://eu.crm.example/ivr"
    assert call.exchanges[0]["url"] == "https://eu.crm.example/ivr"


async def test_a_key_that_can_start_no_entry_does_not_cut_the_answers_audio_short() -> None:
    answer = {"play": [{"type": "tts", "text": "Press 1"}], "inputs": {"1": "150"}}
    channel, call, _ = await run([ok(answer)], ["1", "7", "1"])
    assert channel.ignored == ["7"], "dropped while the audio went on"
    assert channel.waits == [], "the key came during the audio: no wait after it"
    assert path(call) == ["0:1", "5:1", "150:"]


async def test_a_caller_who_hangs_up_while_the_server_thinks_is_noticed_at_once() -> None:
    channel = FakeChannel(["1"], gone_after=0.2)
    call = CallContext(channel, EchoMedia(), hooks=FakeWebhooks([ok({"goto": "150"})], delay=4))
    started = asyncio.get_running_loop().time()
    assert await run_ivr(parse_ivr(doc()), call) == "caller"
    assert asyncio.get_running_loop().time() - started < 1
    assert path(call) == ["0:1"], "nothing after the trigger ran"


async def test_the_answer_kept_on_the_call_is_cut_as_the_call_record_cuts_it() -> None:
    from control.calls.recorder import MAX_ANSWER_CHARS
    from control.flow.branches.trigger import KEPT_ANSWER_CHARS

    big = {"goto": "150", "note": "x" * 10_000}
    _, call, _ = await run([ok(big)], ["1"])
    kept = call.exchanges[0]["answer"]
    assert KEPT_ANSWER_CHARS == MAX_ANSWER_CHARS and len(kept) == KEPT_ANSWER_CHARS and kept.endswith("~")
    _, call, _ = await run([ok({"goto": "150", "n": float("nan")})], ["1"])
    assert call.exchanges[0]["answer"] == "<dict that is not JSON>", "what the record could not store either"
    assert path(call) == ["0:1", "5:", "150:"], "the answer itself still counts"


@pytest.mark.parametrize("url, why", [
    ("http://2130706433:9000/", "not an address written in the usual form"),
    ("https://example.com/" + "x" * 3000, "longer than 2048 characters"),
    ("https://example.com/\u00adhook", "spaces or control characters"),
    ("https://example.com:0/", "port 0"),
])
def test_a_triggers_url_is_read_by_the_rule_the_client_applies(url: str, why: str) -> None:
    from control.webhooks.policy import WebhookPolicy

    with pytest.raises(IvrInvalid, match=why):
        parse_ivr(doc({"url": url}))
    assert why in (WebhookPolicy().url_problem(url) or "")
