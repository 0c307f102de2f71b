"""Branches on the fake channel: multi-digit menus, clear_data, goto (in the document and across
numbers), album (fixed, by variable, asked for, missing)."""
from __future__ import annotations

from typing import Any

from control.flow.branches import CallContext
from control.flow.document import parse_ivr
from control.flow.engine import run_ivr
from control.flow.ports import TenantView
from tests.unit.fakes import EchoMedia, FakeChannel, FakeIvrs

PROMPT = [{"type": "tts", "text": "Enter your code"}]
BYE = {"type": "hangup"}


async def run(doc: dict[str, Any], script: list[Any], **kw: Any) -> tuple[FakeChannel, CallContext, str]:
    channel = FakeChannel(script)
    media = kw.pop("media", EchoMedia())
    call = CallContext(channel, media, call_id="c-1", **kw)
    how = await run_ivr(parse_ivr(doc), call)
    return channel, call, how


def code_menu(**extra: Any) -> dict[str, Any]:
    menu = {"type": "menu", "play": PROMPT, "inputs": {"17": "10", "123": "20", "9": "30"}, "digits": 3,
            "retries": 0, "on_timeout": "99", **extra}
    return {"branches": {"0": menu, "10": BYE, "20": BYE, "30": BYE, "99": BYE, "50": BYE}}


async def test_an_entry_ends_at_the_terminator_and_is_recorded_whole() -> None:
    # "12" is a key and a prefix of "123": only "#" (or the wait) can say the entry is over.
    channel, call, _ = await run(code_menu(inputs={"12": "10", "123": "20"}), ["1", "2", "#", "3"])
    assert call.branch_data[:2] == [{"branch": "0", "input": "12"}, {"branch": "10", "input": ""}]
    assert channel.waits == [3, 3] and channel.played == [["tts:Enter your code"]] and channel.script == ["3"]


async def test_an_entry_only_one_key_fits_ends_at_once() -> None:
    channel, call, _ = await run(code_menu(), ["1", "2", "3", "5"])
    assert call.branch_data[:2] == [{"branch": "0", "input": "123"}, {"branch": "20", "input": ""}]
    channel, call, _ = await run(code_menu(), ["9", "5"])
    assert call.branch_data[0] == {"branch": "0", "input": "9"} and channel.waits == []


async def test_the_inter_digit_timeout_ends_a_partial_entry_which_routes_as_what_it_is() -> None:
    channel, call, _ = await run(code_menu(inputs={"12": "10", "123": "20"}), ["1", "2", None])
    assert call.branch_data[:2] == [{"branch": "0", "input": "12"}, {"branch": "10", "input": ""}]
    assert channel.waits == [3, 3], "the first key barged in; then one wait per key and the one that ran out"


async def test_a_partial_entry_with_no_route_is_not_a_timeout_it_is_invalid() -> None:
    _, call, _ = await run(code_menu(on_invalid="50"), ["1", None])
    assert call.branch_data[:2] == [{"branch": "0", "input": "1"}, {"branch": "50", "input": ""}]


async def test_digits_caps_the_entry() -> None:
    _, call, _ = await run(code_menu(on_invalid="50"), ["4", "5", "6", "7"])
    assert call.branch_data[0] == {"branch": "0", "input": "456"}


async def test_the_first_key_wait_is_timeout_and_silence_ends_in_on_timeout() -> None:
    channel, call, _ = await run(code_menu(timeout=7, inter_digit_timeout=2), [None, None])
    assert channel.waits == [7] and call.branch_data == [{"branch": "0", "input": ""}, {"branch": "99", "input": ""}]


async def test_a_lone_terminator_is_no_entry_and_uses_a_try() -> None:
    channel, call, _ = await run(code_menu(retries=1), ["#", "9"])
    assert channel.played == [["tts:Enter your code"]] * 2
    assert call.branch_data[0] == {"branch": "0", "input": "9"}


async def test_catch_all_takes_any_entry_and_a_null_terminator_makes_hash_a_key() -> None:
    doc = code_menu(inputs={"%": "10", "1": "20"}, terminator=None, digits=4)
    _, call, _ = await run(doc, ["#", "4", "*", None])
    assert call.branch_data[0] == {"branch": "0", "input": "#4*"}


