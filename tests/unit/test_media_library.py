"""Album recordings as media: file items to URIs through a cached index, lengths known, and
the HTTP face serving exactly the library's files."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.api.app import build_app
from control.flow.play import MediaMissing, PlayItem
from control.media.library import RecordingLibrary
from control.media.tts import HttpMedia, TtsCache
from control.recordings import index as index_module
from control.recordings.index import RecordingIndex
from control.recordings.service import add_recording, recordings_dir, remove_recording
from control.tenants.service import create_tenant
from tests.unit.test_recordings_service import make_wav

BASE = "http://127.0.0.1:8080"


def file_item(album: str, sort: str) -> PlayItem:
    return PlayItem("file", album=album, sort=sort)


@pytest.fixture
async def setup(db: async_sessionmaker, tmp_path: Path) -> dict[str, Any]:
    tenant = (await create_tenant(db, "Acme")).id
    added = await add_recording(db, tmp_path, tenant, 10, make_wav(tmp_path / "hello.wav", 1.25), sort=25)
    clock = [100.0]
    library = RecordingLibrary(recordings_dir(tmp_path), RecordingIndex(db, clock=lambda: clock[0]))
    return {"tenant": tenant, "added": added, "library": library, "clock": clock,
            "media": HttpMedia(TtsCache(tmp_path / "tts"), BASE, library)}


async def test_file_items_become_uris_with_known_lengths(setup: dict[str, Any]) -> None:
    media, added = setup["media"], setup["added"]
    uris = await media.resolve([file_item("10", "25"), PlayItem("sound", "beep")], setup["tenant"])
    assert uris == [f"sound:{BASE}/media/recordings/{added.file}", "sound:beep"]
    assert media.seconds(uris[:1]) == pytest.approx(1.25, abs=0.01)
    assert media.seconds(uris) is None, "Asterisk's own prompts have no known length"


async def test_missing_recordings_and_bad_numbers_raise_media_missing(setup: dict[str, Any]) -> None:
    media, tenant = setup["media"], setup["tenant"]
    cases = [(file_item("10", "24"), tenant, "no recording 24 in album 10"),
             (file_item("11", "25"), tenant, "no recording 25 in album 11"),
             (file_item("10", "0"), tenant, "no recording 0 in album 10"),
             (file_item("ten", "25"), tenant, "album 'ten' is not a number"),
             (file_item("10", ""), tenant, "sort '' is not a number"),
             (file_item("10", "25"), "ten_other", "no recording 25 in album 10"),  # another tenant's album
             (file_item("10", "25"), "", "no tenant")]
    for item, tenant_id, why in cases:
        with pytest.raises(MediaMissing) as caught:
            # After one that resolves: the item named is the one missing.
            await media.resolve(([file_item("10", "25")] if tenant_id == tenant else []) + [item], tenant_id)
        assert caught.value.item is item and why in caught.value.why, (item, caught.value.why)
    with pytest.raises(MediaMissing, match="no album library"):
        await HttpMedia(TtsCache(Path("/nonexistent")), BASE, None).resolve([file_item("10", "25")], tenant)


async def test_the_index_reads_the_database_once_per_ttl(setup: dict[str, Any], db: async_sessionmaker,
                                                         tmp_path: Path, monkeypatch: Any) -> None:
    reads: list[tuple[Any, ...]] = []
    real_find = index_module.find_recording

    async def counting_find(*args: Any) -> Any:
        reads.append(args[1:])
        return await real_find(*args)

    monkeypatch.setattr(index_module, "find_recording", counting_find)
    media, tenant, clock = setup["media"], setup["tenant"], setup["clock"]
    for _ in range(3):
        await media.resolve([file_item("10", "25")], tenant)
        with pytest.raises(MediaMissing):
            await media.resolve([file_item("10", "26")], tenant)
    assert reads == [(tenant, 10, 25), (tenant, 10, 26)], "missing ones are remembered too"

    await remove_recording(db, tmp_path, setup["added"].id)
    await media.resolve([file_item("10", "25")], tenant)  # within the TTL: still offered
    clock[0] += 2.5
    with pytest.raises(MediaMissing, match="no recording 25 in album 10"):
        await media.resolve([file_item("10", "25")], tenant)

    await add_recording(db, tmp_path, tenant, 10, make_wav(tmp_path / "new.wav", 0.5), sort=26)
    setup["library"].index.forget(tenant, 10, 26)  # what a process just added plays at once
    assert len(await media.resolve([file_item("10", "26")], tenant)) == 1


async def test_recordings_are_served_by_exact_name_only(aiohttp_client: Any, setup: dict[str, Any]) -> None:
    async def healthy() -> tuple[bool, dict[str, Any]]:
        return True, {}

    library, added = setup["library"], setup["added"]
    client = await aiohttp_client(build_app(healthy, TtsCache(library.directory.parent / "tts"), library))
    resp = await client.get(f"/media/recordings/{added.file}")
    assert resp.status == 200 and resp.headers["Content-Type"] == "audio/wav"
    assert "immutable" in resp.headers["Cache-Control"], "the name changes with the content"
    body = await resp.read()
    assert body[:4] == b"RIFF" and len(body) == added.bytes

    (library.directory / ".hidden.tmp.wav").write_bytes(b"RIFF")
    digest = added.file.split("-")[1].removesuffix(".wav")
    for name in [f"{added.id}.wav", f"{added.id}-{'0' * 16}.wav", f"0{added.file}", added.file.upper(),
                 f"{added.file}/..", f"..%2F{added.file}", "%2e%2e%2f..%2fvoicectl.db", ".hidden.tmp.wav",
                 f"{added.id}-{digest}.WAV", f"{added.id}-{digest}.wav%00", "a" * 5000 + ".wav", ".."]:
        resp = await client.get(f"/media/recordings/{name}")
        assert resp.status == 404, (name, resp.status)
    resp = await client.get(f"/media/recordings/{int(added.id) + 1}-{digest}.wav")
    assert resp.status == 404, "well named, but no such recording"
