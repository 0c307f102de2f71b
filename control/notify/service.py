"""The three ways to send, each validated whole and then written in one transaction with every
recipient (nothing is sent by a request: the dispatcher sends what is written):

- `notify` (Notify API): SMS or CALL to `to`, `phones` or `label`; 1-19 recipients are a batch
  (`batch_id`), 20 or more and any label a group broadcast (`group_id`);
- `notification_call` (POST /notify/) and `send_sms` (POST /sms/send/): one recipient, sent at
  once, not held for the send window (they answer a person's own action, like a text
  confirming an order).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control.clock import now
from control.contacts.service import parse_labels, parts
from control.errors import Invalid
from control.notify import audience, ids
from control.notify.audience import DNC, Audience
from control.notify.content import MAX_NOTIFY_BODY, MAX_SMS_BODY, call_content, own_number, sms_body
from control.notify.window import SendWindow, next_open
from control.numbers.recipients import PhoneRefused, recipient_e164
from control.store.models import Broadcast, Delivery, Label, Tenant
from control.tenants.service import tenant_in

GROUP_FROM = 20  # recipients from which `phones` is a group broadcast
MAX_PHONES = 50_000
DEFAULT_TITLE = "IVR Notification"
PHONE_TYPES = {"H": ("H",), "M": ("M",), "H,M": ("H", "M"), "M,H": ("H", "M")}
SCHEDULE_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_AHEAD = timedelta(days=366)
TOLL_FREE = frozenset({"800", "833", "844", "855", "866", "877", "888"})
YES = frozenset({"1", "true", "yes", "on", "y"})
NO = frozenset({"0", "false", "no", "off", "n", "skip", "ignore"})


@dataclass(frozen=True)
class Attempts:
    """How many times a call recipient is tried (busy or no answer is tried again), and how
    long apart; a message is sent once."""

    broadcast_calls: int = 3
    retry_s: float = 300.0


@dataclass
class NotifyRequest:
    """Notify's fields as sent (trimmed text, None when absent)."""

    type: str | None = None
    cid: str | None = None
    to: str | None = None
    phones: str | None = None
    label: str | None = None
    phone_type: str | None = None
    title: str | None = None
    to_be_sent: str | None = None
    dnc: str | None = None
    confirm: str | None = None
    body: str | None = None
    attachments: bool = False
    call_type: str | None = None
    recording: str | None = None
    sfile_id: str | None = None
    branch_number: str | None = None
    route_number: str | None = None
    greeting: str | None = None
    variables: str | None = None


@dataclass
class NotifyResult:
    request_id: str
    status: str  # success, partial_success, failure
    route: str
    type: str
    mode: str
    valid_count: int | None
    invalid_count: int
    recipient_estimate: int
    invalid: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    batch_id: str | None = None
    group_id: str | None = None

    def as_voitex(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"request_id": self.request_id, "status": self.status}
        if self.batch_id:
            shown["batch_id"] = self.batch_id
        if self.group_id:
            shown["group_id"] = self.group_id
        shown["summary"] = {"route": self.route, "type": self.type, "mode": self.mode,
                            "valid_count": self.valid_count, "invalid_count": self.invalid_count,
                            "recipient_estimate": self.recipient_estimate}
        if self.invalid:
            shown["invalid"] = self.invalid
        shown["errors"] = []
        if self.warnings:
            shown["warnings"] = self.warnings
        return shown


class NotifyRefused(Invalid):
    """A request that is wrong itself (status `error`), with its request id."""

    def __init__(self, request_id: str, errors: list[str]) -> None:
        super().__init__(errors)
        self.request_id = request_id


def did_type(e164: str) -> str:
    """TF for NANP toll-free numbers, else TN (Send SMS's `did_type`)."""
    return "TF" if e164.startswith("+1") and e164[2:5] in TOLL_FREE else "TN"


def flag(text: str | None, default: bool, where: str, errors: list[str]) -> bool:
    if text is None or not text.strip():
        return default
    word = text.strip().lower()
    if word in YES:
        return True
    if word in NO:
        return False
    errors.append(f"{where}: {text.strip()[:20]!r} is neither 1/true/yes nor 0/false/no")
    return default


