"""The album library: recordings numbered by album and sort within a tenant.

A row and its file are kept consistent: the audio is converted to a temporary file first (a
take from Asterisk already in shape is that file itself), renamed to its own name inside the
transaction that inserts the row (so a committed row never names a missing file), and taken
away again if that transaction fails. A rejected add leaves neither. The CLI calls these now;
the REST upload and the record branch call them too.
"""
from __future__ import annotations

import asyncio
import os
import random
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from pathlib import Path

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control.clock import now
from control.errors import Conflict, Invalid, NotFound
from control.files import fsync_dir
from control.flow.play import MAX_RECORDING_NUMBER
from control.recordings.audio import Converted, check_source, convert, measure
from control.store.models import Recording
from control.tenants.service import is_tenant_id, tenant_id_or_not_found, tenant_in
from control.text import display_text_problem, is_refused

MAX_NAME = 200
# Ids are the table's int32 (on PostgreSQL): one past it is no recording, never a query.
MAX_ID = 2**31 - 1
RECORDING_ID = re.compile(r"[1-9][0-9]{0,9}")
# Adds taking the next free sort of one album at once (callers recording, uploads) pick the
# same number; each loser finds the slot taken on insert and looks again, after a random
# pause so that they do not collide again in step. Enough attempts that a burst of a dozen
# concurrent uploads to one album all land.
ATTEMPTS = 12


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
                        label: str | None = None, max_bytes: int | None = None,
                        native_seconds: float | None = None) -> RecordingInfo:
    """Convert `source` (WAV or MP3; it is only read, but see `native_seconds`) into the
    tenant's album at `sort`, or at the lowest free sort from 1 when None. A taken sort is a
    Conflict unless `replace`, which deletes the recording there in the same transaction. `label` is how messages and the
    default name call the file (an upload's original name; the source's name by default).
    `max_bytes` bounds the file as given (None: an upload's limit, audio.MAX_BYTES; the record
    branch's own WAV from Asterisk may be larger: an hour of it is 58 MB).
    `native_seconds`: the source is a temporary file of the caller's in the library's
    directory, already in the library's shape (audio.wav_header said so) and lasting that
    long: it is moved into the library as it is, not converted (a take from Asterisk)."""
    label = label or source.name
    name = _default_name(label) if name is None else name.strip()
    problems = _number_problems("album", album) + (_number_problems("sort", sort) if sort is not None else [])
    problems += _name_problems(name)
    source_problems, kind = check_source(source, label, max_bytes)
    if problems or source_problems:
        raise Invalid(problems + source_problems)
    assert kind is not None
    directory = recordings_dir(data_dir)
    if native_seconds is not None:
        tmp = source
    else:
        # The checks that decide inside the transaction, asked first, spare a conversion
        # whose answer would be no anyway: the tenant, and the slot when one is given.
        async with db() as session:
            if sort is None:
                await tenant_in(session, tenant_id)
            else:
                await _slot(session, tenant_id, album, sort, replace)
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp.wav")
        os.close(fd)
        tmp = Path(tmp_name)
    try:
        if native_seconds is not None:
            converted = await asyncio.to_thread(measure, tmp, native_seconds, label)
        else:
            converted = await convert(source, kind, tmp, label)
        attempt = 1
        while True:
            try:
                return await _store(db, directory, tmp, tenant_id, album, sort, name, converted, replace)
            except IntegrityError:
                if attempt == ATTEMPTS:
                    raise Conflict(f"album {album}: another recording took the slot meanwhile; try again") from None
                attempt += 1
                await asyncio.sleep(random.uniform(0, 0.02 * attempt))
    finally:
        tmp.unlink(missing_ok=True)


