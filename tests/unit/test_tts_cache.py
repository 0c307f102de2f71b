"""The TTS cache: a length limit, bounded renders, shared renders that survive a hang-up, and a
size cap with least-recently-used eviction that survives a restart."""
from __future__ import annotations

import asyncio
import os
import time
import wave
from pathlib import Path
from typing import Any

import pytest

from control.media import lru
from control.flow.play import MAX_TTS_CHARS
from control.media.tts import TtsCache, tts_key


class FakeRenderer:
    """Writes `size` bytes per render. While `gate` is clear, renders wait on it, so a test sees
    how many are under way at once."""

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self.gate = asyncio.Event()
        self.gate.set()
        self.texts: list[str] = []
        self.running = 0
        self.most_at_once = 0

    async def __call__(self, text: str, target: Path) -> None:
        self.texts.append(text)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.gate.wait()
            target.write_bytes(b"x" * self.size)
        finally:
            self.running -= 1


async def settle() -> None:
    """Let every runnable task run until it blocks."""
    for _ in range(20):
        await asyncio.sleep(0)


def seed(directory: Path, text: str, last_use: float, size: int = 1000) -> Path:
    """A file a previous run left behind, last used at `last_use`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{tts_key(text)}.wav"
    path.write_bytes(b"x" * size)
    os.utime(path, (last_use, last_use))
    return path


async def test_a_real_render_is_an_8khz_mono_wav(tmp_path: Path) -> None:
    cache = TtsCache(tmp_path / "tts")
    key = await cache.ensure("Press one.")
    with wave.open(str(cache.path(key))) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert wav.getnframes() > 0
    assert sorted(p.name for p in (tmp_path / "tts").iterdir()) == [f"{key}.wav"]  # no leftovers


async def test_text_over_the_limit_is_refused(tmp_path: Path) -> None:
    render = FakeRenderer()
    cache = TtsCache(tmp_path, render=render)
    with pytest.raises(ValueError, match=f"{MAX_TTS_CHARS + 1} characters, more than the {MAX_TTS_CHARS}"):
        await cache.ensure("a" * (MAX_TTS_CHARS + 1))
    assert await cache.ensure("a" * MAX_TTS_CHARS) == tts_key("a" * MAX_TTS_CHARS)
    assert render.texts == ["a" * MAX_TTS_CHARS]


async def test_a_burst_of_texts_renders_a_few_at_a_time(tmp_path: Path) -> None:
    render = FakeRenderer()
    render.gate.clear()
    cache = TtsCache(tmp_path, renders=2, render=render)
    waiters = [asyncio.ensure_future(cache.ensure(f"prompt {i}")) for i in range(6)]
    await settle()
    assert render.running == 2
    render.gate.set()
    keys = await asyncio.gather(*waiters)
    assert render.most_at_once == 2
    assert sorted(render.texts) == [f"prompt {i}" for i in range(6)]
    assert all(cache.path(key).exists() for key in keys)


async def test_real_renders_are_bounded_too(tmp_path: Path, monkeypatch: Any) -> None:
    """espeak-ng and sox themselves: no more than `renders` pipelines have a process running."""
    from control.media import tts

    running, most = [0], [0]
    real_run = tts.run

    async def counting_run(*argv: str, **kwargs: Any) -> None:
        running[0] += 1
        most[0] = max(most[0], running[0])
        try:
            await real_run(*argv, **kwargs)
        finally:
            running[0] -= 1

    monkeypatch.setattr(tts, "run", counting_run)
    cache = TtsCache(tmp_path, renders=2)
    keys = await asyncio.gather(*(cache.ensure(f"Option {i}.") for i in range(5)))
    assert most[0] == 2
    assert all(cache.path(key).stat().st_size > 44 for key in keys)  # more than a WAV header


async def test_a_failed_render_frees_its_slot_and_is_tried_again(tmp_path: Path) -> None:
    attempts: list[str] = []

    async def flaky(text: str, target: Path) -> None:
        attempts.append(text)
        if len(attempts) == 1:
            raise RuntimeError("espeak-ng failed (1): no voice")
        target.write_bytes(b"x")

    cache = TtsCache(tmp_path, renders=1, render=flaky)
    with pytest.raises(RuntimeError, match="espeak-ng failed"):
        await cache.ensure("Hello.")
    key = await asyncio.wait_for(cache.ensure("Hello."), timeout=5)
    assert attempts == ["Hello.", "Hello."] and cache.path(key).exists()


async def test_a_caller_hanging_up_leaves_a_shared_render_running(tmp_path: Path) -> None:
    render = FakeRenderer()
    render.gate.clear()
    cache = TtsCache(tmp_path, render=render)
    leaving = asyncio.ensure_future(cache.ensure("Welcome."))
    staying = asyncio.ensure_future(cache.ensure("Welcome."))
    await settle()
    leaving.cancel()
    await settle()
    render.gate.set()
    key = await staying
    assert leaving.cancelled()
    assert cache.path(key).exists()
    assert render.texts == ["Welcome."]


async def test_a_render_everyone_left_still_lands_in_the_cache(tmp_path: Path) -> None:
    render = FakeRenderer()
    render.gate.clear()
    cache = TtsCache(tmp_path, render=render)
    alone = asyncio.ensure_future(cache.ensure("Goodbye."))
    await settle()
    alone.cancel()
    render.gate.set()
    await settle()
    assert await cache.ensure("Goodbye.") == tts_key("Goodbye.")
    assert render.texts == ["Goodbye."]  # rendered once, not again for the next call


async def test_the_least_recently_used_file_is_evicted(tmp_path: Path) -> None:
    render = FakeRenderer(size=1000)
    cache = TtsCache(tmp_path, max_bytes=3000, render=render)
    for text in ("a", "b", "c"):
        await cache.ensure(text)
    await cache.ensure("a")  # a play is a use: "b" is now the oldest
    await cache.ensure("d")
    assert not cache.path(tts_key("b")).exists()
    assert all(cache.path(tts_key(t)).exists() for t in ("a", "c", "d"))
    await cache.ensure("b")  # evicted means forgotten: rendered again, not a key for a missing file
    assert render.texts == ["a", "b", "c", "d", "b"]
    assert cache.path(tts_key("b")).exists()
    assert not cache.path(tts_key("c")).exists()


async def test_a_file_is_never_evicted_by_its_own_render(tmp_path: Path) -> None:
    """A budget smaller than one file: the render's callers still get a file to play."""
    cache = TtsCache(tmp_path, max_bytes=500, render=FakeRenderer(size=1000))
    first = await cache.ensure("first")
    assert cache.path(first).exists()
    second = await cache.ensure("second")
    assert cache.path(second).exists()
    assert not cache.path(first).exists()


