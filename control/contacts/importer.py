"""Contacts in bulk, from and to CSV (`voicectl contacts import|export`).

Columns (a header row names them, in any order; only `phone` is required):
  phone       one phone or several, separated by `;` or `,`; each may end in `:H` or `:M`
  phone_type  H or M for the row's phones that carry no type of their own (default H)
  labels      label numbers, separated by `;` or `,` (they must exist, as in the API)
  first_name, last_name, email, notes, exp (YYYY-MM-DD), address, city, state, zip, field_a..field_j

Each row is a contact, checked by the API's rules and either imported whole or rejected with its
reason. Rows are written a chunk at a time (one transaction each, so 10,000 rows take seconds);
a chunk the database refuses (another writer took a phone meanwhile) is written again row by
row, so the refusal lands on the rows it concerns. A row whose phone is already a contact's is
rejected, unless `update`: then the row updates that contact (non-empty cells overwrite, new
phones and labels are added; nothing is removed).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control.clock import now
from control.contacts.service import (DEFAULT_TYPE, FIELDS, MAX_LIST, check_fields, new_contact, parse_labels, parts,
                                      phone_type)
from control.errors import Invalid
from control.numbers.phone import voitex_style
from control.numbers.recipients import PhoneRefused, recipient_e164
from control.store.models import Contact, ContactLabel, ContactPhone, Label
from control.tenants.service import tenant_in

COLUMNS = ("phone", "phone_type", "labels", *FIELDS)
CHUNK = 500
# The file is read whole, and its rows held, before anything is written: 64 MiB is about half a
# million contacts, and a few hundred MB of memory.
MAX_FILE_BYTES = 64 * 2**20
SHOWN_CHARS = 40  # how much of a bad column name an error repeats
MAX_PROBLEMS = 10  # a header of thousands of bad names: the first few say enough


@dataclass(frozen=True)
class Row:
    line: int
    phones: list[tuple[str, str]]  # (E.164, type)
    fields: dict[str, Any]
    labels: list[int]


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "updated": self.updated,
                "rejected": [{"line": line, "reason": reason} for line, reason in self.rejected]}


def read_csv_file(path: Path) -> list[tuple[int, dict[str, str]]]:
    """read_csv of a file, refused before it is read when it is larger than an import may be."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise Invalid([f"the file is {size} bytes, larger than the {MAX_FILE_BYTES} bytes an import may be: "
                       "split it"])
    return read_csv(path.read_bytes())[1]


