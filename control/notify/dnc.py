"""The tenant's do-not-call list (`voicectl dnc`, POST /notify/dnc/) and its SMS opt-outs
(STOP and START texted to its numbers)."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control.clock import now
from control.contacts.service import parts
from control.errors import Invalid
from control.numbers.recipients import PhoneRefused, recipient_e164
from control.store.models import DoNotCall, SmsOptOut
from control.tenants.service import tenant_in

MAX_PHONES = 10_000
# CTIA's standard keywords: a message that is one of them, whatever its case and spacing.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_WORDS = frozenset({"START", "UNSTOP", "YES", "OPTIN"})


def parse_list(text: str | None, where: str = "phones") -> list[str]:
    """Comma-separated phones as E.164, each once; every one must be a phone number."""
    given = parts(text)
    if not given:
        raise Invalid([f"{where}: give one or more phone numbers, comma-separated"])
    if len(given) > MAX_PHONES:
        raise Invalid([f"{where}: at most {MAX_PHONES} numbers a request"])
    found: dict[str, None] = {}
    refused: list[str] = []
    for part in given:
        try:
            found[recipient_e164(part)] = None
        except PhoneRefused as exc:
            refused.append(f"{part[:40]} ({exc.reason})")
    if refused:
        raise Invalid([f"{where}: not phone numbers: {', '.join(refused[:10])}"
                       + (f" and {len(refused) - 10} more" if len(refused) > 10 else "")])
    return list(found)


async def _add(session: AsyncSession, table: type[DoNotCall] | type[SmsOptOut], tenant_id: str,
               phones: Iterable[str], at: datetime) -> None:
    rows = [{"tenant_id": tenant_id, "phone": p, "created_at": at} for p in phones]
    if not rows:
        return
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(table).on_conflict_do_nothing(), rows)  # type: ignore[arg-type]


async def add(db: async_sessionmaker, tenant_id: str, phones: list[str]) -> int:
    """Put phones on the list (those already on it stay as they are); how many the list holds now."""
    async with db.begin() as session:
        await tenant_in(session, tenant_id)
        await _add(session, DoNotCall, tenant_id, phones, now())
    return len(phones)


async def remove(db: async_sessionmaker, tenant_id: str, phones: list[str]) -> int:
    """Take phones off the list; how many were on it."""
    async with db.begin() as session:
        await tenant_in(session, tenant_id)
        done = await session.execute(delete(DoNotCall).where(DoNotCall.tenant_id == tenant_id,
                                                             DoNotCall.phone.in_(phones)))
    return int(done.rowcount or 0)


async def listed(db: async_sessionmaker, tenant_id: str) -> list[str]:
    async with db() as session:
        await tenant_in(session, tenant_id)
        return list(await session.scalars(select(DoNotCall.phone).where(DoNotCall.tenant_id == tenant_id)
                                          .order_by(DoNotCall.phone)))


def keyword(body: str) -> str | None:
    """"stop" or "start" for a message that is only such a keyword, else None."""
    word = "".join(body.split()).upper().strip(".!")
    return "stop" if word in STOP_WORDS else "start" if word in START_WORDS else None


async def opt(session: AsyncSession, tenant_id: str, phone: str, word: str) -> None:
    """Apply a STOP or START texted by `phone` to one of the tenant's numbers."""
    if word == "stop":
        await _add(session, SmsOptOut, tenant_id, [phone], now())
    else:
        await session.execute(delete(SmsOptOut).where(SmsOptOut.tenant_id == tenant_id, SmsOptOut.phone == phone))


async def opted_out(db: async_sessionmaker, tenant_id: str) -> list[str]:
    async with db() as session:
        return list(await session.scalars(select(SmsOptOut.phone).where(SmsOptOut.tenant_id == tenant_id)
                                          .order_by(SmsOptOut.phone)))