async def list_recordings(db: async_sessionmaker, tenant_id: str | None = None,
                          album: int | None = None) -> list[RecordingInfo]:
    if album is not None and not _in_range(album):
        return []  # no album holds it, and the column could not hold it either
    query = select(Recording).order_by(Recording.tenant_id, Recording.album, Recording.sort)
    if tenant_id:
        if not is_tenant_id(tenant_id):
            return []  # no tenant has such an id: nothing to ask the database
        query = query.where(Recording.tenant_id == tenant_id)
    if album is not None:
        query = query.where(Recording.album == album)
    async with db() as session:
        return [_info(r) for r in (await session.scalars(query)).all()]


async def find_recording(db: async_sessionmaker, tenant_id: str, album: int, sort: int) -> RecordingInfo | None:
    if not (_in_range(album) and _in_range(sort)):
        return None
    async with db() as session:
        row = await session.scalar(_at(tenant_id, album, sort))
    return _info(row) if row is not None else None


async def remove_recording(db: async_sessionmaker, data_dir: Path, recording_id: str | None,
                           tenant_id: str | None = None, *, album: int | None = None,
                           sort: int | None = None) -> RecordingInfo:
    """Delete the row, then the file (a play resolved just before may still fetch it until
    then): recording `recording_id`, or (None) the one at `album` and `sort` of `tenant_id`.
    With `tenant_id`, another tenant's recording is not found, never removed."""
    async with db.begin() as session:
        if recording_id is None:
            if tenant_id is None or album is None or sort is None:
                raise ValueError("a recording id, or a tenant, an album and a sort")
            tenant_id_or_not_found(tenant_id)
            row = await session.scalar(_at(tenant_id, album, sort)) if _in_range(album) and _in_range(sort) else None
            if row is None:
                raise NotFound(f"album {album} of {tenant_id} has no recording at sort {sort}")
        else:
            text = recording_id.strip()
            row_id = int(text) if RECORDING_ID.fullmatch(text) and int(text) <= MAX_ID else None
            row = await session.get(Recording, row_id) if row_id is not None else None
            if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
                raise NotFound(f"recording {recording_id} does not exist")
        await session.delete(row)
    (recordings_dir(data_dir) / file_name(row.id, row.digest)).unlink(missing_ok=True)
    return _info(row)


def _at(tenant_id: str, album: int, sort: int) -> Select[tuple[Recording]]:
    return select(Recording).where(Recording.tenant_id == tenant_id, Recording.album == album, Recording.sort == sort)


async def _slot(session: AsyncSession, tenant_id: str, album: int, sort: int | None,
                replace: bool) -> tuple[int, Recording | None]:
    """The sort the new recording takes and the recording it replaces, if any."""
    await tenant_in(session, tenant_id)
    if sort is None:
        taken = set((await session.scalars(select(Recording.sort).where(
            Recording.tenant_id == tenant_id, Recording.album == album))).all())
        return next(n for n in count(1) if n not in taken), None
    there = await session.scalar(_at(tenant_id, album, sort))
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
    fsync_dir(directory)  # a crash after the commit must not lose the file's name
    if old is not None:
        (directory / file_name(old.id, old.digest)).unlink(missing_ok=True)
    return _info(row, replaced=str(old.id) if old is not None else None)


def _info(row: Recording, replaced: str | None = None) -> RecordingInfo:
    return RecordingInfo(str(row.id), row.tenant_id, row.album, row.sort, row.name, row.seconds, row.bytes,
                         row.created_at, file_name(row.id, row.digest), replaced)


def _in_range(number: int) -> bool:
    return 1 <= number <= MAX_RECORDING_NUMBER


def _number_problems(what: str, value: object) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int) or not _in_range(value):
        return [f"{what}: must be a whole number from 1 to {MAX_RECORDING_NUMBER}, not {value!r}"]
    return []


def _name_problems(name: str) -> list[str]:
    problem = display_text_problem(name, "name", MAX_NAME)
    return [problem] if problem else []


def _default_name(label: str) -> str:
    """The file's stem, made to pass the checks a name given on purpose must pass."""
    stem = "".join(" " if is_refused(c) else c for c in Path(label).stem)
    return stem.strip()[:MAX_NAME].strip() or "recording"
