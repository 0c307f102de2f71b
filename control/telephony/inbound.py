"""An inbound call, from StasisStart to the call record: route by the dialled number,
answer, run the number's IVR, record how it went.

Every path ends in a record and a channel that is gone: a refused number, a routing or
database error, a failed answer, an exception anywhere in the IVR, a caller who hangs up
while the call is routed. A failure of the platform's own ends the call with cause 34 (PJSIP
answers an unanswered call 503), so a carrier or proxy fails over to another node.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Awaitable, Callable, Protocol

import aiohttp
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.calls.recorder import CallRecorder
from control.calls.service import CallEnd, CallStart, end_orphans
from control.clock import now
from control.flow.branches import CallContext
from control.flow.channel import DialTarget
from control.flow.context import Leg
from control.flow.channel import CallerHungUp
from control.flow.engine import run_ivr
from control.flow.play import MediaResolver
from control.flow.ports import ContactLookup, TransferTargets, Webhooks
from control.ivrs.lookup import TenantIvrs
from control.ivrs.routes import RouteCache
from control.ivrs.service import Route
from control.settings import Settings
from control.telephony.call import CallSession, Hangup
from control.recordings.sink import AriRecordingSink, call_part
from control.contacts.lookup import CallerContacts
from control.transfers.service import DialTargets

log = logging.getLogger(__name__)

UNALLOCATED = Hangup(1, "Unallocated (unassigned) number", "platform")
LOST = Hangup(None, "asterisk connection lost", "lost")
# Failures of the link to Asterisk rather than of the call: connection refused or reset, timeouts.
LINK_ERRORS = (aiohttp.ClientConnectionError, asyncio.TimeoutError, ConnectionError)
# Cause 34 is "no circuit/channel available": PJSIP sends 503 for an unanswered call.
PLATFORM_FAILURE = "congestion"
FAILURE_CAUSE = (34, "Circuit/channel congestion")


@dataclass(frozen=True)
class InboundLimits:
    max_call_seconds: float = Settings.max_call_seconds


class AdmissionPort(Protocol):
    """What a call asks of admission control (telephony/admission.py)."""

    def why_not(self, counting_this: bool = False) -> str | None: ...
    def answered(self, after_ms: float) -> None: ...


class AlwaysAdmit:
    def why_not(self, counting_this: bool = False) -> str | None:
        return None

    def answered(self, after_ms: float) -> None:
        return None


class InboundCalls:
    def __init__(self, db: async_sessionmaker, media: MediaResolver, recorder: CallRecorder, node: str,
                 limits: InboundLimits = InboundLimits(),
                 admission: AdmissionPort = AlwaysAdmit(), hooks: Webhooks | None = None,
                 recordings: Callable[[Any], AriRecordingSink] | None = None,
                 transfers: TransferTargets | None = None, contacts: ContactLookup | None = None) -> None:
        self._db = db
        # The record branch's sink for a call, given the ARI requests its session makes (the
        # takes are on that Asterisk); None: record branches have nowhere to keep what is said.
        self._recordings = recordings
        self._media = media
        self._recorder = recorder
        self._node = node
        self._limits = limits
        self._admission = admission
        self._routes = RouteCache(db)
        self._hooks = hooks
        self._ivrs = TenantIvrs(self._routes)
        # Where transfer branches may dial: tenants' trunks and country codes, cached like routes.
        self._transfers = transfers if transfers is not None else DialTargets(db)
        self._contacts = contacts if contacts is not None else CallerContacts(db)

    async def handle(self, session: CallSession) -> None:
        caller_id, caller_name = session.caller
        record = CallStart(session.id, "inbound", session.dialled, caller_id, caller_name, None,
                           _created(session) or now(), None, self._node)
        call: CallContext | None = None
        reason: str | None = None
        try:
            if session.args[:1] != ["inbound"]:
                reason = f"entered with unknown args {session.args}"
                await self._fail(session, reason)
                return
            refused = self._admission.why_not(True)
            if refused is not None:
                reason = f"refused: {refused}"
                await self._fail(session, reason)
                return
            # A To header's user is only passed for exten "s" (a registered contact), which is
            # no number: the dialplan (extensions.conf.j2) passes none for a dialled number.
            route = await self._routes.get(session.to_user or session.dialled)
            if route is not None:
                record = replace(record, tenant_id=route.tenant_id)
            if route is None or route.ivr is None:
                reason = "no such number" if route is None else "number has no IVR"
                # Cause 1 (unallocated) is sent to the SIP peer as 404 Not Found.
                log.warning("refusing call %s from %s to %s (To %s): %s", session.id, caller_id, session.dialled,
                            session.to_user or "-", reason)
                await session.reject("unallocated", UNALLOCATED)
                return
            record = replace(record, number=route.number)
            await session.answer()
            record = replace(record, answered_at=now())
            self._admission.answered(session.setup_ms())
            self._recorder.started(record)
            session.on_dial = lambda leg_id, target, caller, at: self._leg_dialled(record, leg_id, target, caller, at)
            call = self.context(session, caller_id, caller_name, route.number, route)
            reason = await self.capped(session, run_ivr(route.ivr, call))
        except CallerHungUp:
            pass
        except LINK_ERRORS as exc:
            # Asterisk did not answer: whether the call is still up is for the resync after
            # the link comes back to say (ensure_gone below waits for it).
            reason = f"asterisk unreachable: {type(exc).__name__}"
            log.warning("call %s: %s", session.id, reason)
        except Exception as exc:
            reason = f"platform error: {type(exc).__name__}: {exc}"
            log.exception("call %s failed", session.id)
            await self._fail(session, reason)
        finally:
            await self.finish(session, record, call, reason)

    @property
    def routes(self) -> RouteCache:
        return self._routes

    def context(self, session: CallSession, caller: str, caller_name: str, did: str, route: Route) -> CallContext:
        """What a call's branches use (an inbound call's, or a notification call's entering an IVR)."""
        return CallContext(session, self._media, call_id=session.id, caller=caller, caller_name=caller_name,
                           did=did, tenant=route.tenant, ivr=route.ivr, hooks=self._hooks, ivrs=self._ivrs,
                           recordings=self._recordings(session.ops) if self._recordings else None,
                           transfers=self._transfers, contacts=self._contacts)

    async def capped(self, session: CallSession, work: Awaitable[Any]) -> str | None:
        """Run a call's work under the call length cap; the reason when the cap ended it."""
        cap = asyncio.timeout(self._limits.max_call_seconds)
        try:
            async with cap:
                await work
        except TimeoutError:
            if not cap.expired():
                raise  # a request that timed out inside the IVR, not the cap
            reason = f"call longer than {self._limits.max_call_seconds:g} s"
            log.warning("call %s: %s; hanging up", session.id, reason)
            await session.hangup()
            return reason
        return None

    async def _fail(self, session: CallSession, reason: str) -> None:
        try:
            await session.reject(PLATFORM_FAILURE, Hangup(*FAILURE_CAUSE, "platform"))
        except Exception as exc:  # the record is still written; the channel's end is confirmed below
            log.warning("call %s: hanging up after a failure failed too: %s", session.id, exc)

    async def finish(self, session: CallSession, record: CallStart, call: CallContext | None,
                     reason: str | None, answered_at: datetime | None = None) -> None:
        """Confirm the channel is gone, then write its end (and its start, if not yet written)."""
        if call is None:
            self._recorder.started(record)
        try:
            await session.ensure_gone()
        except Exception as exc:
            log.error("call %s: could not confirm its channel is gone: %s", session.id, exc)
            session.hangup_info = session.hangup_info or LOST
        info = session.hangup_info or Hangup(None, None, "caller")
        why = reason or session.ended_by_platform or (call.reason if call else None)
        if call is None:
            self._recorder.ended(session.id, CallEnd(info.cause, info.cause_text, info.by, [], why))
            return
        self._recorder.ended(session.id, CallEnd(info.cause, info.cause_text, info.by, call.branch_data, why,
                                                 call.exchanges, call.variables, answered_at=answered_at))
        for leg in call.legs:
            self._leg_ended(leg)

    def _leg_dialled(self, record: CallStart, leg_id: str, target: DialTarget, caller_id: str, at: datetime) -> None:
        """A transfer's far leg: a call record of its own, linked to the call by parent_id,
        started as it is dialled (a kill -9 meanwhile leaves it to be closed `lost`)."""
        self._recorder.started(CallStart(leg_id, "outbound", target.number, caller_id, "", record.tenant_id, at,
                                         None, self._node, parent_id=record.id))

    def _leg_ended(self, leg: Leg) -> None:
        o = leg.outcome
        self._recorder.ended(o.leg_id, CallEnd(o.cause, o.cause_text, o.ended_by, [], o.error,
                                               variables={"transfer_result": o.status,
                                                          **({"sip_code": str(o.sip_code)} if o.sip_code else {})},
                                               ended_at=o.ended_at, answered_at=o.answered_at))

    async def reconcile(self, live_ids: set[str], owned: set[str], ops: Any = None) -> None:
        """After (re)connecting to Asterisk: close the records of this node's calls that are gone,
        and keep the takes a crash left in Asterisk (recordings/sink.py `salvage`)."""
        gone = await end_orphans(self._db, self._node, live_ids, owned)
        if gone:
            log.warning("closed %d call records whose channels are gone: %s", len(gone), ", ".join(gone[:10]))
        if ops is not None and self._recordings is not None:
            # Takes of calls still on this Asterisk (live_ids is its whole channel list) are
            # theirs to keep: only those of calls gone are salvaged.
            running = {call_part(i) for i in live_ids | owned}
            names = await ops.stored_recordings()
            if names:
                await self._recordings(ops).salvage(names, running.__contains__)


def _created(session: CallSession) -> datetime | None:
    text = session.channel.get("creationtime")
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