async def test_serving_a_file_counts_as_a_use(tmp_path: Path, aiohttp_client: Any, db: Any) -> None:
    from control.api.app import build_app
    from control.media.library import RecordingLibrary
    from control.recordings.index import RecordingIndex

    async def health() -> tuple[bool, dict[str, Any]]:
        return True, {}

    cache = TtsCache(tmp_path, max_bytes=3000, render=FakeRenderer(size=1000))
    keys = {text: await cache.ensure(text) for text in ("a", "b", "c")}
    client = await aiohttp_client(build_app(health, cache, RecordingLibrary(tmp_path / "recordings",
                                                                            RecordingIndex(db))))
    fetched = await client.get(f"/media/tts/{keys['a']}.wav")
    assert fetched.status == 200 and await fetched.read() == b"x" * 1000
    await cache.ensure("d")
    assert cache.path(keys["a"]).exists()
    assert not cache.path(keys["b"]).exists()
    assert (await client.get(f"/media/tts/{keys['b']}.wav")).status == 404
    assert (await client.get("/media/tts/..%2Fsecrets.json")).status == 404


async def test_the_order_of_use_survives_a_restart(tmp_path: Path) -> None:
    now = time.time()
    oldest = seed(tmp_path, "oldest", now - 300)
    seed(tmp_path, "older", now - 200)
    seed(tmp_path, "old", now - 100)
    render = FakeRenderer(size=1000)
    cache = TtsCache(tmp_path, max_bytes=3000, render=render)
    assert await cache.ensure("older") == tts_key("older")  # already on disk: not rendered
    await cache.ensure("new")
    assert not oldest.exists()
    assert render.texts == ["new"]
    assert all(cache.path(tts_key(t)).exists() for t in ("older", "old", "new"))


async def test_a_use_is_written_to_disk_for_the_next_start(tmp_path: Path) -> None:
    clock = [time.time()]
    cache = TtsCache(tmp_path, render=FakeRenderer(), clock=lambda: clock[0])
    key = await cache.ensure("a")
    clock[0] += 3600
    await cache.ensure("a")
    assert cache.path(key).stat().st_mtime == pytest.approx(clock[0])
    written = clock[0]
    clock[0] += lru.TOUCH_EVERY_S / 2  # and not on every use: at most once a TOUCH_EVERY_S
    await cache.ensure("a")
    assert cache.path(key).stat().st_mtime == pytest.approx(written)


async def test_eviction_keeps_a_running_total(tmp_path: Path, monkeypatch: Any) -> None:
    seed(tmp_path, "left from before", time.time() - 100)
    cache = TtsCache(tmp_path, max_bytes=2000, render=FakeRenderer(size=1000))

    def no_listing(*_args: Any) -> Any:
        raise AssertionError("the cache directory was listed after start")

    monkeypatch.setattr(lru.os, "scandir", no_listing)
    monkeypatch.setattr(Path, "iterdir", no_listing)
    monkeypatch.setattr(Path, "glob", no_listing)
    for text in ("a", "b", "c", "d"):
        await cache.ensure(text)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{tts_key(t)}.wav" for t in ("c", "d"))


async def test_the_length_of_a_tts_prompt_is_known_and_of_a_sound_is_not(tmp_path: Path) -> None:
    from control.flow.play import PlayItem
    from control.media.tts import HttpMedia

    media = HttpMedia(TtsCache(tmp_path), "http://127.0.0.1:8080", None)
    [tts] = await media.resolve([PlayItem("tts", "One two three four five.")])
    seconds = media.seconds([tts])
    assert seconds is not None and 1.0 < seconds < 4.0
    assert media.seconds([tts, tts]) == 2 * seconds
    assert media.seconds([tts, "sound:beep"]) is None
