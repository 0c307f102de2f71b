"""The strict rules of an IVR document once it is data: fields, ids, integers, TTS text."""
from __future__ import annotations

from typing import Any

import pytest

from control.flow.branches import TYPES
from control.flow.document import MAX_ERRORS, IvrInvalid, parse_ivr
from control.flow.loader import shown
from control.flow.play import MAX_TTS_CHARS


def menu(**extra: Any) -> dict[str, Any]:
    return {"type": "menu", "play": [{"type": "sound", "name": "beep"}], "inputs": {"1": "9"}, **extra}


def problems(doc: Any) -> list[str]:
    with pytest.raises(IvrInvalid) as caught:
        parse_ivr(doc)
    return caught.value.errors


def with_branch(branch: dict[str, Any]) -> dict[str, Any]:
    return {"branches": {"0": branch, "9": {"type": "hangup"}}}


def test_unknown_fields_are_errors_with_a_suggestion_at_every_level() -> None:
    doc = {"branchs": {}, "branches": {
        "0": menu(timout=3, play=[{"type": "tts", "txt": "Hi", "text": "Hi"},
                                  {"type": "sound", "name": "beep", "nme": "x"}]),
        "9": {"type": "hangup", "nxt": "0"},
        "8": {"type": "content", "zzz": 1, 7: "x"},
    }}
    assert sorted(problems(doc)) == sorted([
        "branchs: unknown field (did you mean 'branches'?)",
        "branches.0.timout: unknown field (did you mean 'timeout'?)",
        "branches.0.play.0.txt: unknown field (did you mean 'text'?)",
        "branches.0.play.1.nme: unknown field (did you mean 'name'?)",
        "branches.9.nxt: unknown field (known: play, type)",
        "branches.8.zzz: unknown field (known: next, play, type)",
        "branches.8.7: unknown field (known: next, play, type)",
    ])


def test_each_branch_type_declares_its_fields_in_one_table() -> None:
    assert {name: sorted(cls.fields) for name, cls in TYPES.items()} == {
        "content": ["next", "play", "type"],
        "hangup": ["play", "type"],
        "menu": ["inputs", "on_timeout", "play", "retries", "timeout", "type"],
    }
    assert TYPES["menu"].fields["timeout"] == 5 and TYPES["menu"].fields["retries"] == 2
    parsed = parse_ivr(with_branch(menu())).branches["0"]
    assert (parsed.timeout, parsed.retries) == (5, 2)


def test_branch_ids_0_and_string_0_are_one_id() -> None:
    assert problems({"branches": {0: {"type": "hangup"}, "0": {"type": "hangup"}}}) == \
        ["branches.0: branch \"0\" is given twice (as 0 and '0')"]
    assert problems({"branches": {"0": menu(inputs={1: "0", "1": "0"})}}) == \
        ["branches.0.inputs.1: key \"1\" is given twice (as 1 and '1')"]


def test_references_as_integers_or_strings_resolve_alike() -> None:
    as_ints = {"branches": {0: menu(inputs={1: 10, 2: 900}, on_timeout=900), 10: {"type": "content", "next": 0},
                            900: {"type": "hangup"}}}
    as_strings = {"branches": {"0": menu(inputs={"1": "10", "2": "900"}, on_timeout="900"),
                               "10": {"type": "content", "next": "0"}, "900": {"type": "hangup"}}}
    assert parse_ivr(as_ints).dump() == parse_ivr(as_strings).dump()
    assert parse_ivr(as_ints).dump()["branches"]["0"]["inputs"] == {"1": "10", "2": "900"}


@pytest.mark.parametrize("bad", [True, 1.0, "", "  ", "a\nb", "x" * 65, [1]])
def test_a_reference_must_be_a_number_or_a_short_string(bad: Any) -> None:
    assert problems({"branches": {"0": {"type": "content", "next": bad}}}) == \
        ["branches.0.next: must be a branch number"]


