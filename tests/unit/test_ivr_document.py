"""The strict rules of an IVR document once it is data: fields, ids, integers, TTS text."""
from __future__ import annotations

from typing import Any

import pytest

from control.flow.branches import TYPES
from control.flow.document import MAX_ERRORS, IvrInvalid, parse_ivr
from control.flow.loader import shown
from control.flow.play import MAX_TTS_CHARS, PlayItem, parse_play


ENGINE_TYPES = ("album", "content", "goto", "hangup", "menu")


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
        "branches.8.zzz: unknown field (known: clear_data, next, play, type)",
        "branches.8.7: unknown field (known: clear_data, next, play, type)",
    ])


def test_each_branch_type_declares_its_fields_in_one_table() -> None:
    # Types other modules add (trigger, transfer, record) are checked by their own tests.
    assert {name: sorted(TYPES[name].fields) for name in ENGINE_TYPES} == {
        "album": ["album", "ask", "digits", "inter_digit_timeout", "next", "on_missing", "play", "sort",
                  "terminator", "timeout", "type"],
        "content": ["clear_data", "next", "play", "type"],
        "goto": ["branch", "number", "type"],
        "hangup": ["play", "type"],
        "menu": ["digits", "inputs", "inter_digit_timeout", "on_invalid", "on_timeout", "play", "retries",
                 "terminator", "timeout", "type"],
    }
    assert TYPES["menu"].fields["timeout"] == 5 and TYPES["menu"].fields["retries"] == 2
    assert (TYPES["menu"].fields["digits"], TYPES["menu"].fields["terminator"],
            TYPES["menu"].fields["inter_digit_timeout"]) == (1, "#", 3)
    assert TYPES["content"].fields["clear_data"] is False
    assert (TYPES["album"].fields["ask"], TYPES["album"].fields["digits"], TYPES["album"].fields["timeout"],
            TYPES["album"].fields["inter_digit_timeout"]) == (False, 3, 5, 3)
    parsed = parse_ivr(with_branch(menu())).branches["0"]
    assert (parsed.timeout, parsed.retries, parsed.digits, parsed.terminator, parsed.inter_digit_timeout,
            parsed.on_invalid) == (5, 2, 1, "#", 3, None)


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
                      f"(known: {', '.join(sorted(TYPES))})"]
    many = problems({"branches": {str(i): {"type": "dance"} for i in range(1, 500)}})
    assert len(many) == MAX_ERRORS + 1 and many[-1] == f"document: {500 - MAX_ERRORS} more problems not listed"


# -- fields added with the API branch work: menu entries, clear_data, goto, album, file items ---

def test_unknown_new_fields_are_named_with_a_suggestion() -> None:
    doc = {"branches": {
        "0": menu(digit=2, on_invalidd="9"),
        "1": {"type": "content", "clear": True},
        "2": {"type": "goto", "branch": "9", "numbr": "8005550100"},
        "3": {"type": "album", "album": 1, "sort": 2, "on_mising": "9"},
        "4": {"type": "content", "play": [{"type": "file", "album": 1, "sort": 2, "srot": 3}]},
        "9": {"type": "hangup"},
    }}
    assert sorted(problems(doc)) == sorted([
        "branches.0.digit: unknown field (did you mean 'digits'?)",
        "branches.0.on_invalidd: unknown field (did you mean 'on_invalid'?)",
        "branches.1.clear: unknown field (did you mean 'clear_data'?)",
        "branches.2.numbr: unknown field (did you mean 'number'?)",
        "branches.3.on_mising: unknown field (did you mean 'on_missing'?)",
        "branches.4.play.0.srot: unknown field (did you mean 'sort'?)",
    ])


