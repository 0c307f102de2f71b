"""Sends what requests wrote: each node claims due recipients, sends them at each tenant's
rates and call limit, and records how each went.

At most once: a recipient is claimed (state `sending`, this node's name, committed) before
anything goes to Asterisk, and its outcome is committed after. A node that dies between the two
leaves claims it cannot vouch for: when it starts again it marks its own `interrupted` (a
message may have reached Asterisk, a call may have been up), never sends them again, and any
node does the same to claims older than `stale_after_s` (a node that never came back).

Claims are one UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING: on
PostgreSQL two replicas never claim one row; SQLite has one writer at a time anyway.

Rates are token buckets per tenant and kind in each process (a second replica sends at the
same rate again: see docs/notify.md); the call limit is counted in the database (every node's
calls of the tenant), and each node keeps its own cap on broadcast calls below its admission
limit, so inbound callers keep priority.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control.clock import now
from control.notify import audience, states
from control.notify.window import SendWindow, next_open
from control.store.models import Broadcast, Delivery, Tenant, Trunk
from control.ttl import BoundedDict, TtlMap

log = logging.getLogger(__name__)

TICK_S = 0.1  # how often a busy dispatcher looks for due work
IDLE_S = 1.0  # how often an idle one looks (work written by this process wakes it at once)
MAX_CLAIM = 200  # messages claimed at once (a second's worth at the highest rates)
SEND_CONCURRENCY = 50  # messages handed to Asterisk at once
TENANT_TTL_S = 2.0


@dataclass(frozen=True)
class TrunkRef:
    name: str
    host: str
    port: int


@dataclass(frozen=True)
class TenantRules:
    id: str
    timezone: ZoneInfo
    window: SendWindow
    calls_per_second: float
    messages_per_second: float
    max_calls: int
    trunk: TrunkRef | None


@dataclass(frozen=True)
class Job:
    """One recipient to reach now."""

    delivery_id: int
    reference: str
    tenant: TenantRules
    broadcast_id: str
    sender: str  # the tenant's number it comes from (E.164)
    to: str  # E.164
    attempt: int
    max_attempts: int
    content: dict[str, Any]


@dataclass
class Outcome:
    """How one attempt went: a state of control/notify/states.py, and what is known of it."""

    state: str
    detail: dict[str, Any] = field(default_factory=dict)
    # The attempt may be made again with no risk of a double send (nothing reached Asterisk).
    not_sent: bool = False


class Sender(Protocol):
    async def send_message(self, job: Job) -> Outcome: ...
    async def call(self, job: Job) -> Outcome:
        """Place the call and follow it to its end."""


@dataclass(frozen=True)
class DispatchLimits:
    node: str
    broadcast_calls: int  # this node's cap on notification calls at once
    retry_s: float = 300.0
    stale_after_s: float = 4 * 3600 + 600


class Bucket:
    """Tokens at `rate` a second, at most a second's worth (at least one) saved up."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self._clock = clock
        self._tokens = min(1.0, rate)
        self._at = clock()

    def available(self) -> int:
        at = self._clock()
        self._tokens = min(max(self.rate, 1.0), self._tokens + (at - self._at) * self.rate)
        self._at = at
        return int(self._tokens)

    def spend(self, n: int) -> None:
        self._tokens -= n


