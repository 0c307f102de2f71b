"""The recording library for integrators: list an album, delete a recording. (Upload and TTS,
`POST /recording/upload/`, come next: see the session note.)"""
from __future__ import annotations

from aiohttp import web

from control.api.voitex.answer import ok
from control.clock import as_utc
from control.api.voitex.context import FaceConfig, tenant_of, whole_number
from control.recordings.service import RecordingInfo, list_recordings, remove_recording


def install(app: web.Application, config: FaceConfig) -> None:
    async def album(request: web.Request) -> web.Response:
        number = whole_number(request.match_info["album"], "album")
        return ok([_shown(r) for r in await list_recordings(config.db, tenant_of(request), number)])

    async def delete(request: web.Request) -> web.Response:
        removed = await remove_recording(config.db, config.data_dir, request.match_info["id"], tenant_of(request))
        if config.index is not None:  # plays on this node stop offering it at once (others: the TTL)
            config.index.forget(removed.tenant_id, removed.album, removed.sort)
        return ok("Recording deleted")

    app.router.add_get("/recording/albums/{album}", album)
    app.router.add_delete("/recording/{id}", delete)


def _shown(recording: RecordingInfo) -> dict[str, object]:
    """A recording in the upload's own words (sort_number, display_name), its id a numeric
    string as the upload answers it."""
    return {"id": recording.id, "album_number": recording.album, "sort_number": recording.sort,
            "display_name": recording.name, "seconds": recording.seconds,
            "created_at": as_utc(recording.created_at).isoformat()}
