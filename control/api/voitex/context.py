"""What the face's handlers share: its configuration and the tenant the guard found."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from typing import Annotated

from aiohttp import web
from pydantic import BeforeValidator, Field, PlainValidator, WithJsonSchema
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.api.voitex.fields import Upload

from control.media.tts import TtsCache
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
    tts: TtsCache | None = None  # renders the text of a TTS upload


def tenant_of(request: web.Request) -> str:
    return request[TENANT]


def _whole_number(value: object) -> int:
    """A positive whole number as a path, a form (text) or JSON (a number) gives it."""
    text = value.strip() if isinstance(value, str) else value if isinstance(value, int) and \
        not isinstance(value, bool) else None
    if isinstance(text, str):
        text = int(text) if text.isascii() and text.isdigit() else None
    if text is None or not 1 <= text <= MAX_NUMBER:
        raise ValueError(f"must be a whole number from 1 to {MAX_NUMBER}")
    return text


WholeNumber = Annotated[int, Field(ge=1, le=MAX_NUMBER), BeforeValidator(_whole_number)]
# Optional: absent or left empty in a form ("sort_number=") is None.
MaybeWholeNumber = Annotated[WholeNumber | None, BeforeValidator(lambda v: None if v == "" else v)]


def _upload(value: object) -> Upload:
    if isinstance(value, Upload):
        return value
    raise ValueError("must be a file sent as multipart form-data")


# A file field: what fields.py saved of a multipart part; in the document, a binary string.
UploadFile = Annotated[Upload, PlainValidator(_upload), WithJsonSchema({"type": "string", "format": "binary"})]
