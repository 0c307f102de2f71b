"""The recording library for integrators: upload a file or a TTS text into an album (Voitex's
Upload Recording and Create TTS, one endpoint), list an album, delete a recording."""
from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, model_validator

from control.api.voitex.answer import ok
from control.api.voitex.context import FaceConfig, tenant_of
from control.api.voitex.types import MaybeRecordingNumber, RecordingNumber, UploadFile
from control.api.voitex.spec import Endpoint
from control.clock import as_utc
from control.errors import Invalid
from control.flow.play import tts_text_problem
from control.recordings.service import RecordingInfo, add_recording, list_recordings, remove_recording


TTS_NAME_CHARS = 80


class UploadFields(BaseModel):
    """Upload Recording (`upload_file`) and Create TTS (`type=tts`, `text`) of the document."""
    model_config = ConfigDict(extra="ignore")
    album_number: RecordingNumber
    sort_number: MaybeRecordingNumber = None  # the lowest free one from 1 when not given
    display_name: str | None = None
    override: str = ""  # "yes": replace the recording at sort_number
    type: str = ""  # "tts", or empty for a file
    text: str | None = None
    upload_file: UploadFile | None = None

    @model_validator(mode="after")
    def one_source(self) -> "UploadFields":
        if self.type.lower() not in ("", "tts"):
            raise ValueError("type must be tts, or left out for a file upload")
        if self.tts:
            problem = tts_text_problem(self.text or "")
            if problem:
                raise ValueError(f"text: {problem}")
        elif self.upload_file is None:
            raise ValueError("upload_file is required (a wav or mp3 file), or type=tts with text")
        if self.override.lower() not in ("", "yes", "no"):
            raise ValueError("override must be yes or no")
        return self

    @property
    def tts(self) -> bool:
        return self.type.lower() == "tts"


class AlbumFields(BaseModel):
    model_config = ConfigDict(extra="ignore")
    album: RecordingNumber


class RecordingFields(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str  # a numeric string; anything else is a recording that does not exist (404)


class Shown(BaseModel):
    """A recording in the upload's own words, its id a numeric string as the upload answers it."""
    id: str
    album_number: int
    sort_number: int
    display_name: str
    seconds: float
    created_at: str


def endpoints(config: FaceConfig) -> list[Endpoint[Any]]:
    async def upload(request: web.Request, fields: UploadFields) -> web.Response:
        if fields.tts:
            if config.tts is None:
                raise Invalid(["TTS is not available on this node"])
            key = await config.tts.ensure(fields.text or "")
            # Named by its text (not as a file is, by its stem: "Press 1/2." is no path).
            source, label, name = config.tts.path(key), "the TTS text", fields.display_name or _tts_name(fields.text)
        else:
            assert fields.upload_file is not None
            source, label = fields.upload_file.path, fields.upload_file.filename or "upload"
            name = fields.display_name or None  # None: the file's name without its extension
        added = await add_recording(config.db, config.data_dir, tenant_of(request), fields.album_number, source,
                                    fields.sort_number, name,
                                    replace=fields.override.lower() == "yes", label=label)
        if config.index is not None:
            config.index.forget(added.tenant_id, added.album, added.sort)
        return ok(added.id)

    async def album(request: web.Request, fields: AlbumFields) -> web.Response:
        return ok([_shown(r) for r in await list_recordings(config.db, tenant_of(request), fields.album)])

    async def delete(request: web.Request, fields: RecordingFields) -> web.Response:
        removed = await remove_recording(config.db, config.data_dir, fields.id, tenant_of(request))
        if config.index is not None:  # plays on this node stop offering it at once (others: the TTL)
            config.index.forget(removed.tenant_id, removed.album, removed.sort)
        return ok("Recording deleted")

    return [
        Endpoint("POST", "/recording/upload/", "Upload a wav or mp3 file, or a TTS text, into an album; data: the "
                 "recording's id", UploadFields, upload, {"type": "string", "pattern": "^[0-9]+$"}, body=True),
        Endpoint("GET", "/recording/albums/{album}", "The album's recordings, by sort number ([] for none)",
                 AlbumFields, album, {"type": "array", "items": Shown.model_json_schema()}),
        Endpoint("DELETE", "/recording/{id}", "Delete a recording: new plays no longer find it",
                 RecordingFields, delete, {"const": "Recording deleted"}),
    ]


def _shown(recording: RecordingInfo) -> dict[str, object]:
    return Shown(id=recording.id, album_number=recording.album, sort_number=recording.sort,
                 display_name=recording.name, seconds=recording.seconds,
                 created_at=as_utc(recording.created_at).isoformat()).model_dump()


def _tts_name(text: str | None) -> str:
    """A TTS recording's default display name: its text on one line, cut to a name's length."""
    one_line = " ".join((text or "").split())
    return one_line if len(one_line) <= TTS_NAME_CHARS else one_line[:TTS_NAME_CHARS - 3].rstrip() + "..."
