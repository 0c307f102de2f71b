"""The dispatcher against a real database (SQLite, and PostgreSQL for two replicas at once)
with a sender that counts: every recipient reached once, at the tenant's rate and call limit,
held for the send window, retried when busy, never sent twice after a crash."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.notify import dnc, service, states, status
from control.notify.dispatcher import Dispatcher, DispatchLimits, Job, Outcome
from control.notify.window import SendWindow, next_open
from control.numbers.service import add_number
from control.store.db import make_engine, migrate, sessions
from control.clock import now
from control.ivrs.service import import_ivr
from control.store.models import Delivery, Tenant, Trunk
from control.tenants.service import create_tenant

FROM = "8459511000"


class Counting:
    """A carrier that takes everything; calls to numbers ending in 2 are busy."""

    def __init__(self, call_s: float = 0.0) -> None:
        self.messages: list[str] = []
        self.calls: list[str] = []
        self.at: list[float] = []
        self.up = 0
        self.most_up = 0
        self.call_s = call_s

    async def send_message(self, job: Job) -> Outcome:
        self.messages.append(job.to)
        self.at.append(time.monotonic())
        return Outcome(states.SENT)

    async def call(self, job: Job) -> Outcome:
        self.calls.append(job.to)
        self.up += 1
        self.most_up = max(self.most_up, self.up)
        try:
            await asyncio.sleep(self.call_s)
        finally:
            self.up -= 1
        return Outcome(states.BUSY if job.to.endswith("2") else states.ANSWERED, {"call_id": f"c{len(self.calls)}"})


async def tenant_with_number(db: async_sessionmaker, **settings: Any) -> str:
    tenant = await create_tenant(db, "Acme")
    await add_number(db, FROM, tenant.id)
    await import_ivr(db, FROM, {"branches": {"0": {"type": "hangup"}}})
    async with db.begin() as session:
        session.add(Trunk(name="carrier", matches=["127.0.0.7"], target_host="127.0.0.7", target_port=5090,
                          created_at=now()))
    async with db.begin() as session:
        await session.execute(update(Tenant).values(outbound_trunk="carrier", send_window="00:00-24:00",
                                                    **settings))
    return tenant.id


def phones(n: int, start: int = 0) -> str:
    return ",".join(f"845{5000000 + start + i:07d}" for i in range(n))


async def until_done(db: async_sessionmaker, tenant_id: str, broadcast_id: str, *dispatchers: Dispatcher,
                     timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.gather(*(d.step() for d in dispatchers))
        shown = await status.broadcast(db, tenant_id, broadcast_id)
        if shown["status"] in ("done", "cancelled"):
            return shown
        await asyncio.sleep(0.02)
    raise AssertionError(f"not done: {shown}")


def limits(**kw: Any) -> DispatchLimits:
    return DispatchLimits(**{"node": "n1", "broadcast_calls": 50, "retry_s": 0.0, **kw})


async def test_every_recipient_is_sent_once_and_counted(db: async_sessionmaker) -> None:
    tenant = await tenant_with_number(db, messages_per_second=1000)
    result = await service.notify(db, tenant, service.NotifyRequest(type="SMS", cid=FROM, phones=phones(500),
                                                                    body="hello"))
    carrier = Counting()
    shown = await until_done(db, tenant, result.group_id, Dispatcher(db, carrier, limits()))
    assert len(carrier.messages) == 500 and len(set(carrier.messages)) == 500
    assert shown["counts"]["sent"] == 500 and shown["done"] == 500


async def test_messages_go_at_the_tenants_rate(db: async_sessionmaker) -> None:
    tenant = await tenant_with_number(db, messages_per_second=20)
    result = await service.notify(db, tenant, service.NotifyRequest(type="SMS", cid=FROM, phones=phones(40),
                                                                    body="hello"))
    carrier = Counting()
    await until_done(db, tenant, result.group_id, Dispatcher(db, carrier, limits()))
    spread = carrier.at[-1] - carrier.at[0]
    # 40 at 20/s: a second's worth at most goes at once, the rest at the rate.
    assert 0.9 < spread < 3.0, spread


async def test_calls_keep_to_the_tenants_limit_and_busy_ones_are_tried_again(db: async_sessionmaker) -> None:
    tenant = await tenant_with_number(db, calls_per_second=1000, max_calls=3)
    result = await service.notify(db, tenant, service.NotifyRequest(
        type="CALL", cid=FROM, phones=phones(10), call_type="goto", route_number=FROM, branch_number="0"),
        service.Attempts(broadcast_calls=2))
    assert result.status == "success", result
    carrier = Counting(call_s=0.05)
    shown = await until_done(db, tenant, result.batch_id, Dispatcher(db, carrier, limits()))
    assert carrier.most_up <= 3
    busy = [p for p in carrier.calls if p.endswith("2")]
    assert len(busy) == 2 and len(carrier.calls) == 11  # one busy number, tried twice
    assert shown["counts"]["answered"] == 9 and shown["counts"]["busy"] == 1


async def test_nanp_recipients_wait_for_their_send_window(db: async_sessionmaker) -> None:
    tenant = await tenant_with_number(db)
    async with db.begin() as session:
        await session.execute(update(Tenant).values(send_window="08:00-21:00"))
    result = await service.notify(db, tenant, service.NotifyRequest(type="SMS", cid=FROM, to="2125550100",
                                                                    body="hello"))
    async with db() as session:
        row = await session.scalar(select(Delivery))
    window = SendWindow.parse("08:00-21:00")
    opens = next_open("+12125550100", datetime.now(timezone.utc), window, None)  # type: ignore[arg-type]
    assert abs((row.next_at.replace(tzinfo=timezone.utc) - opens).total_seconds()) < 5
    local = opens.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert 8 * 60 <= local.hour * 60 + local.minute < 21 * 60
    assert result.status == "success"


def test_the_window_opens_at_eight_local_time() -> None:
    window = SendWindow.parse("08:00-21:00")
    from zoneinfo import ZoneInfo
    at_night = datetime(2026, 7, 1, 2, 0, tzinfo=timezone.utc)  # 22:00 in New York, 19:00 in Los Angeles
    assert next_open("+12125550100", at_night, window, ZoneInfo("UTC")) == \
        datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)  # 08:00 EDT
    assert next_open("+13105550100", at_night, window, ZoneInfo("UTC")) == at_night  # 19:00 PDT: open
    assert next_open("+442079460000", at_night, window, ZoneInfo("UTC")) == at_night  # not NANP: not held


async def test_a_crash_leaves_claims_interrupted_never_resent(db: async_sessionmaker) -> None:
    tenant = await tenant_with_number(db, messages_per_second=1000)
    result = await service.notify(db, tenant, service.NotifyRequest(type="SMS", cid=FROM, phones=phones(30),
                                                                    body="hello"))

    class Dies(Counting):
        async def send_message(self, job: Job) -> Outcome:
            await super().send_message(job)
            raise asyncio.CancelledError  # the process dies with the message handed over

    first = Dispatcher(db, Dies(), limits())
    with pytest.raises(asyncio.CancelledError):
        await first.step()
    carrier = Counting()
    again = Dispatcher(db, carrier, limits())  # the same node, restarted
    interrupted = await again.recover()
    shown = await until_done(db, tenant, result.group_id, again)
    assert interrupted > 0
    assert shown["counts"]["interrupted"] == interrupted
    assert shown["counts"]["sent"] == 30 - interrupted == len(carrier.messages)


async def test_cancel_stops_what_has_not_gone(db: async_sessionmaker) -> None:
    tenant = await tenant_with_number(db, messages_per_second=5)
    result = await service.notify(db, tenant, service.NotifyRequest(type="SMS", cid=FROM, phones=phones(50),
                                                                    body="hello"))
    carrier = Counting()
    dispatcher = Dispatcher(db, carrier, limits())
    await dispatcher.step()
    cancelled = await status.cancel(db, tenant, result.group_id)
    shown = await until_done(db, tenant, result.group_id, dispatcher)
    assert cancelled == 50 - len(carrier.messages) > 0
    assert shown["counts"]["cancelled"] == cancelled and shown["status"] == "cancelled"


async def test_an_opt_out_after_queueing_is_never_sent(db: async_sessionmaker) -> None:
    tenant = await tenant_with_number(db, messages_per_second=1000)
    result = await service.notify(db, tenant, service.NotifyRequest(type="SMS", cid=FROM, phones=phones(3),
                                                                    body="hello"))
    async with db.begin() as session:
        await dnc.opt(session, tenant, "+18455000001", "stop")
    carrier = Counting()
    shown = await until_done(db, tenant, result.batch_id, Dispatcher(db, carrier, limits()))
    assert sorted(carrier.messages) == ["+18455000000", "+18455000002"]
    assert shown["counts"]["dnc"] == 1


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[async_sessionmaker]:
    engine = make_engine(postgres_url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    await asyncio.to_thread(migrate, postgres_url)
    engine = make_engine(postgres_url)
    yield sessions(engine)
    await engine.dispose()


async def test_two_replicas_on_postgres_share_the_work_without_double_sends(pg: async_sessionmaker) -> None:
    tenant = await tenant_with_number(pg, messages_per_second=1000)
    result = await service.notify(pg, tenant, service.NotifyRequest(type="SMS", cid=FROM, phones=phones(2000),
                                                                     body="hello"))
    one, two = Counting(), Counting()
    await until_done(pg, tenant, result.group_id, Dispatcher(pg, one, limits(node="a")),
                     Dispatcher(pg, two, limits(node="b")), timeout=60)
    everything = one.messages + two.messages
    assert len(everything) == 2000 and len(set(everything)) == 2000
    assert one.messages and two.messages  # both took a share
