"""Text to speech with espeak-ng, as 8 kHz mono WAV, cached on disk by a hash of what shaped it."""
from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Sequence

from control.flow.play import PlayItem
from control.priority import at_normal_priority

ENGINE = "espeak-ng"
VOICE = "en-us"
SPEED = "165"


def tts_key(text: str, voice: str = VOICE) -> str:
    return hashlib.sha256(f"{ENGINE}\0{voice}\0{SPEED}\0{text}".encode()).hexdigest()[:32]


class TtsCache:
    """Renders each text once; concurrent requests for the same text share one render."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._rendering: dict[str, asyncio.Task[Path]] = {}
        self._known: set[str] = set()

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.wav"

    async def ensure(self, text: str) -> str:
        key = tts_key(text)
        if key in self._known:
            return key
        if not self.path(key).exists():
            task = self._rendering.get(key)
            if task is None:
                task = asyncio.ensure_future(self._render(text, self.path(key)))
                self._rendering[key] = task
                task.add_done_callback(lambda _t: self._rendering.pop(key, None))
            await task
        self._known.add(key)
        return key

    async def _render(self, text: str, target: Path) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        raw = target.with_suffix(f".{os.getpid()}.raw.wav")
        tmp = target.with_suffix(f".{os.getpid()}.tmp.wav")
        try:
            await _run(ENGINE, "-v", VOICE, "-s", SPEED, "-w", str(raw), "--", text)
            await _run("sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(tmp))
            os.replace(tmp, target)
        finally:
            for leftover in (raw, tmp):
                leftover.unlink(missing_ok=True)
        return target


async def _run(*argv: str) -> None:
    proc = await asyncio.create_subprocess_exec(*at_normal_priority(argv), stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {err.decode(errors='replace').strip()}")


class HttpMedia:
    """Turns play items into URIs Asterisk plays: TTS over HTTP from this control plane
    (Asterisk's media cache keeps a copy), sounds from Asterisk's own prompts."""

    def __init__(self, tts: TtsCache, base_url: str) -> None:
        self._tts = tts
        self._base = base_url.rstrip("/")

    async def resolve(self, items: Sequence[PlayItem]) -> list[str]:
        uris = []
        for item in items:
            if item.type == "tts":
                uris.append(f"sound:{self._base}/media/tts/{await self._tts.ensure(item.value)}.wav")
            else:
                uris.append(f"sound:{item.value}")
        return uris