async def test_star_as_terminator() -> None:
    _, call, _ = await run(code_menu(terminator="*", inputs={"1#": "10", "1": "20"}), ["1", "#", "5"])
    assert call.branch_data[0] == {"branch": "0", "input": "1#"}
    _, call, _ = await run(code_menu(terminator="*", inputs={"1#": "10", "1": "20"}), ["1", "*"])
    assert call.branch_data[:2] == [{"branch": "0", "input": "1"}, {"branch": "20", "input": ""}]


async def test_on_invalid_takes_an_unrouted_key_at_once_in_a_one_key_menu_too() -> None:
    doc = {"branches": {"0": {"type": "menu", "play": PROMPT, "inputs": {"1": "9"}, "on_invalid": "5"},
                        "5": BYE, "9": BYE}}
    channel, call, _ = await run(doc, ["7", "1"])
    assert call.branch_data == [{"branch": "0", "input": "7"}, {"branch": "5", "input": ""}]
    assert channel.played == [["tts:Enter your code"]] and channel.waits == []


async def test_one_key_menus_keep_hash_routable_and_never_wait_between_keys() -> None:
    doc = {"branches": {"0": {"type": "menu", "play": PROMPT, "inputs": {"#": "9", "1": "0"}}, "9": BYE}}
    channel, call, _ = await run(doc, ["#"])
    assert call.branch_data[0] == {"branch": "0", "input": "#"} and channel.waits == []


async def test_keys_pressed_before_the_menu_are_forgotten() -> None:
    channel = FakeChannel(["9"])
    channel.press("1")
    call = CallContext(channel, EchoMedia())
    await run_ivr(parse_ivr(code_menu()), call)
    assert call.branch_data[0] == {"branch": "0", "input": "9"} and channel.flushes == 1


async def test_clear_data_hides_the_branches_up_to_and_including_the_clearing_one() -> None:
    doc = {"branches": {
        "0": {"type": "menu", "play": PROMPT, "inputs": {"1": "5"}},
        "5": {"type": "content", "play": [{"type": "tts", "text": "Cleared"}], "clear_data": True, "next": "6"},
        "6": {"type": "content", "next": "7"},
        "7": BYE,
    }}
    _, call, _ = await run(doc, ["1"])
    assert call.branch_data == [{"branch": "0", "input": "1"}, {"branch": "5", "input": ""},
                                {"branch": "6", "input": ""}, {"branch": "7", "input": ""}]
    assert call.data_from == 2 and call.webhook_branch_data() == call.branch_data[2:]


async def test_content_expands_variables() -> None:
    doc = {"branches": {"0": {"type": "content", "play": [{"type": "tts", "text": "Hi ${name}${nope}"}]}}}
    channel, _, _ = await run(doc, [], variables={"name": "Ann"})
    assert channel.played == [["tts:Hi Ann"]]


async def test_goto_in_the_document() -> None:
    doc = {"branches": {"0": {"type": "goto", "branch": 5}, "5": BYE}}
    channel, call, how = await run(doc, [])
    assert call.branch_data == [{"branch": "0", "input": ""}, {"branch": "5", "input": ""}]
    assert how == "completed" and channel.hung_up and call.reason is None


OTHER = parse_ivr({"branches": {"0": BYE, "40": {"type": "content", "play": PROMPT, "next": "0"}}})


async def test_goto_another_number_runs_that_numbers_ivr_from_then_on() -> None:
    ivrs = FakeIvrs({("+18005550111", "t-1"): OTHER})
    doc = {"branches": {"0": {"type": "goto", "number": 8005550111, "branch": "40"}}}
    channel, call, _ = await run(doc, [], ivrs=ivrs, tenant=TenantView(id="t-1"))
    assert ivrs.asked == [("+18005550111", "t-1")] and call.ivr is OTHER, "looked up as E.164, however written"
    assert call.branch_data == [{"branch": "0", "input": ""}, {"branch": "40", "input": ""},
                                {"branch": "0", "input": ""}], "branch 0 is the other IVR's hangup"
    assert channel.played == [["tts:Enter your code"]] and call.reason is None


async def test_goto_a_number_with_no_ivr_or_no_such_branch_hangs_up_with_a_reason() -> None:
    doc = {"branches": {"0": {"type": "goto", "number": "+18005550111", "branch": "40"}}}
    channel, call, how = await run(doc, [], ivrs=FakeIvrs(), tenant=TenantView(id="t-1"))
    assert how == "completed" and channel.hung_up
    assert call.reason == "goto 0: number +18005550111 has no IVR for this tenant"
    doc = {"branches": {"0": {"type": "goto", "number": "+18005550111", "branch": "41"}}}
    _, call, _ = await run(doc, [], ivrs=FakeIvrs({("+18005550111", "t-1"): OTHER}), tenant=TenantView(id="t-1"))
    assert call.reason == 'goto 0: the IVR of +18005550111 has no branch "41"'
    _, call, _ = await run(doc, [])
    assert call.reason == "goto 0: number +18005550111 has no IVR for this tenant", "no lookup: no IVR"


