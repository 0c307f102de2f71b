"""Play items ({type: tts, text} and {type: sound, name}) and how they become media URIs."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

SOUND_NAME = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$")


@dataclass(frozen=True)
class PlayItem:
    type: str  # "tts" or "sound"
    value: str  # the text to speak, or the Asterisk prompt name


class MediaResolver(Protocol):
    async def resolve(self, items: Sequence[PlayItem]) -> list[str]:
        """Media URIs Asterisk can play, one per item, in order."""


def parse_play(raw: Any, where: str, errors: list[str]) -> list[PlayItem]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(f"{where}: must be a list of play items")
        return []
    items: list[PlayItem] = []
    for i, entry in enumerate(raw):
        at = f"{where}.{i}"
        if not isinstance(entry, dict):
            errors.append(f"{at}: must be an object like {{type: tts, text: ...}}")
            continue
        kind = entry.get("type")
        if kind == "tts":
            text = entry.get("text")
            if not isinstance(text, str) or not text.strip():
                errors.append(f"{at}.text: tts needs non-empty text")
                continue
            items.append(PlayItem("tts", text))
        elif kind == "sound":
            name = entry.get("name")
            if not isinstance(name, str) or not SOUND_NAME.match(name):
                errors.append(f"{at}.name: sound needs a prompt name like 'hello-world' or 'digits/1'")
                continue
            items.append(PlayItem("sound", name))
        else:
            errors.append(f"{at}.type: unknown play item type {kind!r} (expected tts or sound)")
    return items


def dump_play(items: Sequence[PlayItem]) -> list[dict[str, str]]:
    return [{"type": "tts", "text": i.value} if i.type == "tts" else {"type": "sound", "name": i.value} for i in items]
