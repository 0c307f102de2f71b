"""Call records: one row per call (written by calls/recorder.py), read and reconciled here."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.clock import now
from control.errors import NotFound
from control.store.models import Call

MAX_CALL_ID = 64  # the column's length: Asterisk's channel ids, prefixed by the node's name


@dataclass(frozen=True)
class CallStart:
    id: str
    direction: str
    number: str
    caller_id: str
    caller_name: str
    tenant_id: str | None
    started_at: datetime
    answered_at: datetime | None
    node: str = ""
    parent_id: str | None = None  # a far leg's call (the one whose transfer dialled it)


@dataclass(frozen=True)
class CallEnd:
    cause: int | None
    cause_text: str | None
    # "caller", "platform", "asterisk" (Asterisk ended it itself: shutting down, an RTP
    # timeout, an operator's command) or "lost" (the link to Asterisk went away mid-call)
    by: str
    branch_data: list[dict[str, str]]
    reason: str | None = None  # why the platform ended or refused it, when it did
    # Webhook exchanges (url, status, ms, reason, answer...) in order, and the call's variables
    # when it ended: kept so an integrator can debug a flow from `voicectl calls show`.
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    ended_at: datetime | None = None  # when it ended, when known before it is recorded (a far leg); else now
    # When it was answered, when that was learnt after its start was recorded (a far leg
    # recorded as it was dialled); None leaves what the start said.
    answered_at: datetime | None = None


async def end_orphans(db: async_sessionmaker, node: str, live_ids: set[str], owned: set[str]) -> list[str]:
    """Close this node's calls the database thinks are up but Asterisk no longer has (after a
    restart). Other nodes' calls are theirs to reconcile; calls a running session still owns
    are left to it: it records its own end."""
    async with db.begin() as session:
        open_ids = set((await session.scalars(
            select(Call.id).where(Call.ended_at.is_(None), Call.node == node))).all())
        gone = sorted(open_ids - live_ids - owned)
        if gone:
            await session.execute(update(Call).where(Call.id.in_(gone)).values(
                ended_at=now(), hangup_by="lost", hangup_cause_text="asterisk connection lost"))
    return gone


async def close_nodeless(db: async_sessionmaker) -> int:
    """Records left open by a control plane from before nodes existed: no node will ever
    reconcile them, so `init`/`up` close them as lost."""
    async with db.begin() as session:
        result = await session.execute(update(Call).where(Call.ended_at.is_(None), Call.node == "").values(
            ended_at=now(), hangup_by="lost", hangup_cause_text="asterisk connection lost"))
    return result.rowcount or 0


async def list_calls(db: async_sessionmaker, limit: int = 50) -> list[Call]:
    async with db() as session:
        return list((await session.scalars(select(Call).order_by(Call.started_at.desc()).limit(limit))).all())


def could_be_call_id(text: str) -> bool:
    """Whether text could name a recorded call: printable and within the column. Any other is
    not found without a query (PostgreSQL refuses a NUL in text as an error, not "no row")."""
    return text.isprintable() and 0 < len(text) <= MAX_CALL_ID


async def legs_of(db: async_sessionmaker, call_id: str) -> list[Call]:
    """The far legs a call dialled (its transfers), oldest first."""
    if not could_be_call_id(call_id):
        return []
    async with db() as session:
        return list((await session.scalars(
            select(Call).where(Call.parent_id == call_id).order_by(Call.started_at))).all())


async def get_call(db: async_sessionmaker, call_id: str) -> Call:
    if not could_be_call_id(call_id):
        raise NotFound(f"call {call_id[:MAX_CALL_ID]!r}{'...' if len(call_id) > MAX_CALL_ID else ''} does not exist")
    async with db() as session:
        call = await session.get(Call, call_id)
    if call is None:
        raise NotFound(f"call {call_id} does not exist")
    return call
