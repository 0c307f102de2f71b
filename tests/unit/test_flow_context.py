"""The call context branches share: variables, branch_data for webhooks, playing items."""
from __future__ import annotations

import asyncio
import logging

import pytest

from control.flow.branches import CallContext
from control.flow.play import PlayItem
from control.flow.ports import TenantView
from tests.unit.fakes import EchoMedia, FakeChannel


def context(**kw: object) -> CallContext:
    return CallContext(FakeChannel([]), EchoMedia(), call_id="c-1", **kw)  # type: ignore[arg-type]


def test_a_context_needs_only_a_channel_and_media() -> None:
    call = CallContext(FakeChannel([]), EchoMedia())
    assert (call.call_id, call.caller, call.did, call.tenant, call.ivr, call.hooks, call.ivrs) == \
        ("", "", "", TenantView(), None, None, None)
    assert (call.variables, call.branch_data, call.data_from, call.exchanges, call.reason) == ({}, [], 0, [], None)


def test_variables_expand_once_and_unknown_ones_are_logged_with_the_call_id(
        caplog: pytest.LogCaptureFixture) -> None:
    call = context(variables={"name": "Ann", "order.id": "17", "loop": "${name}", "x-y_2": "z"})
    with caplog.at_level(logging.WARNING):
        assert call.expand("Hi ${name}, order ${order.id} ${x-y_2}") == "Hi Ann, order 17 z"
        assert call.expand("${loop}") == "${name}", "a value is not expanded again"
        assert call.expand("[${nobody}]") == "[]"
        assert call.expand("${nobody}${nobody}") == ""
    assert [r.getMessage() for r in caplog.records] == ["call c-1: unknown variable ${nobody} expands to nothing"]


@pytest.mark.parametrize("text", ["$5", "costs $", "${}", "${a b}", "$name", "${name", "$${", "{name}"])
def test_a_dollar_not_followed_by_a_name_in_braces_stays_as_it_is(text: str) -> None:
    assert context(variables={"name": "Ann"}).expand(text) == text


def test_names_are_case_sensitive() -> None:
    assert context(variables={"Name": "Ann"}).expand("${name}${Name}") == "Ann"


def test_set_variables_merges_trims_keys_and_keeps_values_as_text() -> None:
    call = context(variables={"keep": "1", "var_2": "old"})
    call.set_variables({"caller_pin ": "123", "var_2": "var_val", 7: 8, "n": 2.5, "b": True, "none": None,
                        "list": [1, "a"], "obj": {"k": "é"}, "  ": "dropped"})
    assert call.variables == {"keep": "1", "caller_pin": "123", "var_2": "var_val", "7": "8", "n": "2.5",
                              "b": "true", "none": "", "list": '[1,"a"]', "obj": '{"k":"é"}'}
    assert call.expand("${caller_pin}") == "123"


def test_clear_data_hides_earlier_branches_from_webhooks_only() -> None:
    call = context()
    call.record("0", "1")
    call.record("5", "")
    assert call.webhook_branch_data() == [{"branch": "0", "input": "1"}, {"branch": "5", "input": ""}]
    call.clear_data()
    assert call.webhook_branch_data() == [] and call.data_from == 2
    call.record("7", "42")
    assert call.webhook_branch_data() == [{"branch": "7", "input": "42"}]
    assert len(call.branch_data) == 3, "the call record keeps every branch"


async def test_play_items_expands_resolves_for_the_tenant_and_plays() -> None:
    call = context(tenant=TenantView(id="t-9"), variables={"who": "Ann", "a": "10", "s": "025"})
    items = [PlayItem("tts", "Hi ${who}"), PlayItem("file", album="${a}", sort="${s}"), PlayItem("sound", "beep")]
    assert await call.play_items(items, barge_in=False) is None
    assert call.channel.played == [["tts:Hi Ann", "file:10/25", "sound:beep"]]
    assert call.media.tenants == ["t-9"]
    assert items[0].value == "Hi ${who}", "items are not changed in place"