@pytest.mark.parametrize(("extra", "error"), [
    ({"digits": 0}, "branches.0.digits: must be a whole number from 1 to 20"),
    ({"digits": 21}, "branches.0.digits: must be a whole number from 1 to 20"),
    ({"digits": "3"}, "branches.0.digits: must be a whole number from 1 to 20"),
    ({"digits": 2.0}, "branches.0.digits: must be a whole number from 1 to 20"),
    ({"terminator": "x"}, 'branches.0.terminator: must be "#", "*" or null (no terminator)'),
    ({"terminator": 5}, 'branches.0.terminator: must be "#", "*" or null (no terminator)'),
    ({"inter_digit_timeout": 0}, "branches.0.inter_digit_timeout: must be a number from 0.5 to 30"),
    ({"inter_digit_timeout": True}, "branches.0.inter_digit_timeout: must be a number from 0.5 to 30"),
    ({"on_invalid": True}, "branches.0.on_invalid: must be a branch number"),
    ({"on_invalid": "700"}, 'branches.0.on_invalid: no branch "700"'),
    ({"inputs": {"12": "9"}}, "branches.0.inputs.12: a key is one of 0-9, *, # or % (any key)"),
    ({"digits": 3, "inputs": {"1234": "9"}},
     "branches.0.inputs.1234: 4 keys, more than digits (3) lets a caller enter"),
    ({"digits": 3, "inputs": {"1a": "9"}}, "branches.0.inputs.1a: an entry is keys of 0-9, * and #, or % (any entry)"),
    ({"digits": 3, "inputs": {"%%": "9"}}, "branches.0.inputs.%%: an entry is keys of 0-9, * and #, or % (any entry)"),
    ({"digits": 3, "inputs": {"1#": "9"}},
     "branches.0.inputs.1#: holds the terminator '#', which ends an entry (set terminator: null, or another key)"),
    ({"digits": 2, "terminator": "*", "inputs": {"*": "9"}},
     "branches.0.inputs.*: holds the terminator '*', which ends an entry (set terminator: null, or another key)"),
])
def test_menu_entry_fields_are_strict(extra: dict[str, Any], error: str) -> None:
    assert problems(with_branch(menu(**extra))) == [error]


@pytest.mark.parametrize("extra", [
    {"digits": 4, "inputs": {"1234": "9", "%": "9", 7: "9"}},
    {"digits": 2, "terminator": None, "inputs": {"1#": "9", "#": "9"}},
    {"digits": 1, "terminator": "*", "inputs": {"*": "9", "#": "9"}},  # one key: the terminator is not read
    {"inter_digit_timeout": 0.5, "on_invalid": 9},
])
def test_menu_entry_fields_that_are_fine(extra: dict[str, Any]) -> None:
    parse_ivr(with_branch(menu(**extra)))


def test_a_one_key_menu_dumps_as_it_always_did_and_entries_round_trip() -> None:
    assert sorted(parse_ivr(with_branch(menu())).dump()["branches"]["0"]) == \
        ["inputs", "play", "retries", "timeout", "type"]
    doc = with_branch(menu(digits=4, terminator=None, inter_digit_timeout=2, on_invalid=9, inputs={"1234": 9}))
    dumped = parse_ivr(doc).dump()
    assert dumped["branches"]["0"]["terminator"] is None and dumped["branches"]["0"]["inputs"] == {"1234": "9"}
    assert parse_ivr(dumped).dump() == dumped


def test_content_clear_data_is_a_boolean() -> None:
    assert problems(with_branch({"type": "content", "clear_data": "yes", "next": 9})) == \
        ["branches.0.clear_data: must be true or false"]
    assert problems(with_branch({"type": "content", "clear_data": None})) == \
        ["branches.0.clear_data: must be true or false"]
    dumped = parse_ivr(with_branch({"type": "content", "clear_data": True})).dump()
    assert dumped["branches"]["0"] == {"type": "content", "play": [], "clear_data": True}
    assert "clear_data" not in parse_ivr(with_branch({"type": "content"})).dump()["branches"]["0"]


@pytest.mark.parametrize(("goto", "errors"), [
    ({}, ["branches.0.branch: required (a branch number)"]),
    ({"branch": None}, ["branches.0.branch: required (a branch number)"]),
    ({"branch": 1.5}, ["branches.0.branch: must be a branch number"]),
    ({"branch": "700"}, ['branches.0.branch: no branch "700"']),
    ({"branch": "9", "number": "555-1212"},
     ["branches.0.number: must be a phone number, E.164 (+18005550100) or 10-digit (8005550100)"]),
    ({"branch": "9", "number": True},
     ["branches.0.number: must be a phone number, E.164 (+18005550100) or 10-digit (8005550100)"]),
    ({"branch": "9", "number": "${n}"},
     ["branches.0.number: must be a phone number, E.164 (+18005550100) or 10-digit (8005550100)"]),
    ({"number": "+18005550100"}, ["branches.0.branch: required (a branch number)"]),
])
def test_goto_fields_are_strict(goto: dict[str, Any], errors: list[str]) -> None:
    assert problems(with_branch({"type": "goto", **goto})) == errors


def test_goto_another_number_names_that_ivrs_branch_unchecked_here() -> None:
    for number, e164 in (("+18005550100", "+18005550100"), ("8005550100", "+18005550100"),
                         (8005550100, "+18005550100"), ("+442071838750", "+442071838750")):
        ivr = parse_ivr(with_branch({"type": "goto", "number": number, "branch": "700"}))
        assert ivr.dump()["branches"]["0"] == {"type": "goto", "branch": "700", "number": e164}, "kept as E.164"