async def notify(db: async_sessionmaker, tenant_id: str, req: NotifyRequest,
                 attempts: Attempts = Attempts()) -> NotifyResult:
    request_id = ids.request_id()
    errors: list[str] = []
    kind = (req.type or "").strip().upper()
    if kind not in ("SMS", "CALL"):
        errors.append("type must be SMS or CALL" if kind else "type is required: SMS or CALL")
    named = [name for name in ("to", "phones", "label") if (getattr(req, name) or "").strip()]
    if not named:
        errors.append("one of to, phones or label is required")
    elif len(named) > 1:
        errors.append(f"give only one of to, phones or label (not {' and '.join(named)})")
    mode = {"to": "single", "phones": "phones", "label": "label"}[named[0]] if len(named) == 1 else ""
    types = PHONE_TYPES.get((req.phone_type or "H,M").strip().upper().replace(" ", ""))
    if types is None:
        errors.append("phone_type must be H, M or H,M")
    title = (req.title or "").strip() or DEFAULT_TITLE
    if len(title) > 200:
        errors.append(f"title is {len(title)} characters; at most 200")
    check_dnc = flag(req.dnc, True, "dnc", errors)
    confirmed = flag(req.confirm, True, "confirm", errors)
    if kind == "SMS" and req.attachments:
        errors.append("attachments are not supported: the SIP trunk carries text messages only (MMS cannot be "
                      "sent); put a link to the file in body instead")
    async with db.begin() as session:
        tenant = await tenant_in(session, tenant_id)
        zone = ZoneInfo(tenant.timezone)
        not_before, warning = _schedule(req.to_be_sent, zone, errors)
        sender = await own_number(session, tenant_id, req.cid, "cid", errors)
        content: dict[str, Any] = {}
        if kind == "SMS":
            content = {"body": sms_body(req.body, MAX_NOTIFY_BODY, errors)}
        elif kind == "CALL":
            content = await call_content(session, tenant_id, req.call_type, recording=req.recording,
                                         sfile_id=req.sfile_id, route_number=req.route_number,
                                         branch_number=req.branch_number, greeting=req.greeting,
                                         variables=req.variables, errors=errors)
        if kind == "CALL" and not tenant.outbound_trunk:
            errors.append("calls need an outbound trunk: voicectl tenant set ID --outbound-trunk NAME")
        found = await _audience(session, tenant_id, mode, req, types or (), errors) if mode else Audience()
        if errors:
            raise NotifyRefused(request_id, errors)
        blocked = await audience.blocked(session, tenant_id, found.valid, kind, check_dnc)
        if blocked:
            for phone in blocked:
                found.invalid[phone] = DNC
            found.valid = [p for p in found.valid if p not in blocked]
        route = "group" if mode == "label" or (mode == "phones" and len(found.valid) >= GROUP_FROM) else "single"
        result = NotifyResult(request_id, _status(found), route, kind, mode,
                              None if mode == "single" else len(found.valid), len(found.invalid),
                              len(found.valid), found.invalid, [warning] if warning else [])
        if not found.valid:
            return result
        if not confirmed:
            result.warnings.append("confirm=0: checked only, nothing was sent (send again without confirm=0)")
            return result
        at = now()
        broadcast_id = ids.group_id(at) if route == "group" else \
            ids.batch_id(len(found.valid), kind, found.valid[0], sender, at)
        window = SendWindow.parse(tenant.send_window)
        start = max(not_before, at)
        rows = [_delivery(broadcast_id, tenant_id, kind, phone, next_open(phone, start, window, zone),
                          attempts.broadcast_calls if kind == "CALL" else 1) for phone in found.valid]
        held = sum(1 for row in rows if row["next_at"] > start)
        if held:
            result.warnings.append(f"{held} recipient(s) are outside the send window ({window}, their local "
                                   f"time): they are sent when it opens")
        session.add(Broadcast(id=broadcast_id, tenant_id=tenant_id, request_id=request_id, route=route, type=kind,
                              mode=mode, title=title, from_number=sender, content=content, check_dnc=check_dnc,
                              held=True, not_before=not_before, created_at=at, recipients=len(rows)))
        await session.flush()
        await session.execute(insert(Delivery), rows)
        if route == "group":
            result.group_id = broadcast_id
        else:
            result.batch_id = broadcast_id
        return result


def _status(found: Audience) -> str:
    if not found.valid:
        return "failure"
    return "partial_success" if found.invalid else "success"


async def _audience(session: AsyncSession, tenant_id: str, mode: str, req: NotifyRequest, types: tuple[str, ...],
                    errors: list[str]) -> Audience:
    if mode == "single":
        return audience.from_texts([req.to.strip()])  # type: ignore[union-attr]
    if mode == "phones":
        given = parts(req.phones)
        if len(given) > MAX_PHONES:
            errors.append(f"phones: {len(given)} numbers; at most {MAX_PHONES} a request (use labels for more)")
            return Audience()
        return audience.from_texts(given)
    try:
        labels = parse_labels(req.label, "label")
    except Invalid as exc:
        errors += exc.errors
        return Audience()
    known = set(await session.scalars(select(Label.number).where(
        Label.tenant_id == tenant_id, Label.number.in_(labels))))
    missing = [str(n) for n in labels if n not in known]
    if missing:
        errors.append(f"label: no label {', '.join(missing)} (GET /contacts/labels lists yours)")
        return Audience()
    return Audience(await audience.of_labels(session, tenant_id, labels, types))


