"""A tenant's contacts, each found by any of its phones, and the numbered labels they belong to
(Voitex's Contacts API: create, update, delete, select).

Every request is checked whole before anything is written, then written in one transaction:
a refused request changes nothing. The messages are the document's where it has one ("No
contact found for phone: 7325550184"); numbers in them are written as the caller's style
(ten digits for NANP).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Awaitable, Callable, Iterable, Mapping, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control.clock import now
from control.errors import Conflict, Invalid, NotFound
from control.numbers.phone import voitex_style
from control.numbers.recipients import PhoneRefused, recipient_e164
from control.store.models import Contact, ContactLabel, ContactPhone, Label
from control.tenants.service import is_tenant_id, tenant_in
from control.text import refused_char

CUSTOM_FIELDS = tuple(f"field_{letter}" for letter in "abcdefghij")
# The contact's fields in the order `select` answers them (the document's sample).
FIELDS = ("first_name", "last_name", "email", "notes", "exp", "address", "city", "state", "zip", *CUSTOM_FIELDS)
PHONE_TYPES = ("H", "M")
DEFAULT_TYPE = "H"
MAX_TEXT = 255
MAX_NOTES = 4000
MAX_LABEL = 2**31 - 1  # the column is PostgreSQL's int4
MAX_LABEL_NAME = 200
# One request names at most this many phones or labels: a contact is a person, not a list.
MAX_LIST = 50
NO_PHONE = "No valid phone number provided"
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
LABEL_NUMBER = re.compile(r"[0-9]{1,10}")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Two requests adding one phone (or one label) at once: the loser's insert breaks a unique
# key; it checks again and gets the message the check gives.
ATTEMPTS = 3

T = TypeVar("T")


@dataclass(frozen=True)
class ContactView:
    """A contact as `select` answers it."""

    fields: dict[str, str | None]  # FIELDS in order; exp as YYYY-MM-DD or None
    phones: list[tuple[str, str]]  # (E.164, type) in the order they were added
    labels: list[int]

    def as_voitex(self) -> dict[str, Any]:
        return {"contact": dict(self.fields),
                "phones": [{"phone": voitex_style(phone), "type": kind} for phone, kind in self.phones],
                "labels": list(self.labels)}


@dataclass(frozen=True)
class ContactChanges:
    """An update, every part optional (the document's A to F). `fields` holds only the fields
    sent: "" clears one."""

    fields: Mapping[str, str] = field(default_factory=dict)
    phone_type: str | None = None  # B: the locator phone's new type; not H or M: ignored
    add_phone: str | None = None  # C
    add_phone_type: str | None = None  # not H or M: H (or, for a phone already there, unchanged)
    remove_phone: str | None = None  # D, never the last
    add_label: str | None = None  # E: label numbers, comma-separated
    remove_label: str | None = None  # F


@dataclass(frozen=True)
class LabelInfo:
    number: int
    name: str
    contacts: int
    created_at: datetime


def parts(text: str | None) -> list[str]:
    """The items of a comma-separated list ("2, 3,7"), trimmed, empty ones dropped."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def parse_phone(text: str | None, what: str = "phone") -> str:
    """One phone (E.164), or Invalid: the document's own message when `phone` is missing or
    does not parse; one naming the field for the others."""
    try:
        return recipient_e164((text or "").strip())
    except PhoneRefused as exc:
        raise Invalid([NO_PHONE if what == "phone" else f"{what}: {exc}"]) from None


def parse_phones(text: str | None) -> list[str]:
    """create's `phone`: one phone or several, comma-separated; each must be valid."""
    given = parts(text)
    if not given:
        raise Invalid([NO_PHONE])
    if len(given) > MAX_LIST:
        raise Invalid([f"phone: at most {MAX_LIST} phones per contact"])
    found: list[str] = []
    refused: list[str] = []
    for part in given:
        try:
            number = recipient_e164(part)
        except PhoneRefused:
            refused.append(part[:40])
            continue
        if number not in found:
            found.append(number)
    if refused:
        raise Invalid([f"{NO_PHONE}: {', '.join(refused)}"])
    return found


def parse_labels(text: str | None, what: str) -> list[int]:
    """Label numbers, comma-separated ("2,3,7"), each a whole number from 1."""
    given = parts(text)
    if len(given) > MAX_LIST:  # before any work: a 25 MB list must cost nothing
        raise Invalid([f"{what}: at most {MAX_LIST} labels per request"])
    numbers: dict[int, None] = {}  # ordered, without repeats
    for part in given:
        if not LABEL_NUMBER.fullmatch(part) or not 1 <= int(part) <= MAX_LABEL:
            raise Invalid([f"{what}: label numbers are whole numbers from 1, comma-separated; not {part[:40]!r}"])
        numbers[int(part)] = None
    return list(numbers)


def phone_type(value: str | None) -> str | None:
    """H or M (any case), else None: the document ignores invalid types."""
    kind = (value or "").strip().upper()
    return kind if kind in PHONE_TYPES else None


def check_fields(values: Mapping[str, str | None]) -> dict[str, Any]:
    """The contact fields given, as stored: text as is ("" clears), exp as a date or None.
    Every problem is reported at once."""
    checked: dict[str, Any] = {}
    problems: list[str] = []
    for name, raw in values.items():
        if name not in FIELDS:
            raise ValueError(f"not a contact field: {name}")
        value = (raw or "").strip()
        if name == "exp":
            checked[name] = _date(value) if value else None
            if value and checked[name] is None:
                problems.append(f"exp must be a date as YYYY-MM-DD, not {value[:40]!r}")
            continue
        problem = _text_problem(name, value, MAX_NOTES if name == "notes" else MAX_TEXT)
        if problem:
            problems.append(problem)
        checked[name] = value
    if problems:
        raise Invalid(problems)
    return checked


def _date(text: str) -> date | None:
    if not DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:  # 2026-02-30
        return None


def _text_problem(name: str, value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"{name} must be at most {limit} characters (this one has {len(value)})"
    char = refused_char(value, allowed="\n\t" if name == "notes" else "")  # notes may run over lines
    if char is not None:
        return f"{name} must not contain control or formatting characters (U+{ord(char):04X})"
    if name == "email" and value and not EMAIL.fullmatch(value):
        return f"email must look like name@example.com, not {value[:40]!r}"
    return None


async def create_contact(db: async_sessionmaker, tenant_id: str, phone: str | None, *, type_: str | None = None,
                         fields: Mapping[str, str | None] | None = None, label: str | None = None) -> None:
    """A new contact with these phones (all of type `type_`, H when not H or M), fields and
    labels. Fails whole when any phone already belongs to a contact or a label does not exist."""
    phones = parse_phones(phone)
    checked = check_fields(fields or {})
    labels = parse_labels(label, "label")
    kind = phone_type(type_) or DEFAULT_TYPE

    async def work(session: AsyncSession) -> None:
        await _labels_exist(session, tenant_id, labels, "label")
        taken = await _owners(session, tenant_id, phones)
        if taken:
            raise Conflict(f"contact already exists with phone(s): {', '.join(voitex_style(p) for p in taken)}")
        contact = new_contact(tenant_id, checked, now())
        session.add(contact)
        await session.flush()  # its id
        session.add_all(ContactPhone(tenant_id=tenant_id, contact_id=contact.id, phone=p, type=kind) for p in phones)
        session.add_all(ContactLabel(contact_id=contact.id, tenant_id=tenant_id, label_number=n) for n in labels)

    await _in_transaction(db, tenant_id, work)


async def update_contact(db: async_sessionmaker, tenant_id: str, phone: str | None,
                         changes: ContactChanges) -> None:
    """The contact `phone` is on, changed as `changes` says (see ContactChanges)."""
    locator = parse_phone(phone)
    checked = check_fields(changes.fields)
    add = parse_phone(changes.add_phone, "add_phone") if (changes.add_phone or "").strip() else None
    remove = parse_phone(changes.remove_phone, "remove_phone") if (changes.remove_phone or "").strip() else None
    add_labels = parse_labels(changes.add_label, "add_label")
    remove_labels = parse_labels(changes.remove_label, "remove_label")

    async def work(session: AsyncSession) -> None:
        contact = await _locked(session, tenant_id, locator)
        await _labels_exist(session, tenant_id, add_labels, "add_label")
        await _labels_exist(session, tenant_id, remove_labels, "remove_label")
        for name, value in checked.items():
            setattr(contact, name, value)
        phones = {row.phone: row for row in await _phones(session, contact.id)}
        if (kind := phone_type(changes.phone_type)) is not None:
            phones[locator].type = kind
        if add is not None:
            kind = phone_type(changes.add_phone_type)
            if add in phones:
                if kind is not None:
                    phones[add].type = kind
            else:
                if len(phones) >= MAX_LIST:
                    raise Invalid([f"add_phone: a contact has at most {MAX_LIST} phones"])
                if await _owners(session, tenant_id, [add]):
                    raise Conflict(f"add_phone {voitex_style(add)} belongs to another contact")
                row = ContactPhone(tenant_id=tenant_id, contact_id=contact.id, phone=add, type=kind or DEFAULT_TYPE)
                session.add(row)
                await session.flush()  # so that a remove_phone of the same phone finds it stored
                phones[add] = row
        if remove is not None:
            if remove not in phones:
                raise Invalid([f"remove_phone {voitex_style(remove)} is not a phone of this contact"])
            if len(phones) == 1:
                raise Invalid([f"remove_phone {voitex_style(remove)} is the contact's last phone: it is kept "
                               "(delete the contact to remove it)"])
            await session.delete(phones.pop(remove))
        have = set(await session.scalars(select(ContactLabel.label_number).where(
            ContactLabel.contact_id == contact.id)))
        session.add_all(ContactLabel(contact_id=contact.id, tenant_id=tenant_id, label_number=n)
                        for n in add_labels if n not in have)
        if remove_labels:
            await session.execute(delete(ContactLabel).where(ContactLabel.contact_id == contact.id,
                                                             ContactLabel.label_number.in_(remove_labels)))

    await _in_transaction(db, tenant_id, work)


async def delete_contact(db: async_sessionmaker, tenant_id: str, phone: str | None) -> None:
    """The contact `phone` is on, with all its phones and label memberships (labels stay)."""
    locator = parse_phone(phone)

    async def work(session: AsyncSession) -> None:
        contact = await _locked(session, tenant_id, locator)
        await session.execute(delete(ContactLabel).where(ContactLabel.contact_id == contact.id))
        await session.execute(delete(ContactPhone).where(ContactPhone.contact_id == contact.id))
        await session.delete(contact)

    await _in_transaction(db, tenant_id, work)


async def select_contact(db: async_sessionmaker, tenant_id: str, phone: str | None) -> ContactView:
    locator = parse_phone(phone)
    async with db() as session:
        return await _view(session, await _located(session, tenant_id, locator))


async def contact_for_phone(db: async_sessionmaker, tenant_id: str, e164: str) -> ContactView | None:
    """The tenant's contact with this phone (E.164), or None: what a call looks its caller up by."""
    if not is_tenant_id(tenant_id):
        return None
    async with db() as session:
        contact = await _with_phone(session, tenant_id, e164)
        return await _view(session, contact) if contact is not None else None


async def create_label(db: async_sessionmaker, tenant_id: str, number: int, name: str = "") -> LabelInfo:
    name = name.strip()
    problems = []
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_LABEL:
        problems.append(f"label numbers are whole numbers from 1 to {MAX_LABEL}, not {number!r}")
    if problem := _text_problem("name", name, MAX_LABEL_NAME):
        problems.append(problem)
    if problems:
        raise Invalid(problems)

    async def work(session: AsyncSession) -> LabelInfo:
        if await session.get(Label, (tenant_id, number)) is not None:
            raise Conflict(f"label {number} already exists")
        row = Label(tenant_id=tenant_id, number=number, name=name, created_at=now())
        session.add(row)
        await session.flush()
        return LabelInfo(number, name, 0, row.created_at)

    return await _in_transaction(db, tenant_id, work)


async def list_labels(db: async_sessionmaker, tenant_id: str) -> list[LabelInfo]:
    members = (select(ContactLabel.label_number, func.count().label("n")).where(ContactLabel.tenant_id == tenant_id)
               .group_by(ContactLabel.label_number).subquery())
    async with db() as session:
        await tenant_in(session, tenant_id)
        rows = (await session.execute(
            select(Label, func.coalesce(members.c.n, 0)).outerjoin(members, members.c.label_number == Label.number)
            .where(Label.tenant_id == tenant_id).order_by(Label.number))).all()
    return [LabelInfo(label.number, label.name, count, label.created_at) for label, count in rows]


async def _in_transaction(db: async_sessionmaker, tenant_id: str,
                          work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with db.begin() as session:
                await tenant_in(session, tenant_id)
                return await work(session)
        except (IntegrityError, StaleDataError):
            if attempt == ATTEMPTS:
                raise Conflict("another request changed this contact meanwhile; try again") from None
    raise AssertionError("unreachable")


async def _with_phone(session: AsyncSession, tenant_id: str, e164: str) -> Contact | None:
    return await session.scalar(select(Contact).join(ContactPhone, ContactPhone.contact_id == Contact.id)
                                .where(ContactPhone.tenant_id == tenant_id, ContactPhone.phone == e164))


async def _located(session: AsyncSession, tenant_id: str, e164: str) -> Contact:
    contact = await _with_phone(session, tenant_id, e164)
    if contact is None:
        raise NotFound(f"No contact found for phone: {voitex_style(e164)}")
    return contact


async def _locked(session: AsyncSession, tenant_id: str, e164: str) -> Contact:
    """The contact, locked for this transaction before its phones are read: two updates each
    removing one of its two phones must not both see two (the last phone would go), and an
    update racing a delete must find it gone rather than fail on write. The UPDATE takes the
    row lock on PostgreSQL and the write lock on SQLite."""
    contact = await _located(session, tenant_id, e164)
    touched = await session.execute(update(Contact).where(Contact.id == contact.id).values(updated_at=now())
                                    .execution_options(synchronize_session=False))
    if touched.rowcount == 0:  # deleted since it was found
        raise NotFound(f"No contact found for phone: {voitex_style(e164)}")
    await session.refresh(contact)
    return contact


async def _owners(session: AsyncSession, tenant_id: str, phones: Iterable[str]) -> list[str]:
    """Those of `phones` some contact of the tenant has."""
    wanted = list(phones)
    taken = set(await session.scalars(select(ContactPhone.phone).where(
        ContactPhone.tenant_id == tenant_id, ContactPhone.phone.in_(wanted))))
    return [p for p in wanted if p in taken]


async def _phones(session: AsyncSession, contact_id: int) -> list[ContactPhone]:
    return list(await session.scalars(select(ContactPhone).where(ContactPhone.contact_id == contact_id)
                                      .order_by(ContactPhone.id)))


async def _labels_exist(session: AsyncSession, tenant_id: str, numbers: list[int], what: str) -> None:
    if not numbers:
        return
    known = set(await session.scalars(select(Label.number).where(Label.tenant_id == tenant_id,
                                                                 Label.number.in_(numbers))))
    missing = [str(n) for n in numbers if n not in known]
    if missing:
        raise Invalid([f"{what}: no such label: {', '.join(missing)} (labels are made with POST /contacts/labels "
                       "or `voicectl label create`)"])


def new_contact(tenant_id: str, checked: Mapping[str, Any], at: datetime) -> Contact:
    """A contact with the fields check_fields gave, the others unset ("", exp None)."""
    values: dict[str, Any] = {name: None if name == "exp" else "" for name in FIELDS}
    return Contact(tenant_id=tenant_id, created_at=at, updated_at=at, **(values | dict(checked)))


async def _view(session: AsyncSession, contact: Contact) -> ContactView:
    phones = await _phones(session, contact.id)
    labels = list(await session.scalars(select(ContactLabel.label_number).where(
        ContactLabel.contact_id == contact.id).order_by(ContactLabel.label_number)))
    values: dict[str, str | None] = {}
    for name in FIELDS:
        value = getattr(contact, name)
        values[name] = value.isoformat() if isinstance(value, date) else value
    return ContactView(values, [(p.phone, p.type) for p in phones], labels)
