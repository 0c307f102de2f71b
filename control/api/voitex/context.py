"""What the face's handlers share: its configuration and the tenant the guard found."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.media.tts import TtsCache
from control.notify.service import Attempts
from control.recordings.index import RecordingIndex

TENANT = web.RequestKey("voitex_tenant", str)


@dataclass(frozen=True)
class FaceConfig:
    db: async_sessionmaker
    data_dir: Path
    max_body_bytes: int
    requests_per_minute: int
    index: RecordingIndex | None = None  # this process's cache of album slots, told of deletes
    tts: TtsCache | None = None  # renders the text of a TTS upload
    # Tells this process's dispatcher that sending work was written (it looks at once).
    wake: Callable[[], None] = lambda: None
    attempts: Attempts = Attempts()  # how often a broadcast call recipient is tried


def tenant_of(request: web.Request) -> str:
    return request[TENANT]
