"""Text to speech with espeak-ng, as 8 kHz mono WAV, cached on disk by a hash of what shaped it."""
from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from pathlib import Path
from typing import Awaitable, Callable, Sequence

from control.flow.play import MediaMissing, PlayItem, tts_text_problem
from control.media.library import RecordingLibrary
from control.media.lru import LruFiles
from control.media.sound import BYTES_PER_SECOND, SOX_SHAPE, WAV_HEADER, run

ENGINE = "espeak-ng"
VOICE = "en-us"
SPEED = "165"
KEY = re.compile(r"[0-9a-f]{32}")  # what tts_key returns
MB = 1024 * 1024
# The longest text (MAX_TTS_CHARS) renders in well under a second; a program still running after
# this is stuck, and would hold a render slot every call behind it waits on.
RENDER_TIMEOUT_S = 30.0

Renderer = Callable[[str, Path], Awaitable[None]]  # renders text into a WAV file at the path


def tts_key(text: str, voice: str = VOICE) -> str:
    return hashlib.sha256(f"{ENGINE}\0{voice}\0{SPEED}\0{text}".encode()).hexdigest()[:32]


async def espeak_wav(text: str, target: Path) -> None:
    """Render text into target, which appears whole or not at all."""
    raw = target.with_suffix(f".{os.getpid()}.raw.wav")
    tmp = target.with_suffix(f".{os.getpid()}.tmp.wav")
    try:
        await run(ENGINE, "-v", VOICE, "-s", SPEED, "-w", str(raw), "--", text, timeout_s=RENDER_TIMEOUT_S)
        await run("sox", str(raw), *SOX_SHAPE, str(tmp), timeout_s=RENDER_TIMEOUT_S)
        os.replace(tmp, target)
    finally:
        for leftover in (raw, tmp):
            leftover.unlink(missing_ok=True)


class TtsCache:
    """Renders each text once, at most `renders` at a time; concurrent requests for the same
    text share one render. The files are kept under `max_bytes`, least recently used out first."""

    def __init__(self, directory: Path, renders: int = 2, max_bytes: int = 512 * MB,
                 render: Renderer = espeak_wav, clock: Callable[[], float] = time.time) -> None:
        if renders < 1:
            raise ValueError(f"tts renders at once must be at least 1, not {renders}")
        self.directory = directory
        self._render_wav = render
        self._slots = asyncio.Semaphore(renders)
        self._rendering: dict[str, asyncio.Task[None]] = {}
        # The files on disk, in order of use: a key leaves it when its file is evicted.
        self._known = LruFiles(directory, ".wav", KEY, max_bytes, clock)

    def path(self, key: str) -> Path:
        return self._known.path(key)

    async def ensure(self, text: str) -> str:
        """The key of text's WAV, rendered first if need be. Documents are checked when stored;
        this is the last guard before espeak-ng (unbounded text would hold a render slot, and
        fill the disk, for every call waiting behind it)."""
        problem = tts_text_problem(text)
        if problem:
            raise ValueError(f"tts text: {problem}")
        key = tts_key(text)
        if not self._on_disk(key):
            # Shielded: one caller hanging up must not cancel a render other calls wait on.
            await asyncio.shield(self._shared_render(key, text))
        self._known.use(key)
        return key

    def cached(self, key: str) -> Path | None:
        """The file for key, counted as a use, or None when it is not in the cache."""
        if not KEY.fullmatch(key) or not self._on_disk(key):
            return None
        self._known.use(key)
        return self.path(key)

    def seconds(self, key: str) -> float | None:
        """How long the rendered text plays (8 kHz 16-bit mono: its length is its size), from
        the size the cache keeps in memory: asked on every prompt of every call."""
        size = self._known.size(key)
        return max(size - WAV_HEADER, 0) / BYTES_PER_SECOND if size is not None else None

    def _on_disk(self, key: str) -> bool:
        # Another process sharing the directory (bench/native.py) may have rendered it.
        return key in self._known or self._known.add(key)

    def _shared_render(self, key: str, text: str) -> asyncio.Task[None]:
        task = self._rendering.get(key)
        if task is None:
            task = asyncio.ensure_future(self._render(key, text))
            self._rendering[key] = task
            task.add_done_callback(lambda _t: self._rendering.pop(key, None))
        return task

    async def _render(self, key: str, text: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        async with self._slots:  # a burst of new texts queues here rather than starting a pipeline each
            await self._render_wav(text, self.path(key))
        self._known.add(key)
        # Renders under way (this one included: its callers have not played it yet) are spared.
        self._known.evict(keep=self._rendering)


class HttpMedia:
    """Turns play items into URIs Asterisk plays: TTS and album recordings over HTTP from this
    control plane (Asterisk's media cache keeps a copy), sounds from Asterisk's own prompts."""

    def __init__(self, tts: TtsCache, base_url: str, recordings: RecordingLibrary | None) -> None:
        self._tts = tts
        self._recordings = recordings
        self._tts_prefix = f"sound:{base_url.rstrip('/')}/media/tts/"
        self._file_prefix = f"sound:{base_url.rstrip('/')}/media/recordings/"

    async def resolve(self, items: Sequence[PlayItem], tenant_id: str = "") -> list[str]:
        uris = []
        for item in items:
            if item.type == "tts":
                uris.append(f"{self._tts_prefix}{await self._tts.ensure(item.value)}.wav")
            elif item.type == "file":
                if self._recordings is None:
                    raise MediaMissing(item, "this platform has no album library")
                uris.append(f"{self._file_prefix}{await self._recordings.name(item, tenant_id)}")
            else:
                uris.append(f"sound:{item.value}")
        return uris

    def seconds(self, uris: Sequence[str]) -> float | None:
        """TTS renders are 8 kHz 16-bit mono WAV: their length is their size. Recordings'
        lengths are known from resolving them. Asterisk's own prompts live in Asterisk, so
        theirs is unknown (None)."""
        total = 0.0
        for uri in uris:
            if uri.startswith(self._tts_prefix):
                known = self._tts.seconds(uri[len(self._tts_prefix):-len(".wav")])
            elif uri.startswith(self._file_prefix) and self._recordings is not None:
                known = self._recordings.seconds(uri[len(self._file_prefix):])
            else:
                known = None
            if known is None:
                return None
            total += known
        return total
