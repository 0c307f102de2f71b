"""Play items ({type: tts, text}, {type: sound, name}, {type: file, album, sort}) and how they
become media URIs."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Callable, NamedTuple, Protocol, Sequence

from control.flow.loader import shown, typed

SOUND_NAME = re.compile(r"[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*")
# The longest text a tts item may speak: about a minute of speech. The TTS cache imports it
# as its last guard before espeak-ng.
MAX_TTS_CHARS = 1000
# What espeak-ng cannot be handed: control characters other than tab, newline and carriage
# return (a NUL cannot even be passed as an argument), and halves of UTF-16 surrogate pairs
# (JSON's "\ud800"), which no encoding can write.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")
# A variable reference; the name rule is the one CallContext.expand uses.
VARIABLE_NAME = r"[A-Za-z0-9_.-]+"
VARIABLE = re.compile(r"\$\{(" + VARIABLE_NAME + r")\}")
# Album and sort numbers: whole numbers a caller could key, nine digits at most.
MAX_RECORDING_NUMBER = 999_999_999
RECORDING_NUMBER = re.compile(r"[0-9]{1,9}")
NUMBER_RULE = f"must be a whole number from 0 to {MAX_RECORDING_NUMBER} or a ${{variable}}"


@dataclass(frozen=True)
class PlayItem:
    type: str  # "tts", "sound" or "file"
    value: str = ""  # the text to speak, or the Asterisk prompt name; "" for a file
    album: str = ""  # a file's album and sort number (digits), or "${name}" until expanded
    sort: str = ""

    def expanded(self, expand: Callable[[str], str]) -> "PlayItem":
        """This item with ${variables} replaced by `expand` in its text, album and sort; the item
        itself when it names none (the common case costs no copy)."""
        if self.type == "tts" and "$" in self.value:
            return replace(self, value=expand(self.value))
        if self.type == "file" and ("$" in self.album or "$" in self.sort):
            return replace(self, album=recording_number(expand(self.album)),
                           sort=recording_number(expand(self.sort)))
        return self


class MediaMissing(Exception):
    """A file item whose recording does not exist (or cannot be played)."""

    def __init__(self, item: PlayItem, why: str) -> None:
        super().__init__(why)
        self.item = item
        self.why = why


class MediaResolver(Protocol):
    async def resolve(self, items: Sequence[PlayItem], tenant_id: str = "") -> list[str]:
        """Media URIs Asterisk can play, one per item, in order. Albums are the tenant's own.
        Raises MediaMissing for a file item with no recording."""

    def seconds(self, uris: Sequence[str]) -> float | None:
        """How long these resolved URIs play, when every one's length is known."""


