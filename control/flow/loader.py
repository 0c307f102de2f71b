"""Reading an IVR document (YAML or JSON) into plain data, strictly.

YAML is a superset of JSON, so one loader reads both: PyYAML's SafeLoader with its YAML 1.1
habits replaced by the YAML 1.2 core schema (`010` is 10; `yes`, `on`, `1:20` and
`2024-01-01` are strings), and with what a careless or hostile file could do refused before
it costs anything: files over MAX_DOCUMENT_BYTES, anchors and aliases (a nine-level alias
bomb expands to a billion nodes), nesting deeper than MAX_DEPTH (else a RecursionError),
duplicate keys (the last one silently won), integers beyond 64 bits (past 4,300 digits Python
will not even print them). Every refusal is one line, `file:line:column: what`.

The checks every level of a document shares (the type its `type` names, unknown fields,
bad values quoted short) are here too, so document, branch and play-item parsers word them alike.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any, Collection, Mapping, Protocol, TypeVar

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.reader import ReaderError

MAX_DOCUMENT_BYTES = 1024 * 1024  # 1 MiB: the demo IVR is 400 bytes; a big menu tree, a few KiB
MAX_DEPTH = 32  # collections inside collections; an IVR document needs 5
SHOWN_CHARS = 40  # how much of a bad value an error quotes
MIN_INT, MAX_INT = -2**63, 2**63 - 1  # what a document's integers may be: a database's BIGINT
PYYAML_TAB_PROBLEM = "found character '\\t' that cannot start any token"
TAB_PROBLEM = "a tab: YAML indents and separates with spaces (tabs only inside [...] and {...})"

NULL = "tag:yaml.org,2002:null"
BOOL = "tag:yaml.org,2002:bool"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"

# The YAML 1.2 core schema (spec 10.3.2): every plain scalar that matches none is a string.
DECIMAL = re.compile(r"[-+]?[0-9]+")
OCTAL = re.compile(r"0o[0-7]+")
HEX = re.compile(r"0x[0-9a-fA-F]+")
REAL = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
INFINITY = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
NOT_A_NUMBER = re.compile(r"\.(?:nan|NaN|NAN)")
TRUE = re.compile(r"true|True|TRUE")
FALSE = re.compile(r"false|False|FALSE")
NONE = re.compile(r"~|null|Null|NULL|")
CORE_SCHEMA: tuple[tuple[str, str, tuple[re.Pattern[str], ...]], ...] = (
    # tag, the characters a match can start with, patterns; ints before floats (1 is both)
    (NULL, "~nN", (NONE,)),
    (BOOL, "tTfF", (TRUE, FALSE)),
    (INT, "-+0123456789", (DECIMAL, OCTAL, HEX)),
    (FLOAT, "-+0123456789.", (REAL, INFINITY, NOT_A_NUMBER)),
)


class DocumentError(ValueError):
    """A document that could not be read: one line, `where: what is wrong`."""


def read_document(path: Path) -> Any:
    """The data in a YAML or JSON file, or DocumentError."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_DOCUMENT_BYTES + 1)  # never more than the limit, whatever the file
    except OSError as exc:
        raise DocumentError(f"{path}: {exc.strerror or exc}") from None
    return load_document(data, str(path))


def load_document(data: bytes, name: str = "document") -> Any:
    """The data in YAML or JSON bytes, or DocumentError; `name` says where in errors."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"{name}: larger than {MAX_DOCUMENT_BYTES // 1024 // 1024} MiB, "
                            "the most an IVR document may be")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{name}: not UTF-8 text (byte {exc.start + 1})") from None
    try:
        return _parse(text)
    except yaml.MarkedYAMLError as exc:
        raise DocumentError(_marked(name, exc)) from None
    except ReaderError as exc:
        raise DocumentError(f"{name}:{_line_column(text, exc.position)}: character "
                            f"U+{exc.character:04X} is not allowed in YAML or JSON") from None
    except yaml.YAMLError as exc:
        raise DocumentError(f"{name}: {_one_line(str(exc))}") from None


def _parse(text: str) -> Any:
    loader = StrictLoader(text)  # the reader checks every character here, before any parsing
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _marked(name: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
    what = exc.problem or exc.context or "not valid YAML or JSON"
    what = TAB_PROBLEM if what == PYYAML_TAB_PROBLEM else what
    what = what.removeprefix("but ")  # PyYAML's "expected X" (context) "but found Y" (problem)
    if exc.context and exc.problem and exc.context_mark:
        what += f" ({exc.context} at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
    return f"{where}: {_one_line(what)}"


def _line_column(text: str, position: int) -> str:
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)  # rfind is -1 on the first line
    return f"{line}:{column}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def shown(value: Any) -> str:
    """A value as an error quotes it: repr, cut short (a bad value may be a megabyte)."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS - 3]}..."


def unknown_fields(raw: dict[Any, Any], known: Collection[str], where: str, errors: list[str]) -> None:
    """One error per field not in `known`, with the nearest known name when there is one
    (a typo must not quietly fall back to a default)."""
    for key in raw:
        if key in known:
            continue
        label = key if isinstance(key, str) and key.isprintable() and len(key) <= SHOWN_CHARS else shown(key)
        path = f"{where}.{label}" if where else label
        near = difflib.get_close_matches(key, known, n=1) if isinstance(key, str) else []
        hint = f"did you mean {near[0]!r}?" if near else f"known: {', '.join(sorted(known))}"
        errors.append(f"{path}: unknown field ({hint})")


class HasFields(Protocol):
    @property
    def fields(self) -> Collection[str]: ...


Typed = TypeVar("Typed", bound=HasFields)


