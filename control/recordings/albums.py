"""Albums as the operator sees them: each number a tenant's recordings use, with its optional
name. An album exists while it has recordings; a name given to a number with none is kept for
when it has."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.errors import Invalid
from control.flow.play import MAX_RECORDING_NUMBER
from control.store.models import Album, Recording
from control.tenants.service import tenant_in
from control.text import display_text_problem

MAX_NAME = 200


@dataclass(frozen=True)
class AlbumInfo:
    tenant_id: str
    number: int
    name: str  # "" when unnamed
    recordings: int
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


async def list_albums(db: async_sessionmaker, tenant_id: str | None = None) -> list[AlbumInfo]:
    """Albums with recordings, and named ones without (0 recordings), by tenant and number."""
    used = select(Recording.tenant_id, Recording.album, func.count().label("n"), func.sum(Recording.seconds)
                  .label("s")).group_by(Recording.tenant_id, Recording.album)
    names = select(Album.tenant_id, Album.number, Album.name)
    if tenant_id is not None:
        used, names = used.where(Recording.tenant_id == tenant_id), names.where(Album.tenant_id == tenant_id)
    async with db() as session:
        if tenant_id is not None:
            await tenant_in(session, tenant_id)
        found = {(t, a): [n, s] for t, a, n, s in await session.execute(used)}
        named = {(t, a): name for t, a, name in await session.execute(names)}
    return [AlbumInfo(t, a, named.get((t, a), ""), *(found.get((t, a)) or (0, 0.0)))
            for t, a in sorted(found.keys() | named.keys())]


async def name_album(db: async_sessionmaker, tenant_id: str, number: int, name: str) -> None:
    """Name an album ("" takes its name away)."""
    name = name.strip()
    problems = []
    if not 1 <= number <= MAX_RECORDING_NUMBER:
        problems.append(f"album: must be a whole number from 1 to {MAX_RECORDING_NUMBER}, not {number}")
    if name and (problem := display_text_problem(name, "name", MAX_NAME)):
        problems.append(problem)
    if problems:
        raise Invalid(problems)
    async with db.begin() as session:
        await tenant_in(session, tenant_id)
        row = await session.get(Album, (tenant_id, number))
        if not name:
            if row is not None:
                await session.delete(row)
        elif row is None:
            session.add(Album(tenant_id=tenant_id, number=number, name=name))
        else:
            row.name = name