@pytest.mark.parametrize(("album", "errors"), [
    ({}, ["branches.0.album: required; it must be a whole number from 0 to 999999999 or a ${variable}",
          "branches.0.sort: required; it must be a whole number from 0 to 999999999 or a ${variable}"]),
    ({"album": -1, "sort": 1}, ["branches.0.album: must be a whole number from 0 to 999999999 or a ${variable}"]),
    ({"album": 10**9, "sort": 1}, ["branches.0.album: must be a whole number from 0 to 999999999 or a ${variable}"]),
    ({"album": True, "sort": 1}, ["branches.0.album: must be a whole number from 0 to 999999999 or a ${variable}"]),
    ({"album": 1.0, "sort": 1}, ["branches.0.album: must be a whole number from 0 to 999999999 or a ${variable}"]),
    ({"album": "1${x}", "sort": 1}, ["branches.0.album: must be a whole number from 0 to 999999999 or a ${variable}"]),
    ({"album": 1, "sort": "${a b}"}, ["branches.0.sort: must be a whole number from 0 to 999999999 or a ${variable}"]),
    ({"album": 1, "sort": 2, "ask": "no"}, ["branches.0.ask: must be true or false"]),
    ({"album": 1, "ask": True, "sort": 2},
     ["branches.0.sort: not used with ask: true (the caller keys the sort number)"]),
    ({"album": 1, "sort": 2, "digits": 2, "timeout": 3, "terminator": None, "inter_digit_timeout": 1, "play": []},
     [f"branches.0.{k}: only used with ask: true" for k in ("digits", "terminator", "timeout",
                                                             "inter_digit_timeout", "play")]),
    ({"album": 1, "ask": True, "digits": 10}, ["branches.0.digits: must be a whole number from 1 to 9"]),
    ({"album": 1, "ask": True, "timeout": 0}, ["branches.0.timeout: must be a number from 0.5 to 120"]),
    ({"album": 1, "ask": True, "terminator": "5"}, ['branches.0.terminator: must be "#", "*" or null (no terminator)']),
    ({"album": 1, "ask": True, "play": [{"type": "tts"}]}, ["branches.0.play.0.text: tts needs non-empty text"]),
    ({"album": 1, "sort": 2, "next": "700", "on_missing": "800"},
     ['branches.0.next: no branch "700"', 'branches.0.on_missing: no branch "800"']),
])
def test_album_fields_are_strict(album: dict[str, Any], errors: list[str]) -> None:
    assert problems(with_branch({"type": "album", **album})) == errors


def test_album_numbers_are_one_spelling_and_round_trip() -> None:
    branches = {"0": {"type": "album", "album": "010", "sort": " 25 ", "next": 9, "on_missing": 9},
                "1": {"type": "album", "album": "${album_num}", "ask": True,
                      "play": [{"type": "sound", "name": "beep"}]},
                "9": {"type": "hangup"}}
    dumped = parse_ivr({"branches": branches}).dump()
    assert dumped["branches"]["0"] == {"type": "album", "album": "10", "sort": "25", "next": "9", "on_missing": "9"}
    assert dumped["branches"]["1"] == {"type": "album", "album": "${album_num}", "ask": True, "digits": 3,
                                       "terminator": "#", "timeout": 5, "inter_digit_timeout": 3,
                                       "play": [{"type": "sound", "name": "beep"}]}
    assert parse_ivr(dumped).dump() == dumped


def test_file_play_items_take_album_and_sort_as_voitex_answers_write_them() -> None:
    play = [{"type": "file", "album": "10", "sort": "25"}, {"type": "file", "album": 3, "sort": "${pick}"},
            {"type": "file", "album": "x", "sort": None}, {"type": "file"}]
    assert problems(with_branch(menu(play=play))) == [
        "branches.0.play.2.album: must be a whole number from 0 to 999999999 or a ${variable}",
        "branches.0.play.2.sort: required; it must be a whole number from 0 to 999999999 or a ${variable}",
        "branches.0.play.3.album: required; it must be a whole number from 0 to 999999999 or a ${variable}",
        "branches.0.play.3.sort: required; it must be a whole number from 0 to 999999999 or a ${variable}",
    ]
    dumped = parse_ivr(with_branch(menu(play=play[:2]))).dump()
    assert dumped["branches"]["0"]["play"] == [{"type": "file", "album": "10", "sort": "25"},
                                               {"type": "file", "album": "3", "sort": "${pick}"}]


def test_parse_play_reads_a_webhook_answers_list_with_the_same_rules() -> None:
    errors: list[str] = []
    items = parse_play([{"type": "file", "album": "10", "sort": "25"}, {"type": "tts", "text": "Hi ${name}"},
                        {"type": "mp3"}], "answer.play", errors)
    assert items == [PlayItem("file", album="10", sort="25"), PlayItem("tts", "Hi ${name}")]
    assert errors == ["answer.play.2.type: unknown play item type 'mp3' (expected tts, sound or file)"]
