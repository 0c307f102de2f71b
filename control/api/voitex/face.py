"""The face's guard (key, limits, the error shape for every failure) and its routes."""
from __future__ import annotations

import logging
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Awaitable, Callable

from aiohttp import web

from control.api.voitex import contacts, recordings, spec
from control.api.voitex.answer import failed
from control.api.voitex.context import TENANT, FaceConfig
from control.api.voitex.fields import TooLarge
from control.api.voitex.limits import RateLimiter
from control.errors import Conflict, Invalid, NotFound
from control.recordings.audio import MissingCodec
from control.tenants.service import tenant_for_key

log = logging.getLogger(__name__)

# Each Voitex host, as a path prefix of ours (architecture note); the bare word too
# (`/contacts`), so that every path of the face answers in its shape.
PREFIXES = ("/recording", "/contacts", "/notify", "/sms")
KEY_HEADERS = ("Auth-Key", "auth_key")  # the TTS sample sends the second
STALE_UPLOAD_S = 3600.0  # no upload takes an hour to arrive
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def install(app: web.Application, config: FaceConfig) -> None:
    """The face's routes on the platform's HTTP server, behind its guard."""
    limiter = RateLimiter(config.requests_per_minute)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _under(request.path):
            return await handler(request)
        key = next((request.headers[h] for h in KEY_HEADERS if request.headers.get(h, "").strip()), "").strip()
        if not key:
            return failed(401, "missing Auth-Key header")
        try:
            tenant = await tenant_for_key(config.db, key)
        except Exception:
            log.exception("looking up an Auth-Key failed")
            return failed(503, "the platform cannot answer now; try again")
        if tenant is None:
            return failed(401, "invalid Auth-Key")
        verdict = limiter.take(tenant.id)
        headers = verdict.headers()
        if not verdict.allowed:
            return failed(429, f"rate limit exceeded: at most {verdict.limit} requests a minute", headers=headers)
        request[TENANT] = tenant.id
        try:
            response = await handler(request)
        except Invalid as exc:
            response = failed(400, *exc.errors)
        except NotFound as exc:
            response = failed(404, str(exc))
        except Conflict as exc:
            response = failed(409, str(exc))
        except TooLarge as exc:
            response = failed(413, str(exc))
        except web.HTTPException as exc:  # no such path or method under the face's prefixes
            response = failed(exc.status, exc.reason,
                              headers={k: v for k, v in exc.headers.items() if k == "Allow"})
        except MissingCodec as exc:  # the operator's to mend (a package); the uploader may retry later
            log.error("%s %s: %s", request.method, request.path, exc)
            response = failed(503, str(exc))
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            response = failed(503, "the platform cannot answer now; try again")
        response.headers.update(headers)
        return response

    app.middlewares.append(guard)
    _sweep(config.data_dir / "uploads")
    served = recordings.endpoints(config) + contacts.endpoints(config)
    spec.install(app, config, served)
    document = spec.openapi(served, _version())

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get("/openapi.json", openapi)


def _under(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PREFIXES)


def _sweep(uploads: Path) -> None:
    """Remove uploads a killed process left (a request's own are removed when it ends); only
    old ones, as another process on this data directory may be receiving one now."""
    cutoff = time.time() - STALE_UPLOAD_S
    for left in uploads.glob("upload-*") if uploads.is_dir() else ():
        try:
            if left.stat().st_mtime < cutoff:
                left.unlink()
        except OSError:
            pass  # gone meanwhile, or not ours to remove: the next start tries again


def _version() -> str:
    try:
        return version("voicectl")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"
