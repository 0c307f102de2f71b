"""How sending requests are doing: a recipient by its reference id, a batch or group by its
id (counts by state), the tenant's recent broadcasts; and cancelling what has not gone yet."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.clock import as_utc, now
from control.errors import NotFound
from control.notify import states
from control.store.models import Broadcast, Delivery

MAX_ID = 64


def _when(at: datetime | None) -> str | None:
    return as_utc(at).isoformat() if at is not None else None


def _tenant_filter(query: Any, column: Any, tenant_id: str | None) -> Any:
    return query if tenant_id is None else query.where(column == tenant_id)


async def recipient(db: async_sessionmaker, tenant_id: str | None, reference: str) -> dict[str, Any]:
    """GET /notify/{reference_id}: one recipient and how reaching it went."""
    if len(reference) > MAX_ID:
        raise NotFound(f"no notification {reference[:MAX_ID]!r}")
    async with db() as session:
        found = (await session.execute(_tenant_filter(
            select(Delivery, Broadcast).join(Broadcast, Broadcast.id == Delivery.broadcast_id)
            .where(Delivery.reference == reference), Delivery.tenant_id, tenant_id))).first()
    if found is None:
        raise NotFound(f"no notification {reference!r}")
    delivery, broadcast = found
    return {"reference_id": delivery.reference, "type": delivery.kind, "to": delivery.phone,
            "from": broadcast.from_number, "state": delivery.state, "attempts": delivery.attempts,
            "max_attempts": delivery.max_attempts, "next_at": _when(delivery.next_at)
            if delivery.state == states.QUEUED else None, "finished_at": _when(delivery.finished_at),
            "outcome": delivery.outcome or {}, "broadcast_id": broadcast.id if broadcast.route in ("single", "group")
            else None, "created_at": _when(broadcast.created_at)}


async def broadcast(db: async_sessionmaker, tenant_id: str | None, broadcast_id: str) -> dict[str, Any]:
    """GET /notify/notify/{group_id or batch_id}: the request and its recipients' counts by state."""
    if len(broadcast_id) > MAX_ID:
        raise NotFound(f"no broadcast {broadcast_id[:MAX_ID]!r}")
    async with db() as session:
        row = await session.scalar(_tenant_filter(select(Broadcast).where(Broadcast.id == broadcast_id),
                                                  Broadcast.tenant_id, tenant_id))
        if row is None:
            raise NotFound(f"no broadcast {broadcast_id!r}")
        counts = dict((await session.execute(select(Delivery.state, func.count()).where(
            Delivery.broadcast_id == broadcast_id).group_by(Delivery.state))).all())
    return shown(row, counts)


def shown(row: Broadcast, counts: dict[str, int]) -> dict[str, Any]:
    by_state = {state: int(counts.get(state, 0)) for state in states.ALL}
    open_ = by_state[states.QUEUED] + by_state[states.SENDING]
    status = "cancelled" if row.cancelled_at is not None and not open_ else \
        "done" if not open_ else "scheduled" if as_utc(row.not_before) > now() and not by_state[states.SENDING] \
        else "sending"
    return {"id": row.id, "route": row.route, "type": row.type, "mode": row.mode, "title": row.title,
            "from": row.from_number, "status": status, "created_at": _when(row.created_at),
            "to_be_sent": _when(row.not_before), "cancelled_at": _when(row.cancelled_at),
            "recipients": row.recipients, "done": row.recipients - open_, "counts": by_state}


async def recent(db: async_sessionmaker, tenant_id: str | None, limit: int = 50) -> list[dict[str, Any]]:
    async with db() as session:
        rows = list(await session.scalars(_tenant_filter(
            select(Broadcast).order_by(Broadcast.created_at.desc()).limit(limit), Broadcast.tenant_id, tenant_id)))
        counts: dict[str, dict[str, int]] = {}
        if rows:
            for bid, state, count in await session.execute(
                    select(Delivery.broadcast_id, Delivery.state, func.count())
                    .where(Delivery.broadcast_id.in_([r.id for r in rows]))
                    .group_by(Delivery.broadcast_id, Delivery.state)):
                counts.setdefault(bid, {})[state] = count
    return [shown(row, counts.get(row.id, {})) for row in rows]


async def cancel(db: async_sessionmaker, tenant_id: str | None, broadcast_id: str) -> int:
    """Stop what has not gone yet: queued recipients become cancelled (one statement, so a
    dispatcher claims each either before, and sends it, or never). Returns how many."""
    async with db.begin() as session:
        row = await session.scalar(_tenant_filter(select(Broadcast).where(Broadcast.id == broadcast_id)
                                                  .with_for_update(), Broadcast.tenant_id, tenant_id))
        if row is None:
            raise NotFound(f"no broadcast {broadcast_id[:MAX_ID]!r}")
        at = now()
        row.cancelled_at = row.cancelled_at or at
        done = await session.execute(update(Delivery).where(
            Delivery.broadcast_id == broadcast_id, Delivery.state == states.QUEUED)
            .values(state=states.CANCELLED, finished_at=at).execution_options(synchronize_session=False))
    return int(done.rowcount or 0)
