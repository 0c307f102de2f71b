from __future__ import annotations

import functools
import hashlib
import re
import secrets
import zoneinfo
from dataclasses import dataclass
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control.clock import now
from control.errors import Invalid, NotFound
from control.store.models import Tenant, Trunk
from control.text import display_text_problem
from control.trunks import validate

# The prefix tells a signing secret from an Auth-Key at a glance (in a config file, in a leak).
SECRET_PREFIX = "whsec_"
DEFAULT_TIMEZONE = "UTC"
MAX_TIMEZONE = 64  # the column's length; IANA names are far shorter
MAX_NAME = 200  # the column's length
# The one shape create_tenant gives an id: anything else names no tenant, and is said so
# before any query (PostgreSQL refuses a NUL in text outright, as an error, not "no row").
TENANT_ID = re.compile(r"ten_[0-9a-f]{16}")
MAX_SHOWN_ID = 40  # the column's length: how much of an id that is none an error repeats
# Calling codes are 1 to 3 digits (E.164); a longer run of digits is none, and never reaches int().
MAX_CALLING_CODE = 3
MAX_SHOWN_ITEM, MAX_PROBLEMS = 20, 10  # how much of a bad --allow-countries an error repeats
# In the tzdata package's list but no place's time: "-00", for a machine not yet set up.
NOT_A_PLACE = frozenset({"Factory"})
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
    # surrogateescape: a header of bytes that are not UTF-8 reaches us as lone surrogates; it
    # is a wrong key (401), not a failure.
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def new_auth_key() -> str:
    return secrets.token_urlsafe(32)


def new_signing_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


@functools.cache
def iana_timezones() -> frozenset[str]:
    """The zone names of the IANA database, as the tzdata package lists them: not whatever
    ZoneInfo finds on this host (its own `localtime`, `posixrules`, the `posix/` and `right/`
    copies), which another host (a slim container) may not have."""
    try:
        names = frozenset(resources.files("tzdata").joinpath("zones").read_text("utf-8").split())
    except (ImportError, OSError):  # no tzdata package: the system's database, without its extras
        names = frozenset(zoneinfo.available_timezones()) - {"localtime", "posixrules"}
    return names - NOT_A_PLACE


def check_timezone(name: str) -> str:
    """The IANA time zone name as given, or Invalid: checked against the zone database here,
    so a call never finds out mid-webhook that its tenant's zone does not exist."""
    name = name.strip()
    try:
        if len(name) > MAX_TIMEZONE or name not in iana_timezones():
            raise ValueError
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        quoted = repr(name[:MAX_TIMEZONE]) + ("..." if len(name) > MAX_TIMEZONE else "")
        raise Invalid([f"timezone: {quoted} is not an IANA time zone name (like UTC or America/New_York)"]) from None
    return name


def is_tenant_id(text: str) -> bool:
    """Whether text has the shape of a tenant id (`ten_` and 16 hex digits): one that has
    not may be refused as not found without asking the database."""
    return isinstance(text, str) and TENANT_ID.fullmatch(text) is not None


def no_tenant(tenant_id: str) -> NotFound:
    # What was typed may hold controls or be a megabyte: then quoted (repr), and cut short.
    shown = tenant_id if tenant_id.isprintable() and len(tenant_id) <= MAX_SHOWN_ID else \
        repr(tenant_id[:MAX_SHOWN_ID]) + ("..." if len(tenant_id) > MAX_SHOWN_ID else "")
    return NotFound(f"tenant {shown} does not exist")


def tenant_id_or_not_found(tenant_id: str) -> str:
    """tenant_id when it may name a tenant, else NotFound before any query: the check every
    lookup by a tenant id given from outside (CLI options, API paths) makes first."""
    if not is_tenant_id(tenant_id):
        raise no_tenant(tenant_id)
    return tenant_id


async def tenant_in(session: AsyncSession, tenant_id: str) -> Tenant:
    """The tenant in this session (to read or change it), or NotFound."""
    found = await session.get(Tenant, tenant_id_or_not_found(tenant_id))
    if found is None:
        raise no_tenant(tenant_id)
    return found


async def create_tenant(db: async_sessionmaker, name: str, timezone: str = DEFAULT_TIMEZONE) -> CreatedTenant:
    name = name.strip()
    problem = display_text_problem(name, "name", MAX_NAME)
    problems = [problem] if problem else []
    try:
        timezone = check_timezone(timezone)
    except Invalid as exc:
        problems += exc.errors
    if problems:
        raise Invalid(problems)
    created = CreatedTenant(f"ten_{secrets.token_hex(8)}", name, new_auth_key(), timezone, new_signing_secret())
    async with db.begin() as session:
        session.add(Tenant(id=created.id, name=name, key_hash=hash_key(created.auth_key), created_at=now(),
                           timezone=timezone, signing_secret=created.signing_secret))
    return created


async def list_tenants(db: async_sessionmaker) -> list[Tenant]:
    async with db() as session:
        return list((await session.scalars(select(Tenant).order_by(Tenant.created_at))).all())


async def get_tenant(db: async_sessionmaker, tenant_id: str) -> Tenant:
    async with db() as session:
        return await tenant_in(session, tenant_id)


async def set_timezone(db: async_sessionmaker, tenant_id: str, timezone: str) -> Tenant:
    timezone = check_timezone(timezone)
    async with db.begin() as session:
        found = await tenant_in(session, tenant_id)
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
        if (item.isascii() and item.isdigit() and len(item) <= MAX_CALLING_CODE
                and int(item) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
            found.add(str(int(item)))
        elif item.upper() in phonenumbers.SUPPORTED_REGIONS:
            found.add(item.upper())
        else:
            quoted = repr(item[:MAX_SHOWN_ITEM]) + ("..." if len(item) > MAX_SHOWN_ITEM else "")
            problems.append(f"allow_countries: {quoted} is neither a region (like US) nor a calling code (like 44)")
    if len(problems) > MAX_PROBLEMS:  # a list of thousands of bad entries: the first few say enough
        problems[MAX_PROBLEMS:] = [f"allow_countries: and {len(problems) - MAX_PROBLEMS} more entries like these"]
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
        found = await tenant_in(session, tenant_id)
        if outbound_trunk not in (KEEP, None) and not await _trunk_exists(session, outbound_trunk):
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


async def _trunk_exists(session: AsyncSession, name: str) -> bool:
    try:
        validate.name(name)  # a name no trunk can have (a NUL, 65 characters) is not looked up
    except ValueError:
        return False
    return await session.get(Trunk, name) is not None


async def rotate_secret(db: async_sessionmaker, tenant_id: str) -> str:
    """A new signing secret, in force for new webhooks as soon as route caches refresh (2 s);
    calls that start from then on sign with it (a call under way keeps the one it started with). Returned once: the caller shows it."""
    secret = new_signing_secret()
    async with db.begin() as session:
        found = await tenant_in(session, tenant_id)
        found.signing_secret = secret
    return secret


async def rotate_key(db: async_sessionmaker, tenant_id: str) -> str:
    """A new Auth-Key; the old one stops working with this commit (every request looks its key
    up: no cache keeps it alive, on this node or another). Returned once: the caller shows it."""
    key = new_auth_key()
    async with db.begin() as session:
        found = await tenant_in(session, tenant_id)
        found.key_hash = hash_key(key)
    return key


async def tenant_for_key(db: async_sessionmaker, key: str) -> Tenant | None:
    async with db() as session:
        return await session.scalar(select(Tenant).where(Tenant.key_hash == hash_key(key)))