async def test_a_missing_branch_at_run_time_hangs_up_with_a_reason() -> None:
    ivr = parse_ivr({"branches": {"0": BYE}})
    channel = FakeChannel([])
    call = CallContext(channel, EchoMedia())
    assert await run_ivr(ivr, call, start="77") == "completed"
    assert channel.hung_up and call.reason == 'no branch "77" in the IVR'


def album_doc(**album: Any) -> dict[str, Any]:
    return {"branches": {"0": {"type": "album", "next": "9", **album}, "9": BYE, "8": BYE}}


async def test_album_plays_a_fixed_recording_for_the_tenant() -> None:
    channel, call, _ = await run(album_doc(album=10, sort="025"), ["1"], tenant=TenantView(id="t-1"))
    assert channel.played == [["file:10/25"]] and call.media.tenants == ["t-1"]
    assert channel.script == ["1"], "keys do not interrupt a recording"
    assert call.branch_data == [{"branch": "0", "input": ""}, {"branch": "9", "input": ""}]


async def test_album_and_sort_from_variables() -> None:
    channel, _, _ = await run(album_doc(album="${album_num}", sort="${pick}"), [],
                              variables={"album_num": "13", "pick": " 07 "})
    assert channel.played == [["file:13/7"]]


async def test_album_asks_the_caller_for_the_sort_number() -> None:
    doc = album_doc(album=10, ask=True, play=[{"type": "tts", "text": "Which one?"}])
    channel, call, _ = await run(doc, ["2", "5", "#"])
    assert channel.played == [["tts:Which one?"], ["file:10/25"]] and channel.waits == [3, 3]
    assert call.branch_data[0] == {"branch": "0", "input": "25"}
    channel, call, _ = await run(album_doc(album=10, ask=True, digits=2, timeout=9), ["4", "2", "#"])
    assert channel.played == [["file:10/42"]] and channel.waits == [9, 3] and channel.script == ["#"]


async def test_a_missing_recording_goes_to_on_missing_or_on_to_next() -> None:
    media = EchoMedia(missing={("10", "25")})
    channel, call, _ = await run(album_doc(album=10, sort=25, on_missing="8"), [], media=media)
    assert channel.played == [] and call.branch_data[1] == {"branch": "8", "input": ""}
    channel, call, _ = await run(album_doc(album=10, sort=25), [], media=EchoMedia(missing={("10", "25")}))
    assert channel.played == [] and call.branch_data[1] == {"branch": "9", "input": ""}


async def test_an_unusable_keyed_or_expanded_number_counts_as_missing() -> None:
    _, call, _ = await run(album_doc(album=10, ask=True, on_missing="8"), [None])
    assert call.branch_data == [{"branch": "0", "input": ""}, {"branch": "8", "input": ""}]
    _, call, _ = await run(album_doc(album=10, ask=True, on_missing="8"), ["*", "1", None])
    assert call.branch_data[:2] == [{"branch": "0", "input": "*1"}, {"branch": "8", "input": ""}]
    channel, call, _ = await run(album_doc(album="${a}", sort=1, on_missing="8"), [], variables={"a": "x"})
    assert channel.played == [] and call.branch_data[1] == {"branch": "8", "input": ""}


async def test_a_terminator_after_a_whole_entry_does_not_cut_the_next_try_short() -> None:
    channel = FakeChannel(["4", "5", "6", None, "9"])
    call = CallContext(channel, EchoMedia(), call_id="c-1")
    real_wait = channel.wait_digit

    async def wait_then_hash(timeout: float) -> str | None:
        key = await real_wait(timeout)
        if key == "6":  # "456" is whole (digits: 3); the caller adds "#" out of habit
            channel.press("#")
        return key

    channel.wait_digit = wait_then_hash  # type: ignore[method-assign]
    await run_ivr(parse_ivr(code_menu(retries=1)), call)
    assert channel.played == [["tts:Enter your code"]] * 2, "the second try's prompt played whole"
    assert call.branch_data[0] == {"branch": "0", "input": "9"}
