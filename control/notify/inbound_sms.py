"""A text message that reached one of a tenant's numbers: kept first, then STOP/START applied,
then POSTed to the tenant's SMS webhook, signed like trigger requests. The body sent:

    {"reference_id", "from", "to", "body", "received_at", "keyword"}

(`from`/`to` as Voitex writes numbers: NANP as 10 digits; `keyword` "stop"/"start" when the
message opted the sender out or back in, else null). A message whose webhook has not answered
2xx is tried again (WEBHOOK_TRIES times in all, the last ones after restarts too): at least
once, so integrators deduplicate by reference_id.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.clock import as_utc, now
from control.flow.ports import Webhooks
from control.notify import dnc, ids
from control.numbers.phone import to_e164, voitex_style
from control.numbers.recipients import PhoneRefused, recipient_e164
from control.store.models import InboundMessage, Number, Tenant

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_TRIES = 3
RETRY_S = (1.0, 5.0)
MAX_BODY = 10_000  # longer bodies are cut: a MESSAGE is no file transfer


@dataclass(frozen=True)
class Received:
    reference_id: str
    tenant_id: str
    keyword: str | None


def user_of(uri: str) -> str:
    """The user part of a SIP URI as Asterisk gives it ('"Bob" <sip:+1845...@host>' -> '+1845...')."""
    text = uri.strip()
    if "<" in text:
        text = text[text.index("<") + 1:].split(">", 1)[0]
    for scheme in ("sips:", "sip:", "pjsip:", "tel:"):
        if text.startswith(scheme):
            text = text[len(scheme):]
    return text.split("@", 1)[0].split(";", 1)[0]


async def receive(db: async_sessionmaker, sender_uri: str, to_uri: str, body: str) -> Received | None:
    """Keep a message; None when it is for no number of ours (logged, not kept)."""
    try:
        to = to_e164(user_of(to_uri), strict=False)
    except ValueError:
        log.warning("text message to %r: not one of our numbers; dropped", to_uri[:80])
        return None
    sender = user_of(sender_uri)[:64]
    async with db.begin() as session:
        found = (await session.execute(select(Number.tenant_id, Tenant.sms_webhook).join(
            Tenant, Tenant.id == Number.tenant_id).where(Number.e164 == to))).first()
        if found is None:
            log.warning("text message to %s: not one of our numbers; dropped", to)
            return None
        tenant_id, webhook = found
        word = dnc.keyword(body)
        if word is not None:
            try:
                await dnc.opt(session, tenant_id, recipient_e164(sender), word)
            except PhoneRefused:
                word = None  # a sender that is no phone number cannot be sent to anyway
        reference = ids.reference()
        session.add(InboundMessage(id=reference, tenant_id=tenant_id, from_number=sender, to_number=to,
                                   body=body[:MAX_BODY], received_at=now(),
                                   webhook="pending" if webhook else "none"))
    return Received(reference, tenant_id, word)


def webhook_body(message: InboundMessage) -> dict[str, Any]:
    return {"reference_id": message.id, "from": voitex_style(message.from_number),
            "to": voitex_style(message.to_number), "body": message.body,
            "received_at": as_utc(message.received_at).isoformat(), "keyword": dnc.keyword(message.body)}


async def deliver(db: async_sessionmaker, hooks: Webhooks, reference: str, tries: int = WEBHOOK_TRIES) -> str:
    """POST one kept message to its tenant's webhook until it answers 2xx or tries run out;
    the message's webhook state ("delivered", "failed", "none")."""
    async with db() as session:
        found = (await session.execute(select(InboundMessage, Tenant.sms_webhook, Tenant.signing_secret).join(
            Tenant, Tenant.id == InboundMessage.tenant_id).where(InboundMessage.id == reference))).first()
    if found is None:
        return "none"
    message, url, secret = found
    if not url:
        return await _mark(db, reference, "none", None)
    detail = None
    for attempt in range(tries):
        answer = await hooks.post(url, webhook_body(message), secret=secret, timeout=WEBHOOK_TIMEOUT_S)
        if answer.status is not None and 200 <= answer.status < 300:
            return await _mark(db, reference, "delivered", f"HTTP {answer.status}")
        detail = answer.error or f"HTTP {answer.status}"
        if attempt < tries - 1:
            await asyncio.sleep(RETRY_S[min(attempt, len(RETRY_S) - 1)])
    log.warning("text message %s: the tenant's webhook did not take it: %s", reference, detail)
    return await _mark(db, reference, "failed", detail)


async def pending(db: async_sessionmaker, older_than: datetime) -> list[str]:
    """Messages whose webhook is still to be tried (a restart came between keeping and POSTing)."""
    async with db() as session:
        return list(await session.scalars(select(InboundMessage.id).where(
            InboundMessage.webhook == "pending", InboundMessage.received_at < older_than).limit(1000)))


async def _mark(db: async_sessionmaker, reference: str, state: str, detail: str | None) -> str:
    async with db.begin() as session:
        await session.execute(update(InboundMessage).where(InboundMessage.id == reference).values(
            webhook=state, webhook_detail=(detail or "")[:200] or None))
    return state