def parse_play(raw: Any, where: str, errors: list[str]) -> list[PlayItem]:
    """A document's or a webhook answer's list of play items; every problem goes to errors."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(f"{where}: must be a list of play items")
        return []
    items = [_parse_item(entry, f"{where}.{i}", errors) for i, entry in enumerate(raw)]
    return [item for item in items if item is not None]


def _parse_item(entry: Any, at: str, errors: list[str]) -> PlayItem | None:
    item_type = typed(entry, ITEM_TYPES, at, errors, shape="must be an object like {type: tts, text: ...}",
                      unknown=f"unknown play item type {{}} (expected {ITEM_TYPE_NAMES})")
    return item_type.parse(entry, at, errors) if item_type is not None else None


def _parse_tts(entry: dict[str, Any], at: str, errors: list[str]) -> PlayItem | None:
    text = entry.get("text")
    problem = tts_text_problem(text) if isinstance(text, str) else "tts needs non-empty text"
    if problem:
        errors.append(f"{at}.text: {problem}")
        return None
    return PlayItem("tts", text)


def tts_text_problem(text: str) -> str | None:
    """What stops text being spoken, or None when it can be."""
    if not text.strip():
        return "tts needs non-empty text"
    if len(text) > MAX_TTS_CHARS:
        return f"{len(text)} characters, more than the {MAX_TTS_CHARS} a tts item may speak"
    if bad := CONTROL.search(text):
        return (f"character {bad.start() + 1} is U+{ord(bad.group()):04X}, a control character "
                "(tab, newline and carriage return are the only ones allowed)")
    if bad := SURROGATE.search(text):
        return (f"character {bad.start() + 1} is U+{ord(bad.group()):04X}, "
                "half of a UTF-16 surrogate pair, which is not text")
    return None


def _parse_sound(entry: dict[str, Any], at: str, errors: list[str]) -> PlayItem | None:
    name = entry.get("name")
    if not isinstance(name, str) or not SOUND_NAME.fullmatch(name):
        errors.append(f"{at}.name: sound needs a prompt name like 'hello-world' or 'digits/1'")
        return None
    return PlayItem("sound", name)


def _parse_file(entry: dict[str, Any], at: str, errors: list[str]) -> PlayItem | None:
    album = parse_recording_number(entry.get("album"), f"{at}.album", errors)
    sort = parse_recording_number(entry.get("sort"), f"{at}.sort", errors)
    if album is None or sort is None:
        return None
    return PlayItem("file", album=album, sort=sort)


def parse_recording_number(raw: Any, where: str, errors: list[str], *, low: int = 0,
                           what: str = "recordings") -> str | None:
    """An album or sort number as a document or webhook writes it: 25, "25" or "${name}"; a
    number below `low` is refused as `what` not numbered so low (the albums a record branch
    records into are numbered from 1). Digits come back without leading zeros ("025" and 25
    are one recording)."""
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= MAX_RECORDING_NUMBER:
        text = str(raw)
    elif isinstance(raw, str) and RECORDING_NUMBER.fullmatch(raw.strip()):
        text = str(int(raw))
    elif isinstance(raw, str) and VARIABLE.fullmatch(raw.strip()):
        return raw.strip()
    else:
        errors.append(f"{where}: {NUMBER_RULE}" if raw is not None else f"{where}: required; it {NUMBER_RULE}")
        return None
    if int(text) < low:
        errors.append(f"{where}: must be {low} or more ({what} are numbered from {low}) or a ${{variable}}")
        return None
    return text


def recording_number(text: str) -> str:
    """An expanded album or sort number in its one spelling; anything else is returned as it
    is, for recording_number_problem to name."""
    text = text.strip()
    return str(int(text)) if RECORDING_NUMBER.fullmatch(text) else text


def recording_number_problem(text: str, *, low: int = 0) -> str | None:
    """Why an expanded album or sort number (see recording_number) is none from `low` up, or None."""
    if RECORDING_NUMBER.fullmatch(text) and int(text) >= low:
        return None
    return f"{shown(text)} is not a recording number" + (f" from {low} up" if low else "")


def item_problem(item: PlayItem) -> str | None:
    """Why an expanded item cannot be played (a variable left its text empty or too long, or
    an album or sort that is no number), or None."""
    if item.type == "tts":
        return tts_text_problem(item.value)
    if item.type == "file":
        for name, value in (("album", item.album), ("sort", item.sort)):
            if problem := recording_number_problem(value):
                return f"{name} {problem}"
    return None


class ItemType(NamedTuple):
    fields: tuple[str, ...]  # every field the type reads: any other is an error
    parse: Callable[[dict[str, Any], str, list[str]], PlayItem | None]


ITEM_TYPES: MappingProxyType[str, ItemType] = MappingProxyType({
    "tts": ItemType(("type", "text"), _parse_tts),
    "sound": ItemType(("type", "name"), _parse_sound),
    "file": ItemType(("type", "album", "sort"), _parse_file),
})


ITEM_TYPE_NAMES = f"{', '.join(list(ITEM_TYPES)[:-1])} or {list(ITEM_TYPES)[-1]}"


def dump_play(items: Sequence[PlayItem]) -> list[dict[str, str]]:
    return [_dump_item(i) for i in items]


def _dump_item(item: PlayItem) -> dict[str, str]:
    if item.type == "tts":
        return {"type": "tts", "text": item.value}
    if item.type == "file":
        return {"type": "file", "album": item.album, "sort": item.sort}
    return {"type": "sound", "name": item.value}
