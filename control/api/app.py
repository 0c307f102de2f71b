"""The control plane's HTTP server: health, and media for Asterisk to fetch."""
from __future__ import annotations

import re
from typing import Any, Awaitable, Callable

from aiohttp import web

from control.media.library import RecordingLibrary
from control.media.tts import TtsCache

HealthProbe = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
MEDIA_NAME = re.compile(r"^[0-9a-f]{32}\.wav$")


def build_app(health: HealthProbe, tts: TtsCache, recordings: RecordingLibrary | None = None) -> web.Application:
    app = web.Application()

    async def healthz(_request: web.Request) -> web.Response:
        ready, body = await health()
        return web.json_response(body, status=200 if ready else 503)

    async def tts_file(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = tts.cached(name.removesuffix(".wav")) if MEDIA_NAME.match(name) else None  # a fetch is a use
        if path is None:
            raise web.HTTPNotFound(text="no such media")
        # Named by a hash of its content: Asterisk's media cache may keep it forever.
        return web.FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable",
                                               "Content-Type": "audio/wav"})

    async def recording_file(request: web.Request) -> web.StreamResponse:
        path = recordings.path(request.match_info["name"]) if recordings is not None else None
        if path is None:
            raise web.HTTPNotFound(text="no such media")
        # The name carries a digest of the content (a replaced recording gets a new name), so
        # it too may be cached forever.
        return web.FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable",
                                               "Content-Type": "audio/wav"})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/media/tts/{name}", tts_file)
    app.router.add_get("/media/recordings/{name}", recording_file)
    return app