def _schedule(text: str | None, zone: ZoneInfo, errors: list[str]) -> tuple[datetime, str | None]:
    """to_be_sent in the tenant's zone, as UTC; now when absent. One in the past is sent now."""
    at = now()
    if text is None or not text.strip():
        return at, None
    try:
        local = datetime.strptime(text.strip(), SCHEDULE_FORMAT).replace(tzinfo=zone)
    except ValueError:
        errors.append(f"to_be_sent: {text.strip()[:30]!r} is not YYYY-MM-DD HH:MM:SS (your time zone, {zone.key})")
        return at, None
    when = local.astimezone(at.tzinfo)
    if when > at + MAX_AHEAD:
        errors.append("to_be_sent: at most a year ahead")
    if when <= at:
        return at, f"to_be_sent {text.strip()} ({zone.key}) has passed: sending now"
    return when, None


def _delivery(broadcast_id: str, tenant_id: str, kind: str, phone: str, next_at: datetime,
              max_attempts: int) -> dict[str, Any]:
    return {"broadcast_id": broadcast_id, "tenant_id": tenant_id, "reference": ids.reference(), "kind": kind,
            "phone": phone, "state": "queued", "attempts": 0, "max_attempts": max_attempts, "next_at": next_at,
            "outcome": {}}


# -- one recipient, at once -------------------------------------------------------------------
@dataclass(frozen=True)
class CallRequest:
    cid: str | None = None
    to: str | None = None
    type: str | None = None
    route_number: str | None = None
    branch_number: str | None = None
    sfile_id: str | None = None
    recording: str | None = None
    greeting: str | None = None
    variables: str | None = None


async def notification_call(db: async_sessionmaker, tenant_id: str, req: CallRequest) -> str:
    """POST /notify/: one call, tried once; its reference id. The do-not-call list holds."""
    errors: list[str] = []
    async with db.begin() as session:
        tenant = await tenant_in(session, tenant_id)
        sender = await own_number(session, tenant_id, req.cid, "cid", errors)
        to = _recipient(req.to, errors)
        content = await call_content(session, tenant_id, req.type if req.type is not None else None,
                                     recording=req.recording, sfile_id=req.sfile_id, route_number=req.route_number,
                                     branch_number=req.branch_number, greeting=req.greeting,
                                     variables=req.variables, errors=errors)
        if not tenant.outbound_trunk:
            errors.append("calls need an outbound trunk: voicectl tenant set ID --outbound-trunk NAME")
        if not errors and to and await audience.blocked(session, tenant_id, [to], "CALL", True):
            errors.append(f"to: {req.to.strip()} is on your do-not-call list (dnc)")  # type: ignore[union-attr]
        if errors:
            raise Invalid([e.replace("call_type", "type") for e in errors])
        return await _one(session, tenant, "call", "CALL", sender, to, content)


@dataclass(frozen=True)
class SmsAccepted:
    reference_id: str
    to: str
    from_: str
    body: str
    did_type: str

    def as_voitex(self) -> dict[str, Any]:
        return {"to": self.to, "from": self.from_, "body": self.body, "did_type": self.did_type,
                "reference_id": self.reference_id, "state": "queued"}


async def send_sms(db: async_sessionmaker, tenant_id: str, sender_text: str | None, to_text: str | None,
                   body_text: str | None) -> SmsAccepted:
    """POST /sms/send/: one message, sent once. A number that texted STOP is never sent one."""
    errors: list[str] = []
    async with db.begin() as session:
        tenant = await tenant_in(session, tenant_id)
        sender = await own_number(session, tenant_id, sender_text, "from", errors)
        to = _recipient(to_text, errors)
        body = sms_body(body_text, MAX_SMS_BODY, errors)
        if not errors and await audience.blocked(session, tenant_id, [to], "SMS", True):
            errors.append(f"to: {to_text.strip()} has opted out of your messages (texted STOP) or is on your "  # type: ignore[union-attr]
                          "do-not-call list (dnc): not sent")
        if errors:
            raise Invalid(errors)
        reference = await _one(session, tenant, "sms", "SMS", sender, to, {"body": body})
    return SmsAccepted(reference, to_text.strip(), sender_text.strip(), body, did_type(sender))  # type: ignore[union-attr]


def _recipient(text: str | None, errors: list[str]) -> str:
    if not (text or "").strip():
        errors.append("to is required (the number to reach)")
        return ""
    try:
        return recipient_e164(text.strip())  # type: ignore[union-attr]
    except PhoneRefused as exc:
        errors.append(f"to: {exc}")
        return ""


async def _one(session: AsyncSession, tenant: Tenant, route: str, kind: str, sender: str, to: str,
               content: dict[str, Any]) -> str:
    at = now()
    reference = ids.reference()
    session.add(Broadcast(id=reference, tenant_id=tenant.id, request_id=ids.request_id(), route=route, type=kind,
                          mode="single", title="", from_number=sender, content=content, check_dnc=True, held=False,
                          not_before=at, created_at=at, recipients=1))
    await session.flush()
    row = _delivery(reference, tenant.id, kind, to, at, 1)
    row["reference"] = reference
    await session.execute(insert(Delivery), [row])
    return reference
