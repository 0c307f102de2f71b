"""Reading IVR files strictly: size, aliases, depth, YAML 1.2 scalars, duplicate keys."""
from __future__ import annotations

import ast
import json
import time
from pathlib import Path
from typing import Any

import pytest

from control.assets import DEMO_IVR
from control.flow.document import parse_ivr
from control.flow.loader import MAX_DEPTH, MAX_DOCUMENT_BYTES, DocumentError, load_document, read_document

SMALL_IVR = 'branches:\n  "0": {type: hangup}\n'
# Nine levels of aliases, ten each: 10**9 "lol"s once expanded.
ALIAS_BOMB = "\n".join(['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
                        *(f"{n}: &{n} [{','.join([f'*{p}'] * 10)}]" for p, n in zip("abcdefgh", "bcdefghi"))])


def refusal(text: str | bytes) -> str:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    with pytest.raises(DocumentError) as caught:
        load_document(data, "ivr.yaml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("ivr.yaml"), message
    return message


def test_a_file_over_one_mib_is_refused_before_parsing(tmp_path: Path) -> None:
    at_limit = tmp_path / "at-limit.yaml"
    at_limit.write_text(SMALL_IVR + "#" * (MAX_DOCUMENT_BYTES - len(SMALL_IVR) - 1) + "\n")
    assert at_limit.stat().st_size == MAX_DOCUMENT_BYTES
    assert read_document(at_limit) == {"branches": {"0": {"type": "hangup"}}}
    over = tmp_path / "over.yaml"
    over.write_text(SMALL_IVR + "[" * MAX_DOCUMENT_BYTES)  # unparsable too: the size is what is reported
    with pytest.raises(DocumentError) as caught:
        read_document(over)
    assert str(caught.value) == f"{over}: larger than 1 MiB, the most an IVR document may be"
    assert MAX_DOCUMENT_BYTES == 1024 * 1024


def test_an_alias_bomb_is_refused_at_its_first_anchor_quickly() -> None:
    started = time.monotonic()
    message = refusal(ALIAS_BOMB)
    assert time.monotonic() - started < 1
    assert message == "ivr.yaml:1:4: anchors and aliases (&name, *name) are not accepted: write the value out"


@pytest.mark.parametrize("text", ["a: &x 1\nb: 2", "a: [1, *x]", "- &x {a: 1}\n"])
def test_any_anchor_or_alias_is_refused(text: str) -> None:
    assert "anchors and aliases" in refusal(text)


@pytest.mark.parametrize("text", ["[" * 100_000, "{a: " * 5_000, "".join(f"{' ' * i}k:\n" for i in range(200))])
def test_deep_nesting_is_refused_without_recursion(text: str) -> None:
    assert refusal(text).endswith(f": nested deeper than {MAX_DEPTH} levels")


def test_nesting_up_to_the_limit_is_read() -> None:
    assert load_document(("[" * MAX_DEPTH + "]" * MAX_DEPTH).encode()) is not None


@pytest.mark.parametrize(("plain", "value"), [
    ("010", 10), ("0o10", 8), ("0x1F", 31), ("-7", -7), ("+3", 3), ("1.5", 1.5), ("2e3", 2000.0),
    ("true", True), ("False", False), ("~", None), ("null", None), ("", None),
    # YAML 1.1 would read these as booleans, sexagesimals, dates, numbers: 1.2 reads text
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("n", "n"), ("Yes", "Yes"),
    ("1:20", "1:20"), ("190:20:30", "190:20:30"), ("2024-01-01", "2024-01-01"), ("1_000", "1_000"),
    ("0b101", "0b101"), ("=", "="), ("<<", "<<"),
])
def test_scalars_follow_the_yaml_1_2_core_schema(plain: str, value: Any) -> None:
    loaded = load_document(f"v: {plain}\n".encode())["v"]
    assert loaded == value and type(loaded) is type(value)


@pytest.mark.parametrize("text", ["v: !!binary aGk=", "v: !!timestamp 2024-01-01", "v: !!int 0b11", "v: !!bool yes",
                                  "v: !!python/object/apply:os.system [ls]", "v: !custom x"])
def test_tags_beyond_the_core_schema_are_refused(text: str) -> None:
    assert refusal(text).startswith("ivr.yaml:1:4: ")


def test_duplicate_keys_are_an_error_at_the_second() -> None:
    text = 'branches:\n  "0": {type: hangup}\n  "0": {type: content}\n'
    assert refusal(text) == "ivr.yaml:3:3: duplicate key '0' (first at line 2)"


def test_errors_name_the_line_and_column() -> None:
    assert refusal('branches:\n  "0": {type: "hangup}\n') == \
        "ivr.yaml:3:1: found unexpected end of stream (while scanning a quoted scalar at line 2, column 15)"
    assert refusal("branches:\n\t0: x\n").startswith("ivr.yaml:2:1: a tab: ")
    assert refusal(b"branches: \x01") == "ivr.yaml:1:11: character U+0001 is not allowed in YAML or JSON"
    assert refusal(b"text: \xff") == "ivr.yaml: not UTF-8 text (byte 7)"
    assert refusal("v: " + "9" * 5000).startswith("ivr.yaml:1:4: '99999")


@pytest.mark.parametrize("plain", [str(2**63 - 1), str(-2**63), hex(2**63 - 1), "0o777777777777777777777"])
def test_integers_up_to_64_bits_are_read(plain: str) -> None:
    assert load_document(f"v: {plain}\n".encode())["v"] == ast.literal_eval(plain)


@pytest.mark.parametrize("plain", [str(2**63), str(-2**63 - 1), "0x8000000000000000", "0o1000000000000000000000",
                                   "0x" + "f" * 4000, "9" * 4000, "-" + "9" * 5000])
def test_integers_beyond_64_bits_are_refused_where_they_are(plain: str) -> None:
    # Past 4,300 digits Python cannot even print one: refused here, before anything quotes it.
    message = refusal(f"branches:\n  \"0\": {{type: goto, branch: {plain}}}\n")
    assert message.startswith("ivr.yaml:2:29: ") and message.endswith(" is too large: integers are -2**63 to 2**63-1")
    assert len(message) < 120


@pytest.mark.parametrize("indent", [None, 2, "\t"])
def test_json_is_read_by_the_same_loader(indent: int | str | None) -> None:
    doc = {"branches": {"0": {"type": "menu", "play": [{"type": "tts", "text": "caf\u00e9 \"quoted\"\n/ \u2603"}],
                              "inputs": {"1": "0"}, "timeout": 2.5, "retries": 0, "on_timeout": None}}}
    assert load_document(json.dumps(doc, indent=indent).encode()) == doc
    assert load_document(json.dumps(doc, indent=indent, ensure_ascii=False).encode()) == doc


def test_the_repository_ivrs_are_valid() -> None:
    """The demo IVR `make run` loads and the integration suite's TEST_IVR pass every rule."""
    demo = parse_ivr(read_document(DEMO_IVR))
    assert set(demo.branches) == {"0", "900"}
    test_ivr = parse_ivr(load_document(_integration_test_ivr().encode(), "TEST_IVR"))
    assert set(test_ivr.branches) == {"0", "10", "900"}


def _integration_test_ivr() -> str:
    # Read, not imported: importing the integration conftest would pull in its Asterisk helpers.
    source = (Path(__file__).parent.parent / "integration" / "conftest.py").read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "TEST_IVR" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("tests/integration/conftest.py has no TEST_IVR")
