"""A request's fields, whatever the body: multipart form-data (files to temporary files),
urlencoded form or a JSON object. Names and string values are trimmed (the document's samples
carry stray spaces: `"album_number "`); a name given twice in a form is a list."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from control.errors import Invalid

CHUNK = 64 * 1024
MAX_PARTS = 100  # a multipart body of more parts is no upload form; each part costs work
# Only a file needs a large body. A form or JSON body is parsed whole on the event loop: 25 MB
# of urlencoded fields took 2 s of it, every call on the node stalled meanwhile. The largest
# request of ours in text (a contact with all its notes; a notify list of 10,000 phones) is a
# few hundred KB.
MAX_TEXT_BYTES = 2**20
MAX_DEPTH = 32  # JSON nested deeper is no request of ours (and deep enough breaks recursion)


class TooLarge(Exception):
    """The body is over the size limit (413); the message says which."""


@dataclass(frozen=True)
class Upload:
    filename: str  # as the client named it (trimmed)
    path: Path  # a temporary file holding it; removed by Fields.close()
    size: int


@dataclass
class Fields:
    values: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)
    # Every temporary file made for the request, kept apart from `files` so that close()
    # removes each even when reading stopped halfway through one.
    temporary: list[Path] = field(default_factory=list)

    def close(self) -> None:
        for path in self.temporary:
            path.unlink(missing_ok=True)


async def read_fields(request: web.Request, max_bytes: int, tmp_dir: Path) -> Fields:
    """The request's fields; TooLarge past max_bytes (the whole body), Invalid for a body that
    says it is JSON or a form and is not. The caller closes what it gets."""
    kind = request.content_type
    if not request.body_exists:
        return Fields()
    if kind == "multipart/form-data":
        if request.content_length is not None and request.content_length > max_bytes:
            raise TooLarge(f"the request is larger than {max_bytes} bytes")
        return await _multipart(request, max_bytes, tmp_dir)
    body = await _read(request, min(max_bytes, MAX_TEXT_BYTES))
    if kind == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise Invalid(["the form is not UTF-8"]) from None
        return Fields(_gathered(pairs))
    if not body.strip():
        return Fields()
    try:
        found = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Invalid(["the body is not JSON, a urlencoded form or multipart form-data"]) from None
    except RecursionError:
        raise Invalid([f"the JSON body is nested more than {MAX_DEPTH} deep"]) from None
    if not isinstance(found, dict):
        raise Invalid(["the body must be a JSON object"])
    return Fields({str(k).strip(): _trimmed(v, 1) for k, v in found.items()})


async def _read(request: web.Request, max_bytes: int) -> bytes:
    too_large = TooLarge(f"a form or JSON body may be at most {max_bytes} bytes")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    data = bytearray()
    while chunk := await request.content.read(CHUNK):
        data += chunk
        if len(data) > max_bytes:
            raise too_large
    return bytes(data)


async def _multipart(request: web.Request, max_bytes: int, tmp_dir: Path) -> Fields:
    fields = Fields()
    pairs: list[tuple[str, str]] = []
    parts = 0

    def within_limit() -> None:
        # Every byte read off the wire counts, part headers and empty parts too: a chunked
        # body has no Content-Length to be refused by.
        if request.content.total_bytes > max_bytes:
            raise TooLarge(f"the request is larger than {max_bytes} bytes")

    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            within_limit()
            parts += 1
            if parts > MAX_PARTS:
                raise Invalid([f"a multipart body of more than {MAX_PARTS} parts is not read"])
            if not isinstance(part, aiohttp.BodyPartReader):
                raise Invalid(["nested multipart bodies are not read"])
            name = (part.name or "").strip()
            if part.filename is not None:
                if name in fields.files:
                    raise Invalid([f"{name} is given twice: one file a field"])
                tmp_dir.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
                path, size = Path(tmp), 0
                fields.temporary.append(path)
                with os.fdopen(fd, "wb") as out:
                    while chunk := await part.read_chunk(CHUNK):
                        within_limit()
                        size += len(chunk)
                        out.write(chunk)
                fields.files[name] = Upload(part.filename.strip(), path, size)
                continue
            raw = bytearray()
            while chunk := await part.read_chunk(CHUNK):
                within_limit()
                raw += chunk
            try:
                pairs.append((name, part.decode(bytes(raw)).decode(part.get_charset("utf-8"))))
            except (UnicodeDecodeError, LookupError, RuntimeError):
                raise Invalid([f"field {name!r} is not text"]) from None
        within_limit()
    except (ValueError, HttpProcessingError) as exc:  # aiohttp's words for a broken multipart body
        fields.close()
        raise Invalid([f"the multipart body cannot be read: {exc}"]) from None
    except BaseException:  # refused, too large, the client gone, the disk full: nothing stays
        fields.close()
        raise
    fields.values = _gathered(pairs)
    return fields


def _gathered(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in pairs:
        name, value = name.strip(), value.strip()
        if name in values:
            earlier = values[name]
            values[name] = [*earlier, value] if isinstance(earlier, list) else [earlier, value]
        else:
            values[name] = value
    return values


def _trimmed(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise Invalid([f"the JSON body is nested more than {MAX_DEPTH} deep"])
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [_trimmed(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _trimmed(v, depth + 1) for k, v in value.items()}
    return value