@pytest.mark.parametrize("bad", [True, None, 1.0, "", "a\nb", "x" * 65])
def test_a_branch_id_must_be_a_number_or_a_short_string(bad: Any) -> None:
    assert problems({"branches": {"0": {"type": "hangup"}, bad: {"type": "hangup"}}}) == \
        [f"branches.{shown(bad)}: a branch id is a number or a short string"]


@pytest.mark.parametrize(("field", "value", "error"), [
    ("retries", 2.5, "branches.0.retries: must be a whole number from 0 to 20"),
    ("retries", 2.0, "branches.0.retries: must be a whole number from 0 to 20"),
    ("retries", True, "branches.0.retries: must be a whole number from 0 to 20"),
    ("retries", "2", "branches.0.retries: must be a whole number from 0 to 20"),
    ("retries", 21, "branches.0.retries: must be a whole number from 0 to 20"),
    ("timeout", True, "branches.0.timeout: must be a number from 0.5 to 120"),
    ("timeout", float("nan"), "branches.0.timeout: must be a number from 0.5 to 120"),
    ("timeout", None, "branches.0.timeout: must be a number from 0.5 to 120"),
])
def test_integers_where_integers_are_meant_and_bools_are_never_numbers(field: str, value: Any, error: str) -> None:
    assert problems(with_branch(menu(**{field: value}))) == [error]


@pytest.mark.parametrize(("field", "value"), [("retries", 2), ("retries", 0), ("timeout", 2.5), ("timeout", 3)])
def test_whole_and_fractional_numbers_where_they_are_meant(field: str, value: Any) -> None:
    branch = parse_ivr(with_branch(menu(**{field: value}))).branches["0"]
    assert getattr(branch, field) == value


def tts_problems(text: str) -> list[str]:
    return problems(with_branch(menu(play=[{"type": "tts", "text": text}])))


def test_tts_text_has_a_length_limit() -> None:
    assert MAX_TTS_CHARS == 1000
    parse_ivr(with_branch(menu(play=[{"type": "tts", "text": "é" * MAX_TTS_CHARS}])))
    assert tts_problems("a" * (MAX_TTS_CHARS + 1)) == \
        ["branches.0.play.0.text: 1001 characters, more than the 1000 a tts item may speak"]


CONTROL = "a control character (tab, newline and carriage return are the only ones allowed)"
SURROGATE = "half of a UTF-16 surrogate pair, which is not text"


@pytest.mark.parametrize(("text", "error"), [
    ("a\0b", f"character 2 is U+0000, {CONTROL}"),
    ("bell\x07", f"character 5 is U+0007, {CONTROL}"),
    ("\x1b[2J", f"character 1 is U+001B, {CONTROL}"),
    ("x\x85", f"character 2 is U+0085, {CONTROL}"),
    ("half \ud800 pair", f"character 6 is U+D800, {SURROGATE}"),
    ("\udfff", f"character 1 is U+DFFF, {SURROGATE}"),
    (" \n\t", "tts needs non-empty text"),
])
def test_tts_text_must_be_speakable(text: str, error: str) -> None:
    assert tts_problems(text) == [f"branches.0.play.0.text: {error}"]


def test_sound_names_are_whole_matches() -> None:
    assert problems(with_branch(menu(play=[{"type": "sound", "name": "beep\n"}]))) == \
        ["branches.0.play.0.name: sound needs a prompt name like 'hello-world' or 'digits/1'"]


def test_huge_bad_values_are_quoted_short_and_many_problems_capped() -> None:
    errors = problems(with_branch({"type": "x" * 1_000_000}))
    assert errors == ["branches.0.type: unknown branch type 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... "
                      "(known: content, hangup, menu)"]
    many = problems({"branches": {str(i): {"type": "dance"} for i in range(1, 500)}})
    assert len(many) == MAX_ERRORS + 1 and many[-1] == f"document: {500 - MAX_ERRORS} more problems not listed"
