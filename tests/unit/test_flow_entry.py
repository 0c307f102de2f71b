"""entry.collect: the one multi-digit collector (first-key wait, inter-digit wait, #, count)."""
from __future__ import annotations

from control.flow.entry import ANY, ENTRY, MAX_DIGITS, collect, ends_on_match, terminator_for
from tests.unit.fakes import FakeChannel


async def entry(script: list, first: str | None = None, **kw: object) -> tuple[str, FakeChannel]:
    channel = FakeChannel(script)
    options = {"max_digits": 4, "terminator": "#", "first_timeout": 5.0, "inter_digit_timeout": 3.0, **kw}
    return await collect(channel, first, **options), channel  # type: ignore[arg-type]


async def test_no_key_is_an_empty_entry_after_the_first_timeout_only() -> None:
    got, channel = await entry([None])
    assert got == "" and channel.waits == [5.0]


async def test_the_inter_digit_wait_follows_every_key_and_its_end_delivers_a_partial_entry() -> None:
    got, channel = await entry(["1", "7", None, "9"])
    assert got == "17" and channel.waits == [5.0, 3.0, 3.0]
    assert channel.script == ["9"], "a key after the entry ended is not part of it"


async def test_a_barge_in_key_starts_the_entry_without_the_first_wait() -> None:
    got, channel = await entry(["2", None], first="1")
    assert got == "12" and channel.waits == [3.0, 3.0]


async def test_the_terminator_ends_the_entry_and_is_not_part_of_it() -> None:
    got, _ = await entry(["1", "2", "#", "3"])
    assert got == "12"
    got, channel = await entry(["1"], first="#")
    assert got == "" and channel.waits == [], "a lone terminator is an empty entry"


async def test_the_digit_count_ends_the_entry_without_waiting_for_more() -> None:
    got, channel = await entry(["1", "2", "3", "4", "5"])
    assert got == "1234" and channel.script == ["5"] and channel.waits == [5.0, 3.0, 3.0, 3.0]


async def test_without_a_terminator_hash_is_a_key_like_any_other() -> None:
    got, _ = await entry(["#", "*", None], terminator=None)
    assert got == "#*"


async def test_one_digit_takes_one_key() -> None:
    got, channel = await entry(["#", "2"], max_digits=1, terminator=None)
    assert got == "#" and channel.waits == [5.0] and channel.script == ["2"]


async def test_complete_ends_the_entry_early() -> None:
    got, channel = await entry(["2", "1", "5"], complete=ends_on_match(["1", "21", "22", "%"]))
    assert got == "21" and channel.script == ["5"]


def test_ends_on_match_waits_while_a_longer_key_may_follow_and_ignores_the_catch_all() -> None:
    complete = ends_on_match(["1", "12", "3", "%"])
    assert [complete(e) for e in ("1", "12", "3", "4", "%", "")] == [False, True, True, False, False, False]


def test_the_terminator_is_one_rule_for_menus_and_webhook_inputs() -> None:
    assert terminator_for(["12", "3"], "#", 3) == "#"
    assert terminator_for(["12", "3"], None, 3) is None
    assert terminator_for(["1", "#"], "#", 1) is None, "one-key entries: # stays a key"
    assert terminator_for(["1#", "3"], "#", 2) is None, "a key holding it: it is part of an entry"
    assert terminator_for(["1#", "3"], "*", 2) == "*"
    assert ENTRY.fullmatch("1" * MAX_DIGITS) and not ENTRY.fullmatch("1" * (MAX_DIGITS + 1))
    assert not ENTRY.fullmatch(ANY) and not ENTRY.fullmatch("")
