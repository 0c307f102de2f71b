"""control.text: the one check of names shown back to operators, and the escaping of text
others wrote before a terminal gets it."""
from __future__ import annotations

import pytest

from control.text import display_text_problem, escape_unshown


@pytest.mark.parametrize("text", ["Acme", "Zoë & Söhne", "東京", "a b", "x" * 200, "emoji \U0001F600", "tab-free"])
def test_ordinary_names_pass(text: str) -> None:
    assert display_text_problem(text, "name", 200) is None


@pytest.mark.parametrize(("text", "code"), [
    ("a\x00b", "U+0000"), ("a\x1b[2Jb", "U+001B"), ("a\nb", "U+000A"), ("a\tb", "U+0009"), ("a\x7fb", "U+007F"),
    ("a\x85b", "U+0085"),  # C1
    ("evil\u202egnp.exe", "U+202E"), ("a\u202ab", "U+202A"), ("a\u2066b", "U+2066"), ("a\u2069b", "U+2069"),
    ("a\u200bb", "U+200B"), ("a\u200db", "U+200D"), ("a\ufeffb", "U+FEFF"),  # zero-width, BOM (Cf)
    ("a\u2028b", "U+2028"), ("a\u2029b", "U+2029"),  # Zl, Zp
    ("a\ud800b", "U+D800"),  # a lone surrogate
])
def test_controls_formats_separators_and_surrogates_are_refused(text: str, code: str) -> None:
    assert display_text_problem(text, "name", 200) == \
        f"name: must not contain control or formatting characters ({code})"


def test_empty_and_too_long_are_refused() -> None:
    assert display_text_problem("", "name", 200) == "name: must not be empty"
    assert display_text_problem("   ", "name", 200) == "name: must not be empty"
    assert display_text_problem("x" * 201, "recording name", 200) == \
        "recording name: must be at most 200 characters (this one has 201)"
    # the length is checked first: a megabyte is not scanned character by character
    assert "at most 10" in (display_text_problem("\x00" * 1_000_000, "name", 10) or "")


def test_escape_unshown_writes_what_a_terminal_would_act_on_as_escapes() -> None:
    assert escape_unshown("plain text, é 東京") == "plain text, é 東京"
    assert escape_unshown("\x1b]0;pwned\x07\x1b[2J\r\x08\t\n\x7f\x9b") == \
        "\\x1b]0;pwned\\x07\\x1b[2J\\x0d\\x08\\x09\\x0a\\x7f\\x9b"
    assert escape_unshown("evil\u202egnp\u2028\u2066\ud800\U000e0001") == \
        "evil\\u202egnp\\u2028\\u2066\\ud800\\U000e0001"
    assert escape_unshown(None) == "None" and escape_unshown(41.5) == "41.5"
    assert escape_unshown("a\u00a0b") == "a\u00a0b"  # a no-break space is shown as one
