from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.clock import now
from control.errors import Invalid
from control.store.models import Tenant


@dataclass(frozen=True)
class CreatedTenant:
    id: str
    name: str
    auth_key: str  # shown once; only its hash is stored


def hash_key(key: str) -> str:
    # Keys are 32 random bytes, so a plain digest is enough (no dictionary to attack).
    return hashlib.sha256(key.encode()).hexdigest()


async def create_tenant(db: async_sessionmaker, name: str) -> CreatedTenant:
    name = name.strip()
    if not name:
        raise Invalid(["name: must not be empty"])
    created = CreatedTenant(f"ten_{secrets.token_hex(8)}", name, secrets.token_urlsafe(32))
    async with db.begin() as session:
        session.add(Tenant(id=created.id, name=name, key_hash=hash_key(created.auth_key), created_at=now()))
    return created


async def list_tenants(db: async_sessionmaker) -> list[Tenant]:
    async with db() as session:
        return list((await session.scalars(select(Tenant).order_by(Tenant.created_at))).all())


async def tenant_for_key(db: async_sessionmaker, key: str) -> Tenant | None:
    async with db() as session:
        return await session.scalar(select(Tenant).where(Tenant.key_hash == hash_key(key)))
