"""The album library: recordings numbered by album and sort within a tenant.

A row and its file are kept consistent: the audio is converted to a temporary file first,
renamed to its own name inside the transaction that inserts the row (so a committed row never
names a missing file), and taken away again if that transaction fails. A rejected add leaves
neither. The CLI calls these now; the REST upload and the record branch call them too.
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control.clock import now
from control.errors import Conflict, Invalid, NotFound
from control.flow.play import MAX_RECORDING_NUMBER
from control.recordings.audio import Converted, check_source, convert
from control.store.models import Recording, Tenant

MAX_NAME = 200
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
RECORDING_ID = re.compile(r"[1-9][0-9]{0,17}")
# Two adds taking the next free sort of one album at once (two callers recording) both pick
# the same number; the second finds the slot taken on insert and looks again.
ATTEMPTS = 3


@dataclass(frozen=True)
class RecordingInfo:
    id: str  # a numeric string, as the Voitex upload answers it
    tenant_id: str
    album: int
    sort: int
    name: str
    seconds: float
    bytes: int
    created_at: datetime
    file: str  # `<id>-<digest>.wav`: its name in the data directory and in its URL
    replaced: str | None = None  # the id of the recording this one replaced

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def recordings_dir(data_dir: Path) -> Path:
    return data_dir / "recordings"


def file_name(recording_id: int | str, digest: str) -> str:
    return f"{recording_id}-{digest}.wav"


async def add_recording(db: async_sessionmaker, data_dir: Path, tenant_id: str, album: int, source: Path,
                        sort: int | None = None, name: str | None = None, *, replace: bool = False,
                        label: str | None = None, max_bytes: int | None = None) -> RecordingInfo:
    """Convert `source` (WAV or MP3; it is only read) into the tenant's album at `sort`, or at
    the lowest free sort from 1 when None. A taken sort is a Conflict unless `replace`, which
    deletes the recording there in the same transaction. `label` is how messages and the
    default name call the file (an upload's original name; the source's name by default).
    `max_bytes` bounds the file as given (None: an upload's limit, audio.MAX_BYTES; the record
    branch's own WAV from Asterisk may be larger: an hour of it is 58 MB)."""
    label = label or source.name
    name = _default_name(label) if name is None else name.strip()
    problems = _number_problems("album", album) + (_number_problems("sort", sort) if sort is not None else [])
    problems += _name_problems(name)
    problems += check_source(source, label, max_bytes)[0]
    if problems:
        raise Invalid(problems)
    # The same checks decide inside the transaction; asked first, they spare a conversion
    # whose answer would be no anyway.
    async with db() as session:
        await _slot(session, tenant_id, album, sort, replace)
    directory = recordings_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp.wav")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        converted = await convert(source, tmp, label, max_bytes)
        for attempt in count(1):
            try:
                return await _store(db, directory, tmp, tenant_id, album, sort, name, converted, replace)
            except IntegrityError:
                if attempt >= ATTEMPTS:
                    raise Conflict(f"album {album}: another recording took the slot meanwhile; try again") from None
        raise AssertionError("unreachable")
    finally:
        tmp.unlink(missing_ok=True)


async def list_recordings(db: async_sessionmaker, tenant_id: str | None = None,
                          album: int | None = None) -> list[RecordingInfo]:
    query = select(Recording).order_by(Recording.tenant_id, Recording.album, Recording.sort)
    if tenant_id:
        query = query.where(Recording.tenant_id == tenant_id)
    if album is not None:
        query = query.where(Recording.album == album)
    async with db() as session:
        return [_info(r) for r in (await session.scalars(query)).all()]


async def find_recording(db: async_sessionmaker, tenant_id: str, album: int, sort: int) -> RecordingInfo | None:
    async with db() as session:
        row = await session.scalar(select(Recording).where(
            Recording.tenant_id == tenant_id, Recording.album == album, Recording.sort == sort))
    return _info(row) if row is not None else None


async def remove_recording(db: async_sessionmaker, data_dir: Path, recording_id: str,
                           tenant_id: str | None = None) -> RecordingInfo:
    """Delete the row, then the file (a play resolved just before may still fetch it until
    then). With `tenant_id`, another tenant's recording is not found, never removed."""
    row_id = int(recording_id) if RECORDING_ID.fullmatch(recording_id.strip()) else None
    async with db.begin() as session:
        row = await session.get(Recording, row_id) if row_id is not None else None
        if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
            raise NotFound(f"recording {recording_id} does not exist")
        await session.delete(row)
    (recordings_dir(data_dir) / file_name(row.id, row.digest)).unlink(missing_ok=True)
    return _info(row)


async def _slot(session: AsyncSession, tenant_id: str, album: int, sort: int | None,
                replace: bool) -> tuple[int, Recording | None]:
    """The sort the new recording takes and the recording it replaces, if any."""
    if await session.get(Tenant, tenant_id) is None:
        raise NotFound(f"tenant {tenant_id} does not exist")
    if sort is None:
        taken = set((await session.scalars(select(Recording.sort).where(
            Recording.tenant_id == tenant_id, Recording.album == album))).all())
        return next(n for n in count(1) if n not in taken), None
    there = await session.scalar(select(Recording).where(
        Recording.tenant_id == tenant_id, Recording.album == album, Recording.sort == sort))
    if there is not None and not replace:
        raise Conflict(f"album {album} already has a recording at sort {sort} (id {there.id})")
    return sort, there


async def _store(db: async_sessionmaker, directory: Path, tmp: Path, tenant_id: str, album: int,
                 sort: int | None, name: str, converted: Converted, replace: bool) -> RecordingInfo:
    final: Path | None = None
    try:
        async with db.begin() as session:
            taken, old = await _slot(session, tenant_id, album, sort, replace)
            if old is not None:
                await session.delete(old)
                await session.flush()  # a flush inserts before it deletes: free the slot first
            row = Recording(tenant_id=tenant_id, album=album, sort=taken, name=name, seconds=converted.seconds,
                            bytes=converted.bytes, digest=converted.digest, created_at=now())
            session.add(row)
            await session.flush()  # the id names the file
            final = directory / file_name(row.id, converted.digest)
            os.replace(tmp, final)
    except BaseException:
        if final is not None and final.exists():
            os.replace(final, tmp)  # back where the caller cleans up (or retries from)
        raise
    _fsync_dir(directory)
    if old is not None:
        (directory / file_name(old.id, old.digest)).unlink(missing_ok=True)
    return _info(row, replaced=str(old.id) if old is not None else None)


def _info(row: Recording, replaced: str | None = None) -> RecordingInfo:
    return RecordingInfo(str(row.id), row.tenant_id, row.album, row.sort, row.name, row.seconds, row.bytes,
                         row.created_at, file_name(row.id, row.digest), replaced)


def _number_problems(what: str, value: object) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RECORDING_NUMBER:
        return [f"{what}: must be a whole number from 1 to {MAX_RECORDING_NUMBER}, not {value!r}"]
    return []


def _name_problems(name: str) -> list[str]:
    if not name:
        return ["name: must not be empty"]
    if len(name) > MAX_NAME:
        return [f"name: {len(name)} characters, more than the {MAX_NAME} allowed"]
    if CONTROL.search(name):
        return ["name: must not hold control characters"]
    return []


def _default_name(label: str) -> str:
    """The file's stem, made to pass the checks a name given on purpose must pass."""
    stem = CONTROL.sub(" ", Path(label).stem).strip()[:MAX_NAME].strip()
    return stem or "recording"


def _fsync_dir(directory: Path) -> None:
    # The rename is on disk too: a crash after the commit must not lose the file's name.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
