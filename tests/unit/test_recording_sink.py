"""The record branch's sink: a take comes over ARI (faked here) into the album library as the
next sort, the index forgets the slot, and Asterisk's copy is deleted, kept or not."""
from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.errors import Invalid
from control.flow.channel import Take
from control.recordings.index import RecordingIndex
from control.recordings.service import list_recordings, recordings_dir
from control.recordings.sink import AriRecordingSink, EmptyTake
from control.telephony.ari_http import AriError
from control.tenants.service import create_tenant


def asterisk_wav(seconds: float) -> bytes:
    """What Asterisk's `wav` format writes: 8 kHz 16-bit mono."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x10\x00" * int(seconds * 8000))
    return out.getvalue()


class StoredOps:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.deleted: list[str] = []

    async def stored_recording_file(self, name: str) -> bytes:
        if name not in self.files:
            raise AriError(404, "GET", f"/recordings/stored/{name}/file", "Recording not found")
        return self.files[name]

    async def delete_stored_recording(self, name: str) -> None:
        self.deleted.append(name)
        self.files.pop(name, None)


@pytest.fixture
async def tenant(db: async_sessionmaker) -> str:
    return (await create_tenant(db, "Acme")).id


async def test_takes_become_the_albums_next_recordings_and_leave_asterisk(
        db: async_sessionmaker, tenant: str, tmp_path: Path) -> None:
    ops = StoredOps({"c1-a": asterisk_wav(2.0), "c1-b": asterisk_wav(1.0)})
    index = RecordingIndex(db)
    assert await index.get(tenant, 4, 1) is None  # a miss is remembered for a while...
    sink = AriRecordingSink(ops, db, tmp_path, index)
    first = await sink.keep(Take("c1-a", 2.0, "key"), tenant, 4)
    second = await sink.keep(Take("c1-b", 1.0, "silence"), tenant, 4)
    assert (first.sort, second.sort) == (1, 2) and first.seconds == pytest.approx(2.0, abs=0.01)
    assert (await index.get(tenant, 4, 1)) is not None, "...and forgotten once the slot is filled"
    rows = await list_recordings(db, tenant, 4)
    assert [(r.id, r.sort, r.name) for r in rows] == [(first.id, 1, "c1-a"), (second.id, 2, "c1-b")]
    assert ops.deleted == ["c1-a", "c1-b"] and ops.files == {}
    assert sorted(p.name for p in recordings_dir(tmp_path).iterdir()) == sorted(r.file for r in rows)


async def test_a_take_that_cannot_be_kept_raises_and_is_still_deleted_from_asterisk(
        db: async_sessionmaker, tenant: str, tmp_path: Path) -> None:
    ops = StoredOps({"c1-silent": asterisk_wav(0.2), "c1-junk": b"RIFF\x00\x00\x00\x00WAVEjunk" * 10})
    sink = AriRecordingSink(ops, db, tmp_path, RecordingIndex(db))
    with pytest.raises(EmptyTake, match="holds 0.2 s of audio; under 0.5 s counts as nothing said"):
        await sink.keep(Take("c1-silent", 1.0, "silence"), tenant, 1)
    with pytest.raises(Invalid, match="not audio"):
        await sink.keep(Take("c1-junk", None, "key"), tenant, 1)
    with pytest.raises(AriError, match="404"):
        await sink.keep(Take("c1-gone", None, "hangup"), tenant, 1)
    assert ops.deleted == ["c1-silent", "c1-junk", "c1-gone"]
    assert await list_recordings(db, tenant) == []
    assert [p.name for p in recordings_dir(tmp_path).iterdir()] == [], "no temporary file left"


async def test_an_hour_long_take_is_not_refused_as_an_oversized_upload(
        db: async_sessionmaker, tenant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from control.recordings import audio, sink as sink_module
    seen: dict[str, object] = {}
    real = sink_module.add_recording

    async def spy(*args: object, **kwargs: object) -> object:
        seen.update(kwargs)
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sink_module, "add_recording", spy)
    ops = StoredOps({"c1-long": asterisk_wav(1.0)})
    await AriRecordingSink(ops, db, tmp_path, RecordingIndex(db)).keep(Take("c1-long", 1.0, "max"), tenant, 2)
    hour = 3600 * 8000 * 2 + 44
    assert audio.MAX_BYTES < hour <= seen["max_bytes"]  # type: ignore[operator]


async def test_a_take_the_database_could_not_take_stays_in_asterisk_for_salvage(
        db: async_sessionmaker, tenant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from control.recordings import sink as sink_module

    async def database_down(*args: object, **kwargs: object) -> object:
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr(sink_module, "add_recording", database_down)
    ops = StoredOps({"c1-said": asterisk_wav(2.0)})
    with pytest.raises(ConnectionRefusedError):
        await AriRecordingSink(ops, db, tmp_path, RecordingIndex(db)).keep(Take("c1-said", 2.0, "key"), tenant, 1)
    assert ops.deleted == [] and "c1-said" in ops.files, "what the caller said is not thrown away"


async def test_salvage_keeps_tagged_takes_of_calls_gone_and_leaves_running_calls_theirs(
        db: async_sessionmaker, tenant: str, tmp_path: Path) -> None:
    from control.recordings.sink import call_part, parse_take_name, take_name, take_tag

    gone, running = take_name("n1-1700.5", take_tag(tenant, 3)), take_name("n1-1700.6", take_tag(tenant, 3))
    silent, foreign = take_name("n1-1700.7", take_tag(tenant, 3)), take_name("n1-1700.8", take_tag("ten_nope", 3))
    assert parse_take_name(gone) == (call_part("n1-1700.5"), tenant, 3)
    ops = StoredOps({gone: asterisk_wav(2.0), running: asterisk_wav(2.0), silent: asterisk_wav(0.1),
                     foreign: asterisk_wav(2.0), "someone-elses.wav": asterisk_wav(2.0)})
    sink = AriRecordingSink(ops, db, tmp_path, RecordingIndex(db))
    kept = await sink.salvage(list(ops.files), {call_part("n1-1700.6")}.__contains__)
    assert kept == 1
    assert [(r.sort, r.name) for r in await list_recordings(db, tenant, 3)] == [(1, gone)]
    # Held for good (no audio, no such tenant): deleted; a running call's, or a stranger's: left.
    assert sorted(ops.deleted) == sorted([gone, silent, foreign])
    assert sorted(ops.files) == sorted([running, "someone-elses.wav"])


async def test_a_take_already_in_the_librarys_shape_is_moved_in_without_sox(
        db: async_sessionmaker, tenant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from control.recordings import audio

    async def no_sox(*args: object, **kwargs: object) -> None:
        raise AssertionError("sox ran on a take Asterisk wrote in the library's shape")

    monkeypatch.setattr(audio, "run", no_sox)
    take = asterisk_wav(1.0)
    ops = StoredOps({"c1-native": take})
    kept = await AriRecordingSink(ops, db, tmp_path, RecordingIndex(db)).keep(Take("c1-native", 1.0, "key"), tenant, 1)
    [row] = await list_recordings(db, tenant)
    assert kept.seconds == pytest.approx(1.0) and row.bytes == len(take)
    assert (recordings_dir(tmp_path) / row.file).read_bytes() == take, "byte for byte what Asterisk wrote"
    assert [p.name for p in recordings_dir(tmp_path).iterdir()] == [row.file]


async def test_a_take_in_another_shape_is_still_converted(db: async_sessionmaker, tenant: str,
                                                          tmp_path: Path) -> None:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:  # 16 kHz: not what the library keeps
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x10\x00" * 16000)
    ops = StoredOps({"c1-wide": out.getvalue()})
    await AriRecordingSink(ops, db, tmp_path, RecordingIndex(db)).keep(Take("c1-wide", 1.0, "key"), tenant, 1)
    [row] = await list_recordings(db, tenant)
    with wave.open(str(recordings_dir(tmp_path) / row.file), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    assert row.seconds == pytest.approx(1.0, abs=0.01)
