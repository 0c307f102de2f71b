"""The control plane's HTTP server: health, media for Asterisk to fetch, and the REST faces."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Awaitable, Callable

from aiohttp import web

from control.api.voitex import face
from control.api.voitex.context import FaceConfig
from control.media.library import RecordingLibrary
from control.media.tts import TtsCache

HealthProbe = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
MEDIA_NAME = re.compile(r"^[0-9a-f]{32}\.wav$")
# Both kinds of media are named by their content (a hash of the text rendered; a recording's id
# and a digest of its audio): Asterisk's media cache may keep them forever.
IMMUTABLE_WAV = {"Cache-Control": "public, max-age=31536000, immutable", "Content-Type": "audio/wav"}


def build_app(health: HealthProbe, tts: TtsCache, recordings: RecordingLibrary,
              voitex: FaceConfig | None = None) -> web.Application:
    app = web.Application()
    if voitex is not None:
        face.install(app, voitex)

    async def healthz(_request: web.Request) -> web.Response:
        ready, body = await health()
        return web.json_response(body, status=200 if ready else 503)

    async def tts_file(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        return _wav(tts.cached(name.removesuffix(".wav")) if MEDIA_NAME.match(name) else None)  # a fetch is a use

    async def recording_file(request: web.Request) -> web.StreamResponse:
        # A file gone (removed, or replaced by a newer version) is FileResponse's 404.
        return _wav(recordings.path(request.match_info["name"]))

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/media/tts/{name}", tts_file)
    app.router.add_get("/media/recordings/{name}", recording_file)
    return app


def _wav(path: Path | None) -> web.StreamResponse:
    if path is None:
        raise web.HTTPNotFound(text="no such media")
    return web.FileResponse(path, headers=IMMUTABLE_WAV)
