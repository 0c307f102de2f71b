"""What the face's handlers share: its configuration and the tenant the guard found."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.errors import Invalid
from control.recordings.index import RecordingIndex

TENANT = web.RequestKey("voitex_tenant", str)
MAX_NUMBER = 2**31 - 1  # albums, sorts and ids are the database's int32


@dataclass(frozen=True)
class FaceConfig:
    db: async_sessionmaker
    data_dir: Path
    max_body_bytes: int
    requests_per_minute: int
    index: RecordingIndex | None = None  # this process's cache of album slots, told of deletes


def tenant_of(request: web.Request) -> str:
    return request[TENANT]


def whole_number(text: str, what: str) -> int:
    """A positive whole number as a path or form gives it, or Invalid saying so."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_NUMBER:
        raise Invalid([f"{what} must be a whole number from 1 to {MAX_NUMBER}"])
    return int(text)
