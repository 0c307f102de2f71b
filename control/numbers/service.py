from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.clock import now
from control.errors import Conflict, Invalid, NotFound
from control.numbers.phone import to_e164
from control.store.models import Number
from control.tenants.service import tenant_in


def parse_number(text: str) -> str:
    try:
        return to_e164(text)
    except ValueError as exc:
        raise Invalid([f"number: {exc}"]) from None


async def add_number(db: async_sessionmaker, text: str, tenant_id: str) -> Number:
    e164 = parse_number(text)
    async with db.begin() as session:
        await tenant_in(session, tenant_id)
        if await session.get(Number, e164) is not None:
            raise Conflict(f"number {e164} is already provisioned")
        number = Number(e164=e164, tenant_id=tenant_id, created_at=now())
        session.add(number)
    return number


async def remove_number(db: async_sessionmaker, text: str) -> None:
    e164 = parse_number(text)
    async with db.begin() as session:
        number = await session.get(Number, e164)
        if number is None:
            raise NotFound(f"number {e164} is not provisioned")
        await session.delete(number)


async def list_numbers(db: async_sessionmaker, tenant_id: str | None = None) -> list[Number]:
    query = select(Number).order_by(Number.e164)
    if tenant_id:
        query = query.where(Number.tenant_id == tenant_id)
    async with db() as session:
        return list((await session.scalars(query)).all())