def typed(raw: Any, types: Mapping[str, Typed], where: str, errors: list[str], *, shape: str,
          unknown: str) -> Typed | None:
    """The entry of `types` that raw's `type` names, once raw's fields are checked against it;
    None when raw is no mapping (`shape` says what it must be) or names no type (`unknown`,
    with {} for the value given)."""
    if not isinstance(raw, dict):
        errors.append(f"{where}: {shape}")
        return None
    kind = raw.get("type")
    found = types.get(kind) if isinstance(kind, str) else None
    if found is None:
        errors.append(f"{where}.type: {unknown.format(shown(kind))}")
        return None
    unknown_fields(raw, found.fields, where, errors)
    return found


def _core_resolvers() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    # PyYAML looks resolvers up by a scalar's first character, "" for the empty scalar (null).
    table: dict[str, list[tuple[str, re.Pattern[str]]]] = {"": [(NULL, NONE)]}
    for tag, first, patterns in CORE_SCHEMA:
        for char in first:
            # PyYAML matches with .match(): anchor the end so `1:20` is not an int.
            table.setdefault(char, []).extend((tag, re.compile(rf"(?:{p.pattern})\Z")) for p in patterns)
    return table


class StrictLoader(yaml.SafeLoader):
    """SafeLoader reading the YAML 1.2 core schema and nothing a document has no need for.
    One instance per document: it counts the depth it is at."""

    yaml_implicit_resolvers = _core_resolvers()

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def scan_to_next_token(self) -> None:
        # PyYAML's own, except that inside [...] and {...} a tab separates tokens as a space
        # does (YAML 1.2, and JSON indented with tabs); in block context tabs stay refused.
        if self.index == 0 and self.peek() == "\uFEFF":
            self.forward()
        while True:
            while self.peek() == " " or (self.flow_level and self.peek() == "\t"):
                self.forward()
            if self.peek() == "#":
                while self.peek() not in "\0\r\n\x85\u2028\u2029":
                    self.forward()
            if not self.scan_line_break():
                return
            if not self.flow_level:
                self.allow_simple_key = True

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        if isinstance(event, AliasEvent) or event.anchor is not None:
            # Refused at the first anchor, before any alias can be expanded.
            raise ComposerError(None, None, "anchors and aliases (&name, *name) are not accepted: "
                                "write the value out", event.start_mark)
        if not isinstance(event, CollectionStartEvent):
            return super().compose_node(parent, index)
        if self._depth >= MAX_DEPTH:
            raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        # Not SafeConstructor's: no `<<` merge keys, and a repeated key is an error, not a
        # silent overwrite.
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, f"expected a mapping, found {node.id}", node.start_mark)
        mapping: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                raise ConstructorError(None, None, "a key must be a string or a number", key_node.start_mark)
            if key in mapping:
                raise ConstructorError(None, None, f"duplicate key {shown(key)} (first at line {first_line[key]})",
                                       key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=deep)
            first_line[key] = key_node.start_mark.line + 1
        return mapping

    def construct_core_null(self, node: ScalarNode) -> None:
        _core_scalar(self, node, (NONE,), "null")

    def construct_core_bool(self, node: ScalarNode) -> bool:
        return TRUE.fullmatch(_core_scalar(self, node, (TRUE, FALSE), "true or false")) is not None

    def construct_core_int(self, node: ScalarNode) -> int:
        text = _core_scalar(self, node, (DECIMAL, OCTAL, HEX), "an integer")
        try:
            if OCTAL.fullmatch(text):
                value = int(text[2:], 8)
            elif HEX.fullmatch(text):
                value = int(text[2:], 16)
            else:
                value = int(text)  # Python refuses decimal strings of over 4,300 digits: ValueError
            if not MIN_INT <= value <= MAX_INT:
                raise ValueError
        except ValueError:
            # Past 4,300 digits str() of the int raises too, wherever a message or a branch id
            # would print it: no such number goes further than here.
            raise ConstructorError(None, None, f"{shown(text)} is too large: integers are -2**63 to 2**63-1",
                                   node.start_mark) from None
        return value

    def construct_core_float(self, node: ScalarNode) -> float:
        text = _core_scalar(self, node, (REAL, INFINITY, NOT_A_NUMBER), "a number")
        if REAL.fullmatch(text):
            return float(text)
        return float(text.replace(".", "", 1))  # `.inf`, `-.Inf`, `.NaN`: Python's spelling has no dot

    def construct_not_accepted(self, node: Node) -> None:
        raise ConstructorError(None, None, f"the tag {shown(node.tag)} is not accepted (plain YAML 1.2 only)",
                               node.start_mark)

    # Only the core schema's tags construct; anything else (!!binary, !!timestamp, !!set,
    # !!python/..., !custom) is refused by name.
    yaml_constructors = {
        NULL: construct_core_null,
        BOOL: construct_core_bool,
        INT: construct_core_int,
        FLOAT: construct_core_float,
        "tag:yaml.org,2002:str": yaml.SafeLoader.construct_yaml_str,
        "tag:yaml.org,2002:seq": yaml.SafeLoader.construct_yaml_seq,
        "tag:yaml.org,2002:map": yaml.SafeLoader.construct_yaml_map,
        None: construct_not_accepted,
    }


def _core_scalar(loader: StrictLoader, node: ScalarNode, patterns: tuple[re.Pattern[str], ...], expected: str) -> str:
    """The scalar's text when it matches one of the patterns (explicit tags such as
    `!!int 0b11` reach the constructors without the resolver's check)."""
    text = loader.construct_scalar(node)
    if not any(p.fullmatch(text) for p in patterns):
        raise ConstructorError(None, None, f"{shown(text)} is not {expected}", node.start_mark)
    return text

