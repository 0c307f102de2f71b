"""An inbound call, from StasisStart to the call record: route by the dialled number,
answer, run the number's IVR, record how it went."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker

from control.calls.recorder import CallRecorder
from control.calls.service import CallEnd, CallStart, end_orphans
from control.clock import now
from control.flow.branches import CallContext
from control.flow.channel import CallerHungUp
from control.flow.engine import run_ivr
from control.flow.play import MediaResolver
from control.ivrs.routes import RouteCache
from control.telephony.call import CallSession

log = logging.getLogger(__name__)


class InboundCalls:
    def __init__(self, db: async_sessionmaker, media: MediaResolver, recorder: CallRecorder) -> None:
        self._db = db
        self._media = media
        self._recorder = recorder
        self._routes = RouteCache(db)

    async def handle(self, session: CallSession) -> None:
        if session.args[:1] != ["inbound"]:
            log.warning("call %s entered with unknown args %s; hanging up", session.id, session.args)
            await session.hangup()
            return
        caller_id, caller_name = session.caller
        started = _created(session) or now()
        route = await self._routes.get(session.dialled)
        if route is None or route.ivr is None:
            # Cause 1 (unallocated) is sent to the SIP peer as 404 Not Found.
            log.warning("refusing call %s from %s to %s: %s", session.id, caller_id, session.dialled,
                        "no such number" if route is None else "number has no IVR")
            await session.reject("unallocated")
            self._recorder.started(CallStart(session.id, "inbound", session.dialled, caller_id, caller_name,
                                             route.tenant_id if route else None, started, None))
            self._recorder.ended(session.id, CallEnd(1, "Unallocated (unassigned) number", "platform", []))
            return
        await session.answer()
        self._recorder.started(CallStart(session.id, "inbound", route.number, caller_id, caller_name,
                                         route.tenant_id, started, now()))
        call = CallContext(session, self._media)
        try:
            await run_ivr(route.ivr, call)
        except CallerHungUp:
            pass
        finally:
            await session.wait_left(2.0)
            info = session.hangup_info
            self._recorder.ended(session.id, CallEnd(
                info.cause if info else None, info.cause_text if info else None,
                info.by if info else "caller", call.branch_data))

    async def reconcile(self, live_ids: set[str], owned: set[str]) -> None:
        gone = await end_orphans(self._db, live_ids, owned)
        if gone:
            log.warning("closed %d call records whose channels are gone: %s", len(gone), ", ".join(gone[:10]))


def _created(session: CallSession) -> datetime | None:
    text = session.channel.get("creationtime")
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
