"""IVR documents per number: validated whole before anything is written."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control.clock import now
from control.errors import Invalid, NotFound
from control.flow.branches.goto import GotoBranch
from control.flow.branches.trigger import TriggerBranch
from control.flow.document import Ivr, IvrInvalid, parse_ivr
from control.flow.ports import TenantView
from control.numbers.phone import to_e164
from control.numbers.service import parse_number
from control.settings import Settings
from control.store.models import Ivr as IvrRow
from control.store.models import Number, Tenant
from control.webhooks.policy import WebhookPolicy


@dataclass(frozen=True)
class Route:
    """What an inbound call to a number runs."""

    number: str
    tenant_id: str
    ivr: Ivr | None
    ivr_version: datetime | None = None  # when the IVR was stored: the same time, the same IVR
    # Read with the route, in the same query: a call needs the tenant's time zone and signing
    # secret for its webhooks, and gets them without another round trip. Being part of the
    # route, a new secret or time zone reaches new calls when the route cache refreshes.
    tenant: TenantView = TenantView()


async def import_ivr(db: async_sessionmaker, number_text: str, document: Any,
                     policy: WebhookPolicy | None = None) -> Ivr:
    """Store `document` as the IVR of a provisioned number. `policy`: where webhooks may go;
    without one, the policy this process's settings make (built only for a document that has
    webhooks)."""
    e164 = parse_number(number_text)
    try:
        ivr = parse_ivr(document)
    except IvrInvalid as exc:
        raise Invalid(exc.errors) from None
    if policy is None and any(isinstance(b, TriggerBranch) for b in ivr.branches.values()):
        policy = WebhookPolicy.from_settings(Settings.from_env())
    refused = webhook_problems(ivr, policy) if policy is not None else []
    if refused:
        raise Invalid(refused)
    async with db.begin() as session:
        owned = await session.get(Number, e164)
        if owned is None:
            raise NotFound(f"number {e164} is not provisioned (voicectl number add {e164} --tenant ID)")
        foreign = await _foreign_gotos(session, ivr, owned.tenant_id)
        if foreign:
            raise Invalid(foreign)
        row = await session.get(IvrRow, e164)
        if row is None:
            session.add(IvrRow(number=e164, document=ivr.dump(), updated_at=now()))
        else:
            row.document, row.updated_at = ivr.dump(), now()
    return ivr


async def _foreign_gotos(session: AsyncSession, ivr: Ivr, tenant_id: str) -> list[str]:
    """gotos naming a number that is not the tenant's own: a document may jump into its
    tenant's other IVRs, never into another tenant's (calls check it again when they get there)."""
    problems = []
    for bid, branch in ivr.branches.items():
        if not isinstance(branch, GotoBranch) or branch.number is None:
            continue
        target = await session.get(Number, branch.number)
        if target is None or target.tenant_id != tenant_id:
            problems.append(f"branches.{bid}.number: {branch.number} is not a number of this tenant")
    return problems


def webhook_problems(ivr: Ivr, policy: WebhookPolicy) -> list[str]:
    """Webhook addresses `policy` refuses (VOICECTL_WEBHOOK_ALLOW, the platform's own ports,
    link-local...): said at import, not found out on a live call. The URLs' syntax was checked
    when the document was parsed; names are checked where they resolve, when they are called."""
    problems = []
    for bid, branch in ivr.branches.items():
        if isinstance(branch, TriggerBranch):
            why = policy.host_problem(branch.url)
            if why is not None:
                problems.append(f"branches.{bid}.url: refused: {why}")
    return problems


async def export_ivr(db: async_sessionmaker, number_text: str) -> dict[str, Any]:
    e164 = parse_number(number_text)
    async with db() as session:
        row = await session.get(IvrRow, e164)
    if row is None:
        raise NotFound(f"number {e164} has no IVR")
    return row.document


async def route_for(db: async_sessionmaker, dialled: str, held: Mapping[str, Route] | None = None) -> Route | None:
    """The route for a dialled number as a carrier sent it, or None if it is not ours.

    held: routes this process already has, by number. An IVR whose stored version is the one
    held is neither read nor parsed again: a big one takes a quarter of a second to parse, on
    the event loop every call shares, and was checked whole when it was imported."""
    try:
        e164 = to_e164(dialled, strict=False)
    except ValueError:
        return None
    async with db() as session:
        found = (await session.execute(
            select(Number.tenant_id, Tenant.timezone, Tenant.signing_secret, IvrRow.updated_at)
            .join(Tenant, Tenant.id == Number.tenant_id)
            .outerjoin(IvrRow, IvrRow.number == Number.e164)
            .where(Number.e164 == e164))).first()
        if found is None:
            return None
        tenant_id, timezone, secret, version = found
        tenant = TenantView(tenant_id, timezone, secret)
        if version is None:
            return Route(e164, tenant_id, None, tenant=tenant)
        known = (held or {}).get(e164)
        if known is not None and known.ivr_version == version:
            return Route(e164, tenant_id, known.ivr, version, tenant)
        document = await session.scalar(select(IvrRow.document).where(IvrRow.number == e164))
    return Route(e164, tenant_id, parse_ivr(document), version, tenant)


async def stored_problems(db: async_sessionmaker) -> dict[str, list[str]]:
    """Stored IVRs the current rules refuse (imported under older, looser ones): each such
    number would answer every call with 503, so `init` and `up` name them."""
    async with db() as session:
        rows = (await session.execute(select(IvrRow.number, IvrRow.document))).all()
    problems: dict[str, list[str]] = {}
    for number, document in rows:
        try:
            parse_ivr(document)
        except IvrInvalid as exc:
            problems[number] = exc.errors
    return problems
