"""The recording library for integrators: list an album, delete a recording. (Upload and TTS,
`POST /recording/upload/`, come next: see the session note.)"""
from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from control.api.voitex.answer import ok
from control.api.voitex.context import FaceConfig, WholeNumber, tenant_of
from control.api.voitex.spec import Endpoint
from control.clock import as_utc
from control.recordings.service import RecordingInfo, list_recordings, remove_recording


class AlbumFields(BaseModel):
    model_config = ConfigDict(extra="ignore")
    album: WholeNumber


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
    async def album(request: web.Request, fields: AlbumFields) -> web.Response:
        return ok([_shown(r) for r in await list_recordings(config.db, tenant_of(request), fields.album)])

    async def delete(request: web.Request, fields: RecordingFields) -> web.Response:
        removed = await remove_recording(config.db, config.data_dir, fields.id, tenant_of(request))
        if config.index is not None:  # plays on this node stop offering it at once (others: the TTL)
            config.index.forget(removed.tenant_id, removed.album, removed.sort)
        return ok("Recording deleted")

    return [
        Endpoint("GET", "/recording/albums/{album}", "The album's recordings, by sort number ([] for none)",
                 AlbumFields, album, {"type": "array", "items": Shown.model_json_schema()}),
        Endpoint("DELETE", "/recording/{id}", "Delete a recording: new plays no longer find it",
                 RecordingFields, delete, {"const": "Recording deleted"}),
    ]


def _shown(recording: RecordingInfo) -> dict[str, object]:
    return Shown(id=recording.id, album_number=recording.album, sort_number=recording.sort,
                 display_name=recording.name, seconds=recording.seconds,
                 created_at=as_utc(recording.created_at).isoformat()).model_dump()
