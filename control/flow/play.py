"""Play items ({type: tts, text} and {type: sound, name}) and how they become media URIs."""
from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, NamedTuple, Protocol, Sequence

from control.flow.loader import typed

SOUND_NAME = re.compile(r"[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*")
# The longest text a tts item may speak: about a minute of speech. The TTS cache imports it
# as its last guard before espeak-ng.
MAX_TTS_CHARS = 1000
# What espeak-ng cannot be handed: control characters other than tab, newline and carriage
# return (a NUL cannot even be passed as an argument), and halves of UTF-16 surrogate pairs
# (JSON's "\ud800"), which no encoding can write.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True)
class PlayItem:
    type: str  # "tts" or "sound"
    value: str  # the text to speak, or the Asterisk prompt name


class MediaResolver(Protocol):
    async def resolve(self, items: Sequence[PlayItem]) -> list[str]:
        """Media URIs Asterisk can play, one per item, in order."""

    def seconds(self, uris: Sequence[str]) -> float | None:
        """How long these resolved URIs play, when every one's length is known."""


def parse_play(raw: Any, where: str, errors: list[str]) -> list[PlayItem]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(f"{where}: must be a list of play items")
        return []
    items = [_parse_item(entry, f"{where}.{i}", errors) for i, entry in enumerate(raw)]
    return [item for item in items if item is not None]


def _parse_item(entry: Any, at: str, errors: list[str]) -> PlayItem | None:
    item_type = typed(entry, ITEM_TYPES, at, errors, shape="must be an object like {type: tts, text: ...}",
                      unknown=f"unknown play item type {{}} (expected {' or '.join(ITEM_TYPES)})")
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


class ItemType(NamedTuple):
    fields: tuple[str, ...]  # every field the type reads: any other is an error
    parse: Callable[[dict[str, Any], str, list[str]], PlayItem | None]


ITEM_TYPES: MappingProxyType[str, ItemType] = MappingProxyType({
    "tts": ItemType(("type", "text"), _parse_tts),
    "sound": ItemType(("type", "name"), _parse_sound),
})


def dump_play(items: Sequence[PlayItem]) -> list[dict[str, str]]:
    return [{"type": "tts", "text": i.value} if i.type == "tts" else {"type": "sound", "name": i.value} for i in items]