def read_csv(data: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the rows (with their line numbers) of a UTF-8 CSV, or Invalid saying why
    the file as a whole cannot be read: nothing is imported from such a file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid([f"the file is not UTF-8 text (byte {exc.start})"]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\0extra")
    header = [name.strip() for name in reader.fieldnames or []]
    unknown = [name for name in header if name not in COLUMNS]
    problems = [f"unknown column {_quoted(name)}" for name in unknown]
    problems += [f"column {_quoted(name)} is given twice" for name in sorted({n for n in header if header.count(n) > 1})]
    if "phone" not in header:
        problems.append("the header has no `phone` column")
    if len(problems) > MAX_PROBLEMS:
        problems[MAX_PROBLEMS:] = [f"and {len(problems) - MAX_PROBLEMS} more problems"]
    if unknown:
        problems.append(f"the columns are: {', '.join(COLUMNS)}")
    if problems:
        raise Invalid(problems)
    reader.fieldnames = header
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as exc:  # line_num is the last line read whole: the broken record is the next
        raise Invalid([f"line {reader.line_num + 1}: {exc}"]) from None
    return header, rows


def _quoted(name: str) -> str:
    return repr(name[:SHOWN_CHARS]) + ("..." if len(name) > SHOWN_CHARS else "")


def parse_row(line: int, cells: dict[str, Any]) -> Row:
    """One CSV row as a contact, or Invalid with every problem of the row."""
    if cells.get("\0extra"):
        raise Invalid(["more cells than the header has columns"])
    default = phone_type(cells.get("phone_type")) or DEFAULT_TYPE
    problems: list[str] = []
    phones: list[tuple[str, str]] = []
    given = parts((cells.get("phone") or "").replace(";", ","))
    if not given:
        problems.append("no phone")
    if len(given) > MAX_LIST:
        problems.append(f"at most {MAX_LIST} phones a contact")
        given = []
    for part in given:
        number, _, kind = part.rpartition(":") if part[-2:-1] == ":" else (part, "", "")
        try:
            e164 = recipient_e164(number)
        except PhoneRefused as exc:
            problems.append(str(exc))
            continue
        if e164 not in (p for p, _ in phones):
            phones.append((e164, phone_type(kind) or default))
    fields: dict[str, Any] = {}
    labels: list[int] = []
    try:
        fields = check_fields({name: cells[name] for name in FIELDS if cells.get(name) is not None})
    except Invalid as exc:
        problems.extend(exc.errors)
    try:
        labels = parse_labels((cells.get("labels") or "").replace(";", ","), "labels")
    except Invalid as exc:
        problems.extend(exc.errors)
    if problems:
        raise Invalid(problems)
    return Row(line, phones, fields, labels)


async def import_contacts(db: async_sessionmaker, tenant_id: str, rows: Sequence[tuple[int, dict[str, Any]]], *,
                          update: bool = False, progress: Callable[[int], None] = lambda n: None) -> ImportReport:
    """Import the rows of read_csv into the tenant's contacts; `progress(n)` after each n rows."""
    report = ImportReport()
    async with db() as session:
        await tenant_in(session, tenant_id)
        known_labels = set(await session.scalars(select(Label.number).where(Label.tenant_id == tenant_id)))
    first_line: dict[str, int] = {}  # phone -> the line that has it: a phone is one contact's
    updated_by: dict[int, int] = {}  # contact id -> the line that updated it (--update)
    for start in range(0, len(rows), CHUNK):
        chunk: list[Row] = []
        for line, cells in rows[start:start + CHUNK]:
            try:
                row = parse_row(line, cells)
            except Invalid as exc:
                report.rejected.append((line, "; ".join(exc.errors)))
                continue
            problem = _row_problem(row, known_labels, first_line)
            if problem:
                report.rejected.append((line, problem))
                continue
            chunk.append(row)
        try:
            trial = dict(updated_by)  # kept only if the chunk commits
            async with db.begin() as session:
                added, updated, rejected = await _write(session, tenant_id, chunk, update, trial)
            updated_by.update(trial)
        except (DBAPIError, StaleDataError):  # a phone taken meanwhile, a deadlock, a lock timeout
            added, updated, rejected = 0, 0, []
            for row in chunk:  # one at a time: the refusal lands on the rows it concerns
                trial = dict(updated_by)
                try:
                    async with db.begin() as session:
                        one = await _write(session, tenant_id, [row], update, trial)
                    updated_by.update(trial)
                except (DBAPIError, StaleDataError) as exc:
                    rejected.append((row.line, f"the database refused it ({type(exc).__name__}: a phone, label or "
                                               "contact changed meanwhile)"))
                    continue
                added, updated, rejected = added + one[0], updated + one[1], rejected + one[2]
        report.added += added
        report.updated += updated
        report.rejected.extend(rejected)
        progress(len(rows[start:start + CHUNK]))
    report.rejected.sort()
    return report


def _row_problem(row: Row, known_labels: set[int], first_line: dict[str, int]) -> str | None:
    missing = [str(n) for n in row.labels if n not in known_labels]
    if missing:
        return f"no such label: {', '.join(missing)}"
    for phone, _ in row.phones:
        if phone in first_line:
            return f"phone {voitex_style(phone)} is also on line {first_line[phone]}"
    for phone, _ in row.phones:
        first_line[phone] = row.line
    return None


async def _write(session: AsyncSession, tenant_id: str, rows: list[Row], update: bool,
                 updated_by: dict[int, int]) -> tuple[int, int, list[tuple[int, str]]]:
    """Write rows in the session's transaction: (added, updated, rejected). `updated_by` (contact
    id -> line) is kept across the file: a second row reaching a contact is rejected, not
    merged or lost."""
    wanted = [phone for row in rows for phone, _ in row.phones]
    owner: dict[str, int] = {}
    for start in range(0, len(wanted), CHUNK):  # bounded IN lists
        owner.update((await session.execute(select(ContactPhone.phone, ContactPhone.contact_id).where(
            ContactPhone.tenant_id == tenant_id, ContactPhone.phone.in_(wanted[start:start + CHUNK])))).all())
    new: list[Row] = []
    changed: dict[int, Row] = {}
    rejected: list[tuple[int, str]] = []
    for row in rows:
        owners = {owner[phone] for phone, _ in row.phones if phone in owner}
        taken = [voitex_style(phone) for phone, _ in row.phones if phone in owner]
        if not owners:
            new.append(row)
        elif not update:
            rejected.append((row.line, f"phone {', '.join(taken)} already belongs to a contact (--update updates it)"))
        elif len(owners) > 1:
            rejected.append((row.line, f"phones {', '.join(taken)} belong to different contacts"))
        else:
            contact_id = owners.pop()
            if contact_id in updated_by:
                rejected.append((row.line, f"updates the same contact as line {updated_by[contact_id]}"))
                continue
            updated_by[contact_id] = row.line
            changed[contact_id] = row
    at = now()
    contacts = [new_contact(tenant_id, row.fields, at) for row in new]
    session.add_all(contacts)
    if contacts:
        await session.flush()  # their ids, in one INSERT ... RETURNING
    phones: list[dict[str, Any]] = []
    memberships: list[dict[str, Any]] = []
    for contact, row in zip(contacts, new):
        phones += [{"tenant_id": tenant_id, "contact_id": contact.id, "phone": p, "type": t} for p, t in row.phones]
        memberships += [{"contact_id": contact.id, "tenant_id": tenant_id, "label_number": n} for n in row.labels]
    if changed:
        have = set((await session.execute(select(ContactLabel.contact_id, ContactLabel.label_number).where(
            ContactLabel.contact_id.in_(changed)))).all())
        for contact in await session.scalars(select(Contact).where(Contact.id.in_(changed))):
            row = changed[contact.id]
            for name, value in row.fields.items():
                if value not in ("", None):
                    setattr(contact, name, value)
            contact.updated_at = at
            phones += [{"tenant_id": tenant_id, "contact_id": contact.id, "phone": p, "type": t}
                       for p, t in row.phones if p not in owner]
            memberships += [{"contact_id": contact.id, "tenant_id": tenant_id, "label_number": n}
                            for n in row.labels if (contact.id, n) not in have]
    if phones:
        await session.execute(insert(ContactPhone), phones)
    if memberships:
        await session.execute(insert(ContactLabel), memberships)
    return len(new), len(changed), rejected


async def export_rows(db: async_sessionmaker, tenant_id: str) -> list[dict[str, str]]:
    """The tenant's contacts as CSV rows in import's columns (an export imports as it was)."""
    async with db() as session:
        await tenant_in(session, tenant_id)
        phones: dict[int, list[str]] = {}
        for contact_id, phone, kind in await session.execute(select(
                ContactPhone.contact_id, ContactPhone.phone, ContactPhone.type)
                .where(ContactPhone.tenant_id == tenant_id).order_by(ContactPhone.id)):
            phones.setdefault(contact_id, []).append(f"{voitex_style(phone)}:{kind}")
        labels: dict[int, list[str]] = {}
        for contact_id, number in await session.execute(select(ContactLabel.contact_id, ContactLabel.label_number)
                                                         .where(ContactLabel.tenant_id == tenant_id)
                                                         .order_by(ContactLabel.label_number)):
            labels.setdefault(contact_id, []).append(str(number))
        contacts = await session.scalars(select(Contact).where(Contact.tenant_id == tenant_id).order_by(Contact.id))
        rows = []
        for contact in contacts:
            row = {"phone": ";".join(phones.get(contact.id, [])), "phone_type": "",
                   "labels": ";".join(labels.get(contact.id, []))}
            for name in FIELDS:
                value = getattr(contact, name)
                row[name] = "" if value is None else value.isoformat() if name == "exp" else value
            rows.append(row)
    return rows