class Dispatcher:
    def __init__(self, db: async_sessionmaker, sender: Sender, limits: DispatchLimits,
                 admitting: Callable[[], bool] = lambda: True, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._sender = sender
        self._limits = limits
        self._admitting = admitting
        self._clock = clock
        self._wake = asyncio.Event()
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._tenants: TtlMap[str, TenantRules | None] = TtlMap(TENANT_TTL_S, clock)
        self._broadcasts: BoundedDict[str, Broadcast] = BoundedDict()
        self._calls: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.sent = 0  # attempts finished by this process (for health and benches)

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    def wake(self) -> None:
        """New work was written (by this process): look now, not at the next idle poll."""
        self._wake.set()

    async def recover(self) -> int:
        """Before the first claim: this node's claims from before a crash become interrupted."""
        return await self._interrupt(Delivery.node == self._limits.node)

    async def run(self) -> None:
        await self.recover()
        last_sweep = 0.0
        while not self._stopping:
            busy = False
            try:
                if self._clock() - last_sweep > 60:
                    last_sweep = self._clock()
                    stale = now() - timedelta(seconds=self._limits.stale_after_s)
                    await self._interrupt(Delivery.claimed_at < stale)
                busy = await self.step()
            except Exception:
                log.exception("dispatching failed; trying again")
                busy = False
                await asyncio.sleep(IDLE_S)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), TICK_S if busy else IDLE_S)
            except asyncio.TimeoutError:
                pass

    def halt(self) -> None:
        """Claim nothing more (calls under way go on)."""
        self._stopping = True
        self._wake.set()

    async def stop(self, grace_s: float = 0.0) -> None:
        """No new claims; calls under way get grace_s, then are cancelled (their recipients
        are recorded as the call's end says: a call cut by shutdown is no double send)."""
        self._stopping = True
        self._wake.set()
        if self._calls:
            await asyncio.wait(list(self._calls), timeout=grace_s or None)
        for task in list(self._calls):
            task.cancel()
        if self._calls:
            await asyncio.gather(*self._calls, return_exceptions=True)

    async def step(self) -> bool:
        """One look at what is due; True when something was claimed or is waiting for tokens."""
        busy = False
        for kind in ("SMS", "CALL"):
            async with self._db() as session:
                tenants = list(await session.scalars(select(Delivery.tenant_id).where(
                    Delivery.state == states.QUEUED, Delivery.kind == kind, Delivery.next_at <= now())
                    .distinct()))
            for tenant_id in tenants:
                busy = True
                rules = await self._tenants.get_or_load(tenant_id, lambda: self._rules(tenant_id))
                if rules is None:
                    continue
                if kind == "SMS":
                    await self._messages(rules)
                else:
                    await self._start_calls(rules)
        return busy or bool(self._calls)

    # -- messages -------------------------------------------------------------------------------
    async def _messages(self, rules: TenantRules) -> None:
        bucket = self._bucket(rules.id, "SMS", rules.messages_per_second)
        jobs = await self._claim(rules, "SMS", min(bucket.available(), MAX_CLAIM))
        bucket.spend(len(jobs))
        if not jobs:
            return
        gate = asyncio.Semaphore(SEND_CONCURRENCY)

        async def one(job: Job) -> tuple[Job, Outcome]:
            async with gate:
                try:
                    return job, await self._sender.send_message(job)
                except Exception as exc:  # a sender's bug: the message may have gone
                    log.exception("message %s: sending failed", job.reference)
                    return job, Outcome(states.FAILED, {"error": f"{type(exc).__name__}: {exc}"[:200]})

        await self._record(await asyncio.gather(*(one(job) for job in jobs)))

    # -- calls ----------------------------------------------------------------------------------
    async def _start_calls(self, rules: TenantRules) -> None:
        room = self._limits.broadcast_calls - len(self._calls)
        if room <= 0 or not self._admitting():
            return
        async with self._db() as session:
            up = await session.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.tenant_id == rules.id, Delivery.kind == "CALL", Delivery.state == states.SENDING))
        bucket = self._bucket(rules.id, "CALL", rules.calls_per_second)
        n = min(room, rules.max_calls - int(up or 0), bucket.available())
        if n <= 0:
            return
        jobs = await self._claim(rules, "CALL", n)
        bucket.spend(len(jobs))
        for job in jobs:
            task = asyncio.ensure_future(self._call(job))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)

    async def _call(self, job: Job) -> None:
        try:
            outcome = await self._sender.call(job)
        except asyncio.CancelledError:
            outcome = Outcome(states.INTERRUPTED, {"error": "the control plane stopped during the call"})
        except Exception as exc:
            log.exception("call %s: placing it failed", job.reference)
            outcome = Outcome(states.FAILED, {"error": f"{type(exc).__name__}: {exc}"[:200]})
        await asyncio.shield(self._record([(job, outcome)]))
        self.wake()  # room for the next one

    # -- claims and records ----------------------------------------------------------------------
    async def _claim(self, rules: TenantRules, kind: str, n: int) -> list[Job]:
        if n <= 0:
            return []
        at = now()
        due = (select(Delivery.id).where(Delivery.state == states.QUEUED, Delivery.kind == kind,
                                         Delivery.tenant_id == rules.id, Delivery.next_at <= at)
               .order_by(Delivery.next_at, Delivery.id).limit(n).with_for_update(skip_locked=True))
        async with self._db.begin() as session:
            claimed = (await session.execute(
                update(Delivery).where(Delivery.id.in_(due.scalar_subquery()), Delivery.state == states.QUEUED)
                .values(state=states.SENDING, node=self._limits.node, claimed_at=at, attempts=Delivery.attempts + 1)
                .returning(Delivery.id, Delivery.reference, Delivery.broadcast_id, Delivery.phone, Delivery.attempts,
                           Delivery.max_attempts)
                .execution_options(synchronize_session=False))).all()
            if not claimed:
                return []
            broadcasts = await self._broadcasts_of(session, {row.broadcast_id for row in claimed})
            jobs = [Job(row.id, row.reference, rules, row.broadcast_id, broadcasts[row.broadcast_id].from_number,
                        row.phone, row.attempts, row.max_attempts, broadcasts[row.broadcast_id].content) for row in claimed]
            # What changed since the request: an opt-out, a do-not-call entry, the window.
            held = await self._hold_back(session, rules, jobs, broadcasts, at)
            barred = await self._barred(session, rules, kind, [j for j in jobs if j.delivery_id not in held],
                                        broadcasts)
        return [j for j in jobs if j.delivery_id not in held and j.delivery_id not in barred]

    async def _hold_back(self, session: AsyncSession, rules: TenantRules, jobs: list[Job],
                         broadcasts: dict[str, Broadcast], at: datetime) -> set[int]:
        held: set[int] = set()
        for job in jobs:
            if not broadcasts[job.broadcast_id].held:
                continue
            opens = next_open(job.to, at, rules.window, rules.timezone)
            if opens > at:
                held.add(job.delivery_id)
                await session.execute(update(Delivery).where(Delivery.id == job.delivery_id).values(
                    state=states.QUEUED, node=None, claimed_at=None, next_at=opens,
                    attempts=Delivery.attempts - 1).execution_options(synchronize_session=False))
        return held

    async def _barred(self, session: AsyncSession, rules: TenantRules, kind: str, jobs: list[Job],
                      broadcasts: dict[str, Broadcast]) -> set[int]:
        barred: set[int] = set()
        for check in (True, False):
            some = [j for j in jobs if broadcasts[j.broadcast_id].check_dnc is check]
            if not some:
                continue
            blocked = await audience.blocked(session, rules.id, [j.to for j in some], kind, check)
            barred.update(j.delivery_id for j in some if j.to in blocked)
        if barred:
            await session.execute(update(Delivery).where(Delivery.id.in_(barred)).values(
                state=states.DNC, finished_at=now(), outcome={"error": "opted out or on the do-not-call list"})
                .execution_options(synchronize_session=False))
        return barred

    async def _broadcasts_of(self, session: AsyncSession, ids: set[str]) -> dict[str, Broadcast]:
        # What a broadcast sends never changes after it is written: read once per process.
        missing = [i for i in ids if i not in self._broadcasts]
        if missing:
            for row in await session.scalars(select(Broadcast).where(Broadcast.id.in_(missing))):
                self._broadcasts[row.id] = row
        return {i: self._broadcasts[i] for i in ids}

    async def _record(self, results: list[tuple[Job, Outcome]]) -> None:
        at = now()
        async with self._db.begin() as session:
            for job, outcome in results:
                values: dict[str, Any] = {"outcome": outcome.detail, "node": None if outcome.not_sent else
                                          self._limits.node}
                retry = outcome.state in states.RETRIED and job.attempt < job.max_attempts
                if outcome.not_sent:
                    values.update(state=states.QUEUED, attempts=job.attempt - 1, claimed_at=None,
                                  next_at=at + timedelta(seconds=5))
                elif retry:
                    values.update(state=states.QUEUED, claimed_at=None,
                                  next_at=at + timedelta(seconds=self._limits.retry_s))
                else:
                    values.update(state=outcome.state, finished_at=at)
                # Only a claim still this node's is recorded: one a sweep marked interrupted
                # (this node was taken for dead) stays as it is.
                await session.execute(update(Delivery).where(
                    Delivery.id == job.delivery_id, Delivery.state == states.SENDING,
                    Delivery.node == self._limits.node).values(**values)
                    .execution_options(synchronize_session=False))
        self.sent += len(results)

    async def _interrupt(self, which: Any) -> int:
        async with self._db.begin() as session:
            done = await session.execute(update(Delivery).where(Delivery.state == states.SENDING, which).values(
                state=states.INTERRUPTED, finished_at=now(),
                outcome={"error": "the node sending it stopped before recording how it went; not sent again"})
                .execution_options(synchronize_session=False))
        if done.rowcount:
            log.warning("%d recipient(s) claimed by a node that stopped are marked interrupted", done.rowcount)
        return int(done.rowcount or 0)

    def _bucket(self, tenant_id: str, kind: str, rate: float) -> Bucket:
        bucket = self._buckets.get((tenant_id, kind))
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[(tenant_id, kind)] = Bucket(rate, self._clock)
        return bucket

    async def _rules(self, tenant_id: str) -> TenantRules | None:
        async with self._db() as session:
            found = (await session.execute(select(Tenant, Trunk).outerjoin(Trunk, Trunk.name == Tenant.outbound_trunk)
                                           .where(Tenant.id == tenant_id))).first()
        if found is None:
            return None
        tenant, trunk = found
        return TenantRules(tenant.id, ZoneInfo(tenant.timezone), SendWindow.parse(tenant.send_window),
                           tenant.calls_per_second, tenant.messages_per_second, tenant.max_calls,
                           TrunkRef(trunk.name, trunk.target_host, trunk.target_port) if trunk else None)
