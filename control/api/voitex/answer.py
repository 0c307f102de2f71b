"""Every answer of the face has the document's shape, `{"status", "data", "errors"}`, with a
conventional HTTP status besides (the document gives none): 200, 400 bad input, 401 no or
wrong key, 404 not found, 409 conflict, 413 too large, 429 too many requests, 503 when the
platform cannot answer now. Never a 500 or a traceback."""
from __future__ import annotations

from typing import Any, Mapping

from aiohttp import web


def ok(data: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"status": "success", "data": data, "errors": []}, headers=headers)


def failed(status: int, *errors: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"status": "error", "data": None, "errors": list(errors)}, status=status,
                             headers=headers)
