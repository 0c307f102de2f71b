"""Where a transfer may dial: the TransferTargets port (control/flow/ports.py) over the tenant's
settings, its numbers and the trunks.

- A phone number (E.164, or 10-digit NANP) goes through the tenant's outbound trunk
  (`voicectl tenant set ID --outbound-trunk NAME`; none set: refused), and only where the
  tenant allows (`--allow-countries US,CA,44`: regions, or calling codes meaning every region
  that shares them; by default the regions of the tenant's own numbers, so a US tenant does
  not reach Jamaica's +1 876 unless told to). Premium-rate, shared-cost, personal and UAN
  numbers are never dialled. A number is dialled as `PJSIP/<E.164>@<trunk>`.
- A `sip:user@host[:port]` URI must name the tenant's outbound trunk's target host (and port,
  when it names one): trunks are not yet tenants' own, so another trunk's credentials are
  never used. The user part is a name (a letter first, at most two digits) dialled as it is,
  or else a phone number (`sip:+442079460000@carrier`, `sip:.44...`: what a carrier routes to
  the phone network), checked as one and dialled as its E.164 form.
- Everything is checked after `${variable}` expansion: a webhook's variables cannot send a
  call anywhere the tenant's settings do not allow. A refused target is never dialled.

What a tenant may dial is read once per tenant every TTL_S (one read of the tenant with its
outbound trunk, and of its numbers when it has set no countries), like inbound routes
(control/ivrs/routes.py): a burst of transfers costs no database round trip, and a change made
with the CLI reaches calls within TTL_S.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, TypeVar

import phonenumbers
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.flow.dial import PhoneTarget, is_sip, parse_phone, parse_sip
from control.flow.channel import DialTarget
from control.flow.ports import TransferRefused
from control.store.models import Number, Tenant, Trunk
from control.ttl import TtlMap

TTL_S = 2.0
T = TypeVar("T")


@dataclass(frozen=True)
class TrunkTarget:
    name: str
    host: str
    port: int


@dataclass(frozen=True)
class DialPolicy:
    """What one tenant's transfers may dial."""

    outbound_trunk: str | None  # its name, as set on the tenant
    allowed: frozenset[str]  # regions ("US") and calling codes ("44": every region sharing it)
    countries_set: bool  # set on the tenant (else: its numbers' regions)
    outbound: TrunkTarget | None  # that trunk; None when none is set, or it no longer exists


# Numbers whose cost the callee sets (or that follow someone anywhere): the classic fraud targets.
NEVER_DIALLED = {phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium-rate",
                 phonenumbers.PhoneNumberType.SHARED_COST: "shared-cost",
                 phonenumbers.PhoneNumberType.PERSONAL_NUMBER: "personal",
                 phonenumbers.PhoneNumberType.UAN: "universal access"}


def regions_of(numbers: Iterable[str]) -> frozenset[str]:
    """The regions of E.164 numbers (a number that does not parse is left out)."""
    codes = set()
    for number in numbers:
        try:
            codes.add(phonenumbers.region_code_for_number(phonenumbers.parse(number, None)))
        except phonenumbers.NumberParseException:
            continue
    return frozenset(codes)


async def load_policy(db: async_sessionmaker, tenant_id: str) -> DialPolicy:
    async with db() as session:
        found = (await session.execute(
            select(Tenant.outbound_trunk, Tenant.allowed_countries, Trunk.target_host, Trunk.target_port)
            .outerjoin(Trunk, Trunk.name == Tenant.outbound_trunk).where(Tenant.id == tenant_id))).first()
        if found is None:
            raise TransferRefused(f"tenant {tenant_id or '(none)'} does not exist")
        name, allowed, host, port = found
        if allowed is None:
            countries = regions_of((await session.scalars(
                select(Number.e164).where(Number.tenant_id == tenant_id))).all())
        else:
            countries = frozenset(str(c) for c in allowed)
    outbound = TrunkTarget(name, host, port) if host is not None else None
    return DialPolicy(name, countries, allowed is not None, outbound)


def plan(to: str, policy: DialPolicy) -> DialTarget:
    """The dial target for `to` under the tenant's policy, or TransferRefused saying why."""
    if is_sip(to):
        return _sip(to, policy)
    phone = _phone(to, policy)
    if policy.outbound_trunk is None:
        raise TransferRefused("the tenant has no outbound trunk (voicectl tenant set ID --outbound-trunk NAME)")
    if policy.outbound is None:
        raise TransferRefused(f"the tenant's outbound trunk {policy.outbound_trunk} does not exist")
    trunk = policy.outbound.name
    return DialTarget(f"PJSIP/{phone.e164}@{trunk}", phone.e164, trunk)


def _sip(to: str, policy: DialPolicy) -> DialTarget:
    sip = _parsed(parse_sip, to)
    trunk = policy.outbound
    if trunk is None:
        raise TransferRefused(f"{sip.uri}: the tenant has no outbound trunk, whose host a sip: URI must name")
    if trunk.host != sip.host or sip.port not in (None, trunk.port):
        where = sip.uri.partition("@")[2]
        raise TransferRefused(f"{sip.uri}: {where} is not the tenant's outbound trunk ({trunk.name})")
    if sip.is_name:
        return DialTarget(f"PJSIP/{sip.user}@{trunk.name}", sip.uri, trunk.name)
    try:
        phone = _phone(sip.user, policy)
    except TransferRefused as exc:
        raise TransferRefused(f"{sip.uri}: a user part that is not a name is dialled as a phone number: {exc}") from None
    return DialTarget(f"PJSIP/{phone.e164}@{trunk.name}", sip.uri, trunk.name)


def _phone(text: str, policy: DialPolicy) -> PhoneTarget:
    phone = _parsed(parse_phone, text)
    if phone.kind in NEVER_DIALLED:
        raise TransferRefused(f"{phone.e164} is a {NEVER_DIALLED[phone.kind]} number: never dialled")
    if str(phone.country_code) not in policy.allowed and phone.region not in policy.allowed:
        allowed = ", ".join(sorted(_shown(a) for a in policy.allowed)) or "none"
        source = "" if policy.countries_set else ", those of its numbers"
        raise TransferRefused(f"{phone.e164} ({phone.region or 'no region'}, +{phone.country_code}) is not allowed "
                              f"for this tenant (allowed: {allowed}{source})")
    return phone


def _parsed(parse: Callable[[str], T], text: str) -> T:
    """What `parse` makes of text; its ValueError as the refusal."""
    try:
        return parse(text)
    except ValueError as exc:
        raise TransferRefused(str(exc)) from None


def _shown(entry: str) -> str:
    return f"+{entry}" if entry.isdigit() else entry


class DialTargets:
    """TransferTargets for live calls: policies cached per tenant for `ttl_s`."""

    def __init__(self, db: async_sessionmaker, ttl_s: float = TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._entries: TtlMap[str, DialPolicy] = TtlMap(ttl_s, clock)

    async def target(self, to: str, tenant_id: str) -> DialTarget:
        return plan(to, await self.policy(tenant_id))

    async def policy(self, tenant_id: str) -> DialPolicy:
        return await self._entries.get_or_load(tenant_id, lambda: load_policy(self._db, tenant_id))
