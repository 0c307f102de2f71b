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


class TooLarge(Exception):
    """The body is over the size limit (413)."""


@dataclass(frozen=True)
class Upload:
    filename: str  # as the client named it (trimmed)
    path: Path  # a temporary file holding it; removed by Fields.close()
    size: int


@dataclass
class Fields:
    values: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        """A field as text: None when absent; a list or an object is no text (Invalid)."""
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Invalid([f"{name} must be a single value"])
        return str(value)

    def close(self) -> None:
        for upload in self.files.values():
            upload.path.unlink(missing_ok=True)


async def read_fields(request: web.Request, max_bytes: int, tmp_dir: Path) -> Fields:
    """The request's fields; TooLarge past max_bytes (the whole body), Invalid for a body that
    says it is JSON or a form and is not. The caller closes what it gets."""
    kind = request.content_type
    if not request.body_exists:
        return Fields()
    if request.content_length is not None and request.content_length > max_bytes:
        raise TooLarge()
    if kind == "multipart/form-data":
        return await _multipart(request, max_bytes, tmp_dir)
    body = await _read(request, max_bytes)
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
    if not isinstance(found, dict):
        raise Invalid(["the body must be a JSON object"])
    return Fields({str(k).strip(): _trimmed(v) for k, v in found.items()})


async def _read(request: web.Request, max_bytes: int) -> bytes:
    data = bytearray()
    while chunk := await request.content.read(CHUNK):
        data += chunk
        if len(data) > max_bytes:
            raise TooLarge()
    return bytes(data)


async def _multipart(request: web.Request, max_bytes: int, tmp_dir: Path) -> Fields:
    fields = Fields()
    pairs: list[tuple[str, str]] = []
    total = 0
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, aiohttp.BodyPartReader):
                raise Invalid(["nested multipart bodies are not read"])
            name = (part.name or "").strip()
            if part.filename is not None:
                tmp_dir.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
                path, size = Path(tmp), 0
                fields.files[name] = Upload(part.filename.strip(), path, 0)  # closed if what follows fails
                with os.fdopen(fd, "wb") as out:
                    while chunk := await part.read_chunk(CHUNK):
                        size += len(chunk)
                        total += len(chunk)
                        if total > max_bytes:
                            raise TooLarge()
                        out.write(chunk)
                fields.files[name] = Upload(part.filename.strip(), path, size)
                continue
            raw = bytearray()
            while chunk := await part.read_chunk(CHUNK):
                raw += chunk
                total += len(chunk)
                if total > max_bytes:
                    raise TooLarge()
            try:
                pairs.append((name, part.decode(bytes(raw)).decode(part.get_charset("utf-8"))))
            except (UnicodeDecodeError, LookupError, RuntimeError):
                raise Invalid([f"field {name!r} is not text"]) from None
    except (TooLarge, Invalid):
        fields.close()
        raise
    except (ValueError, HttpProcessingError) as exc:  # aiohttp's words for a broken multipart body
        fields.close()
        raise Invalid([f"the multipart body cannot be read: {exc}"]) from None
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


def _trimmed(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [_trimmed(v) for v in value]
    return value