async def test_play_items_skips_missing_files_and_emptied_texts_and_plays_the_rest(
        caplog: pytest.LogCaptureFixture) -> None:
    call = context(variables={"bad": "ten"})
    call.media.missing.add(("10", "25"))
    items = [PlayItem("file", album="10", sort="25"), PlayItem("tts", "${gone}"), PlayItem("tts", "Still here"),
             PlayItem("file", album="${bad}", sort="1"), PlayItem("file", album="10", sort="26")]
    with caplog.at_level(logging.WARNING):
        await call.play_items(items, barge_in=False)
    assert call.channel.played == [["tts:Still here", "file:10/26"]]
    logged = " | ".join(r.getMessage() for r in caplog.records)
    assert "album 10 sort 25" in logged and "tts needs non-empty text" in logged and "'ten'" in logged


async def test_play_items_with_nothing_playable_plays_nothing() -> None:
    call = context()
    call.media.missing.add(("1", "1"))
    call.channel.script = ["5"]
    assert await call.play_items([PlayItem("file", album="1", sort="1")], barge_in=True) is None
    assert call.channel.played == [] and call.channel.script == ["5"]


async def test_play_items_returns_the_key_that_barged_in() -> None:
    call = context()
    call.channel.script = ["3"]
    assert await call.play_items([PlayItem("tts", "Press")], barge_in=True) == "3"


async def test_a_fake_play_cancelled_midway_consumes_no_step() -> None:
    channel = FakeChannel(["1"], play_seconds=5)
    task = asyncio.ensure_future(channel.play(["sound:hold"], barge_in=True))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert channel.cancelled == [["sound:hold"]] and channel.script == ["1"]


async def test_a_fake_play_of_no_length_still_yields_and_can_be_cancelled() -> None:
    channel = FakeChannel([])
    task = asyncio.ensure_future(channel.play(["sound:hold"], barge_in=False))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert channel.cancelled == [["sound:hold"]]


def test_expand_item_expands_text_album_and_sort_only() -> None:
    call = context(variables={"a": " 010 ", "s": "7", "t": "hi"})
    assert PlayItem("file", album="${a}", sort="${s}").expanded(call.expand) == PlayItem("file", album="10", sort="7")
    assert PlayItem("tts", "${t}!").expanded(call.expand) == PlayItem("tts", "hi!")
    sound = PlayItem("sound", "beep")
    assert sound.expanded(call.expand) is sound


async def test_items_no_variable_changed_are_not_checked_again_on_every_play(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from control.flow import context as context_module

    checked: list[PlayItem] = []
    real = context_module.item_problem
    monkeypatch.setattr(context_module, "item_problem", lambda item: checked.append(item) or real(item))
    call = context(variables={"who": "Ann"})
    items = [PlayItem("tts", "Hello"), PlayItem("file", album="1", sort="2"), PlayItem("tts", "Hi ${who}")]
    for _ in range(3):
        await call.play_items(items, barge_in=False)
    assert checked == [PlayItem("tts", "Hi Ann")] * 3, "checked when parsed; only what a variable made is checked"


async def test_resolve_strict_plays_all_or_says_why_and_expands_against_what_it_is_given() -> None:
    call = context(variables={"a": "1"})
    call.media.missing.add(("2", "9"))
    items = [PlayItem("tts", "Hi"), PlayItem("file", album="${a}", sort="9")]
    assert await call.resolve_strict(items) == (["tts:Hi", "file:1/9"], "")
    assert await call.resolve_strict(items, {"a": "2"}) == ([], "play: album 2 has no recording 9")
    assert await call.resolve_strict(items, {"a": "x"}) == ([], "play.1: album 'x' is not a recording number")
    assert call.variables == {"a": "1"}, "the call's own variables are only read"
