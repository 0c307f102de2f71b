"""Who a request reaches: the recipients it names (each judged as Voitex does, see
control/numbers/recipients.py), or a label's contacts, less those the tenant may not reach."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from control.numbers.recipients import PhoneRefused, recipient_e164
from control.store.models import ContactLabel, ContactPhone, DoNotCall, SmsOptOut

DUPLICATE = "duplicate"
DNC = "dnc"
# A chunk of an IN list: well under SQLite's 32,766 bound parameters and PostgreSQL's 65,535.
CHUNK = 5000


@dataclass
class Audience:
    valid: list[str] = field(default_factory=list)  # E.164, in the order given, each once
    invalid: dict[str, str] = field(default_factory=dict)  # as given -> Notify's reason


def from_texts(texts: Iterable[str]) -> Audience:
    audience = Audience()
    seen: set[str] = set()
    for text in texts:
        try:
            number = recipient_e164(text)
        except PhoneRefused as exc:
            audience.invalid[text[:40]] = exc.reason
            continue
        if number in seen:
            audience.invalid[text[:40]] = DUPLICATE
            continue
        seen.add(number)
        audience.valid.append(number)
    return audience


async def of_labels(session: AsyncSession, tenant_id: str, labels: list[int], types: Iterable[str]) -> list[str]:
    """The phones, of these types, of the contacts carrying any of the labels, each once (a
    contact with two of the labels is reached once), sorted."""
    rows = await session.execute(
        select(ContactPhone.phone).join(ContactLabel, ContactLabel.contact_id == ContactPhone.contact_id)
        .where(ContactLabel.tenant_id == tenant_id, ContactLabel.label_number.in_(labels),
               ContactPhone.type.in_(list(types)))
        .group_by(ContactPhone.phone).order_by(ContactPhone.phone))
    return [phone for (phone,) in rows]


async def blocked(session: AsyncSession, tenant_id: str, phones: list[str], kind: str, check_dnc: bool) -> set[str]:
    """Those of `phones` the tenant may not reach: numbers on its do-not-call list (unless the
    request says not to check it) and, for SMS, numbers that texted STOP (always)."""
    tables = ([DoNotCall] if check_dnc else []) + ([SmsOptOut] if kind == "SMS" else [])
    found: set[str] = set()
    for table in tables:
        for start in range(0, len(phones), CHUNK):
            chunk = phones[start:start + CHUNK]
            found.update(await session.scalars(select(table.phone).where(  # type: ignore[attr-defined]
                table.tenant_id == tenant_id, table.phone.in_(chunk))))  # type: ignore[attr-defined]
    return found
