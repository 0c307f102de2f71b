"""The album library's service: conversion, numbering, conflicts, tenant scoping, and never a
row without its file or a file without its row."""
from __future__ import annotations

import math
import struct
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.errors import Conflict, Invalid, NotFound
from control.recordings import audio, service
from control.recordings.service import add_recording, find_recording, list_recordings, recordings_dir, \
    remove_recording
from control.tenants.service import create_tenant


def make_wav(path: Path, seconds: float = 1.0, rate: int = 44100, channels: int = 2) -> Path:
    """A 440 Hz tone, 16-bit, at any rate and channel count."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        sample = int(8000 * math.sin(2 * math.pi * 440 * n / rate))
        frames += struct.pack("<h", sample) * channels
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return path


def left_behind(data_dir: Path) -> list[str]:
    directory = recordings_dir(data_dir)
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@pytest.fixture
async def tenant(db: async_sessionmaker) -> str:
    return (await create_tenant(db, "Acme")).id


async def test_a_cd_quality_stereo_wav_becomes_8khz_mono_of_the_same_length(
        db: async_sessionmaker, tenant: str, tmp_path: Path) -> None:
    source = make_wav(tmp_path / "Welcome Message.wav", seconds=1.5)
    added = await add_recording(db, tmp_path, tenant, 3, source)
    assert (added.album, added.sort, added.name) == (3, 1, "Welcome Message")
    assert added.id.isdigit() and added.file.startswith(f"{added.id}-")
    stored = recordings_dir(tmp_path) / added.file
    with wave.open(str(stored), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() / 8000 == pytest.approx(1.5, abs=0.01)
    assert added.seconds == pytest.approx(1.5, abs=0.01)
    assert added.bytes == stored.stat().st_size
    assert left_behind(tmp_path) == [added.file]  # no temporary file left
    assert source.exists(), "the source is only read"


async def test_an_mp3_is_converted(db: async_sessionmaker, tenant: str, tmp_path: Path) -> None:
    mp3 = tmp_path / "upload"  # an upload's temporary file has no extension: the content decides
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", "-t", "mp3", str(mp3), "synth", "2", "sine", "440"],
                   check=True)
    added = await add_recording(db, tmp_path, tenant, 1, mp3, name="Hold music", label="hold.mp3")
    assert added.name == "Hold music" and added.seconds == pytest.approx(2.0, abs=0.1)


async def test_an_mp3_without_sox_support_names_the_package(db: async_sessionmaker, tenant: str, tmp_path: Path,
                                                            monkeypatch: Any) -> None:
    mp3 = tmp_path / "a.mp3"
    mp3.write_bytes(b"ID3\x03\x00" + b"\x00" * 200)
    monkeypatch.setattr(audio, "sox_formats", lambda: frozenset({"wav"}))
    with pytest.raises(audio.MissingCodec, match="libsox-fmt-mp3"):
        await add_recording(db, tmp_path, tenant, 1, mp3)
    assert left_behind(tmp_path) == [] and await list_recordings(db) == []


@pytest.mark.parametrize("content, problem", [
    (b"just some text, not audio at all", "not a WAV or MP3 file"),
    (b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunkjunk", "not audio sox can read"),
    (b"", "the file is empty"),
])
async def test_a_file_that_is_not_audio_leaves_nothing_behind(db: async_sessionmaker, tenant: str, tmp_path: Path,
                                                              content: bytes, problem: str) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    with pytest.raises(Invalid) as caught:
        await add_recording(db, tmp_path, tenant, 1, bad)
    assert any(problem in e for e in caught.value.errors), caught.value.errors
    assert str(tmp_path) not in str(caught.value), "messages name the file, not where it sits"
    assert left_behind(tmp_path) == [] and await list_recordings(db) == []


async def test_a_silent_empty_wav_and_a_too_long_one_are_refused(db: async_sessionmaker, tenant: str,
                                                                 tmp_path: Path, monkeypatch: Any) -> None:
    with pytest.raises(Invalid, match="has no audio"):
        await add_recording(db, tmp_path, tenant, 1, make_wav(tmp_path / "empty.wav", seconds=0))
    monkeypatch.setattr(audio, "MAX_SECONDS", 1.0)
    with pytest.raises(Invalid, match="longer than"):
        await add_recording(db, tmp_path, tenant, 1, make_wav(tmp_path / "long.wav", seconds=3, rate=8000))
    assert left_behind(tmp_path) == [] and await list_recordings(db) == []


async def test_bad_arguments_are_all_named_before_any_work(db: async_sessionmaker, tenant: str,
                                                           tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(audio, "MAX_BYTES", 100)
    big = make_wav(tmp_path / "big.wav", seconds=0.1, rate=8000, channels=1)
    with pytest.raises(Invalid) as caught:
        await add_recording(db, tmp_path, tenant, 0, big, sort=-1, name=" ")
    assert [e.split(":")[0] for e in caught.value.errors] == ["album", "sort", "name", "big.wav"]
    assert "more than the 100 bytes" in caught.value.errors[-1]
    monkeypatch.undo()
    with pytest.raises(Invalid, match="no such file"):
        await add_recording(db, tmp_path, tenant, 1, tmp_path / "missing.wav")
    with pytest.raises(NotFound, match="tenant ten_nobody"):
        await add_recording(db, tmp_path, "ten_nobody", 1, make_wav(tmp_path / "ok.wav", 0.1))
    assert left_behind(tmp_path) == []


async def test_sort_defaults_to_the_lowest_free_one(db: async_sessionmaker, tenant: str, tmp_path: Path) -> None:
    wav = make_wav(tmp_path / "a.wav", seconds=0.2, rate=8000, channels=1)
    sorts = [(await add_recording(db, tmp_path, tenant, 1, wav)).sort for _ in range(3)]
    assert sorts == [1, 2, 3]
    assert (await add_recording(db, tmp_path, tenant, 1, wav, sort=7)).sort == 7
    second = await find_recording(db, tenant, 1, 2)
    assert second is not None
    await remove_recording(db, tmp_path, second.id)
    assert (await add_recording(db, tmp_path, tenant, 1, wav)).sort == 2  # the gap first
    assert (await add_recording(db, tmp_path, tenant, 1, wav)).sort == 4


async def test_a_taken_sort_is_a_conflict_unless_replaced(db: async_sessionmaker, tenant: str, tmp_path: Path) -> None:
    first = await add_recording(db, tmp_path, tenant, 2, make_wav(tmp_path / "one.wav", 0.2), sort=5)
    with pytest.raises(Conflict, match="album 2 already has a recording at sort 5"):
        await add_recording(db, tmp_path, tenant, 2, make_wav(tmp_path / "two.wav", 0.3), sort=5)
    assert left_behind(tmp_path) == [first.file]
    second = await add_recording(db, tmp_path, tenant, 2, make_wav(tmp_path / "two.wav", 0.3), sort=5, replace=True)
    assert second.replaced == first.id and second.id != first.id and second.file != first.file
    assert [r.id for r in await list_recordings(db, tenant)] == [second.id]
    assert left_behind(tmp_path) == [second.file], "the replaced file goes with its row"


async def test_albums_are_per_tenant(db: async_sessionmaker, tenant: str, tmp_path: Path) -> None:
    other = (await create_tenant(db, "Other")).id
    wav = make_wav(tmp_path / "a.wav", 0.2)
    mine = await add_recording(db, tmp_path, tenant, 1, wav, sort=1)
    theirs = await add_recording(db, tmp_path, other, 1, wav, sort=1)  # same album and sort: no conflict
    assert (await find_recording(db, tenant, 1, 1)).id == mine.id  # type: ignore[union-attr]
    assert (await find_recording(db, other, 1, 1)).id == theirs.id  # type: ignore[union-attr]
    assert [r.id for r in await list_recordings(db, other)] == [theirs.id]
    assert [r.id for r in await list_recordings(db, album=1)] != []
    assert await list_recordings(db, tenant, album=2) == []
    with pytest.raises(NotFound):
        await remove_recording(db, tmp_path, theirs.id, tenant_id=tenant)  # not mine: not found, not removed
    assert (await find_recording(db, other, 1, 1)) is not None


async def test_remove_deletes_row_and_file_and_ids_are_never_reused(db: async_sessionmaker, tenant: str,
                                                                    tmp_path: Path) -> None:
    wav = make_wav(tmp_path / "a.wav", 0.2)
    first = await add_recording(db, tmp_path, tenant, 1, wav)
    removed = await remove_recording(db, tmp_path, first.id)
    assert removed.id == first.id and left_behind(tmp_path) == [] and await list_recordings(db) == []
    with pytest.raises(NotFound, match=f"recording {first.id} does not exist"):
        await remove_recording(db, tmp_path, first.id)
    for bad in ("rec_1", "", "-1", "1e3"):
        with pytest.raises(NotFound):
            await remove_recording(db, tmp_path, bad)
    again = await add_recording(db, tmp_path, tenant, 1, wav)
    assert int(again.id) > int(first.id)


async def test_a_database_failure_removes_the_converted_file(db: async_sessionmaker, tenant: str, tmp_path: Path,
                                                             monkeypatch: Any) -> None:
    real_replace = service.os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        if str(dst).endswith(".wav") and not Path(dst).name.startswith("."):
            real_replace(src, dst)
            raise OSError("disk went away")  # the file is in place, the commit never happens
        real_replace(src, dst)

    monkeypatch.setattr(service.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk went away"):
        await add_recording(db, tmp_path, tenant, 1, make_wav(tmp_path / "a.wav", 0.2))
    monkeypatch.undo()
    assert left_behind(tmp_path) == [] and await list_recordings(db) == []


async def test_adds_racing_for_the_next_free_sort_each_get_their_own(db: async_sessionmaker, tenant: str,
                                                                     tmp_path: Path, monkeypatch: Any) -> None:
    """Two callers recording into one album at once: both look for the next free sort before
    either has stored, and both must end up stored."""
    import asyncio

    real_slot = service._slot
    looked = asyncio.Event()
    in_store: list[int] = []

    async def slot_in_step(session: Any, *args: Any) -> Any:
        found = await real_slot(session, *args)
        if sys._getframe(1).f_code.co_name == "_store":  # not the early check before converting
            in_store.append(found[0])
            if len(in_store) == 2:
                looked.set()
            await asyncio.wait_for(looked.wait(), 5)  # both have looked before either inserts
        return found

    monkeypatch.setattr(service, "_slot", slot_in_step)
    wav = make_wav(tmp_path / "a.wav", 0.2)
    added = await asyncio.gather(*(add_recording(db, tmp_path, tenant, 4, wav) for _ in range(2)))
    assert sorted(a.sort for a in added) == [1, 2]
    assert in_store == [1, 1, 2], "both picked 1; the second found it taken and looked again"
    assert sorted(left_behind(tmp_path)) == sorted(a.file for a in added)


async def test_numbers_beyond_what_the_columns_hold_find_nothing(db: async_sessionmaker, tenant: str,
                                                                 tmp_path: Path) -> None:
    added = await add_recording(db, tmp_path, tenant, 1, make_wav(tmp_path / "a.wav", 0.2))
    for album, sort in ((2**63, 1), (1, 2**31), (0, 1), (-1, 1), (service.MAX_RECORDING_NUMBER + 1, 1)):
        assert await find_recording(db, tenant, album, sort) is None
        assert album == 1 or await list_recordings(db, album=album) == []
        with pytest.raises(NotFound, match=f"album {album} of {tenant} has no recording at sort {sort}"):
            await remove_recording(db, tmp_path, None, tenant, album=album, sort=sort)
    for bad in (str(2**31), "99999999999", str(2**63)):
        with pytest.raises(NotFound, match=f"recording {bad} does not exist"):
            await remove_recording(db, tmp_path, bad)
    removed = await remove_recording(db, tmp_path, None, tenant, album=1, sort=1)
    assert removed.id == added.id and await list_recordings(db) == [] and left_behind(tmp_path) == []


@pytest.mark.parametrize("name", ["evil\u202egnp.exe", "a\u2028b", "a\u2066b", "a\x1bb", "x" * 201])
async def test_names_that_would_not_print_as_themselves_are_refused(db: async_sessionmaker, tenant: str,
                                                                    tmp_path: Path, name: str) -> None:
    with pytest.raises(Invalid) as caught:
        await add_recording(db, tmp_path, tenant, 1, make_wav(tmp_path / "a.wav", 0.2), name=name)
    assert [e.split(":")[0] for e in caught.value.errors] == ["name"]
    # A file's own name is made to pass instead: what would not print becomes a space.
    added = await add_recording(db, tmp_path, tenant, 1, make_wav(tmp_path / f"{name[:100]}.wav", 0.2))
    assert added.name == name[:100].replace("\u202e", " ").replace("\u2028", " ").replace("\u2066", " ") \
        .replace("\x1b", " ")
