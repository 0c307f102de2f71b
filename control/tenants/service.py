from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.clock import now
from control.errors import Invalid, NotFound
from control.store.models import Tenant, Trunk

# The prefix tells a signing secret from an Auth-Key at a glance (in a config file, in a leak).
SECRET_PREFIX = "whsec_"
DEFAULT_TIMEZONE = "UTC"
MAX_TIMEZONE = 64  # the column's length; IANA names are far shorter
KEEP: Any = object()  # update_tenant: leave this setting as it is


@dataclass(frozen=True)
class CreatedTenant:
    id: str
    name: str
    auth_key: str  # shown once; only its hash is stored
    timezone: str
    signing_secret: str  # shown once by the CLI (kept, since signing needs it; rotate to replace)


def hash_key(key: str) -> str:
    # Keys are 32 random bytes, so a plain digest is enough (no dictionary to attack).
    return hashlib.sha256(key.encode()).hexdigest()


def new_signing_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def check_timezone(name: str) -> str:
    """The IANA time zone name as given, or Invalid: checked against the zone database here,
    so a call never finds out mid-webhook that its tenant's zone does not exist."""
    name = name.strip()
    try:
        if len(name) > MAX_TIMEZONE:
            raise ValueError
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid([f"timezone: {name!r} is not an IANA time zone name (like UTC or America/New_York)"]) from None
    return name


async def create_tenant(db: async_sessionmaker, name: str, timezone: str = DEFAULT_TIMEZONE) -> CreatedTenant:
    name = name.strip()
    problems = [] if name else ["name: must not be empty"]
    try:
        timezone = check_timezone(timezone)
    except Invalid as exc:
        problems += exc.errors
    if problems:
        raise Invalid(problems)
    created = CreatedTenant(f"ten_{secrets.token_hex(8)}", name, secrets.token_urlsafe(32), timezone,
                            new_signing_secret())
    async with db.begin() as session:
        session.add(Tenant(id=created.id, name=name, key_hash=hash_key(created.auth_key), created_at=now(),
                           timezone=timezone, signing_secret=created.signing_secret))
    return created


async def list_tenants(db: async_sessionmaker) -> list[Tenant]:
    async with db() as session:
        return list((await session.scalars(select(Tenant).order_by(Tenant.created_at))).all())


async def get_tenant(db: async_sessionmaker, tenant_id: str) -> Tenant:
    async with db() as session:
        found = await session.get(Tenant, tenant_id)
    if found is None:
        raise NotFound(f"tenant {tenant_id} does not exist")
    return found


async def set_timezone(db: async_sessionmaker, tenant_id: str, timezone: str) -> Tenant:
    timezone = check_timezone(timezone)
    async with db.begin() as session:
        found = await session.get(Tenant, tenant_id)
        if found is None:
            raise NotFound(f"tenant {tenant_id} does not exist")
        found.timezone = timezone
    return found


def parse_countries(text: str) -> list[str] | None:
    """`--allow-countries`: regions and country calling codes, comma-separated ("US,CA,44",
    "+44"); a code means every region that shares it (1: the US, Canada and the Caribbean).
    "default" (None: the regions of the tenant's own numbers, as they are when a call
    transfers); "none" ([]: no phone number at all). Invalid lists every entry that is none."""
    text = text.strip()
    if text.lower() == "default":
        return None
    if text.lower() == "none":
        return []
    found: set[str] = set()
    problems = []
    for raw in text.split(","):
        item = raw.strip().removeprefix("+")
        if item.isascii() and item.isdigit() and int(item) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            found.add(str(int(item)))
        elif item.upper() in phonenumbers.SUPPORTED_REGIONS:
            found.add(item.upper())
        else:
            problems.append(f"allow_countries: {item!r} is neither a region (like US) nor a calling code (like 44)")
    if problems:
        raise Invalid(problems)
    return sorted(found)


async def update_tenant(db: async_sessionmaker, tenant_id: str, *, timezone: str | None = None,
                        outbound_trunk: str | None = KEEP, allowed_countries: list[str] | None = KEEP) -> Tenant:
    """Change any of a tenant's settings at once, all checked first (nothing is changed when
    one is refused). outbound_trunk: a trunk's name, or None for none; allowed_countries: codes,
    or None for the default (the tenant's numbers' codes). New calls see it within seconds."""
    problems: list[str] = []
    if timezone is not None:
        try:
            timezone = check_timezone(timezone)
        except Invalid as exc:
            problems += exc.errors
    async with db.begin() as session:
        found = await session.get(Tenant, tenant_id)
        if found is None:
            raise NotFound(f"tenant {tenant_id} does not exist")
        if outbound_trunk not in (KEEP, None) and await session.get(Trunk, outbound_trunk) is None:
            problems.append(f"outbound_trunk: there is no trunk {outbound_trunk!r} (voicectl trunk list)")
        if problems:
            raise Invalid(problems)
        if timezone is not None:
            found.timezone = timezone
        if outbound_trunk is not KEEP:
            found.outbound_trunk = outbound_trunk
        if allowed_countries is not KEEP:
            found.allowed_countries = allowed_countries
    return found


async def rotate_secret(db: async_sessionmaker, tenant_id: str) -> str:
    """A new signing secret, in force for new webhooks as soon as route caches refresh (2 s);
    calls that start from then on sign with it (a call under way keeps the one it started with). Returned once: the caller shows it."""
    secret = new_signing_secret()
    async with db.begin() as session:
        found = await session.get(Tenant, tenant_id)
        if found is None:
            raise NotFound(f"tenant {tenant_id} does not exist")
        found.signing_secret = secret
    return secret


async def tenant_for_key(db: async_sessionmaker, key: str) -> Tenant | None:
    async with db() as session:
        return await session.scalar(select(Tenant).where(Tenant.key_hash == hash_key(key)))
