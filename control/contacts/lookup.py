"""The ContactLookup port (control/flow/ports.py) over the contacts table: one indexed query a
call, made only when a branch asks. Not cached across calls: an integrator's update must be
seen by the next call."""
from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from control.contacts.service import contact_for_phone
from control.numbers.recipients import PhoneRefused, recipient_e164


class CallerContacts:
    def __init__(self, db: async_sessionmaker) -> None:
        self._db = db

    async def for_caller(self, tenant_id: str, caller: str) -> dict[str, Any] | None:
        try:
            phone = recipient_e164(caller)
        except PhoneRefused:  # "anonymous", a SIP user, a short code: no contact has it
            return None
        found = await contact_for_phone(self._db, tenant_id, phone)
        return found.as_voitex() if found is not None else None
