"""The HTTP face Asterisk fetches prompts from, attacked: hostile names get 404, never a
500 or a file outside the cache."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from control.api.app import build_app
from control.media.library import RecordingLibrary
from control.media.tts import TtsCache
from control.recordings.index import RecordingIndex

HOSTILE = ["..%2F..%2Fetc%2Fpasswd", "%2e%2e%2fsecrets.json", "a" * 5000 + ".wav", "%00.wav", "x.wav%00",
           "0" * 32 + ".wav/..", "0" * 32, "0" * 32 + ".WAV", "%ff%fe.wav", "\u00e9" * 32 + ".wav", ".wav",
           "0" * 31 + "g.wav", "..", "%2e%2e"]


async def test_hostile_media_names_get_404(aiohttp_client: Any, tmp_path: Path, db: async_sessionmaker) -> None:
    (tmp_path / "secrets.json").write_text("{}")
    tts = TtsCache(tmp_path / "tts")

    async def healthy() -> tuple[bool, dict[str, Any]]:
        return True, {}

    library = RecordingLibrary(tmp_path / "recordings", RecordingIndex(db))
    client = await aiohttp_client(build_app(healthy, tts, library))
    for name in HOSTILE:
        resp = await client.get(f"/media/tts/{name}")
        assert resp.status == 404, (name, resp.status, await resp.text())
    resp = await client.get("/media/tts/" + "0" * 32 + ".wav")
    assert resp.status == 404, "well named, but not in the cache"
