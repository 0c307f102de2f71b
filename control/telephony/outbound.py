"""Notification calls: the dispatcher's CALL half. A call is this node's own channel, its id
(`<node>-n<attempt>-<reference>`) chosen before the originate so no event can miss it, dialled
through the tenant's outbound trunk into the Stasis app. Answered, it plays a library
recording and hangs up (`stream`), or plays its greeting and enters an IVR at a branch as a
caller would (`goto`: the callee is the IVR's caller, the routed number its `did`). Every
attempt is a call record (direction outbound) written before it is dialled."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from control.calls.recorder import CallRecorder
from control.calls.service import CallEnd, CallStart
from control.clock import now
from control.flow.branches import CallContext
from control.flow.channel import CallerHungUp
from control.flow.engine import run_ivr
from control.flow.ports import TenantView
from control.flow.play import PlayItem, parse_play
from control.ivrs.service import Route
from control.notify import states
from control.notify.dispatcher import Job, Outcome
from control.telephony.ari import AriLink, NotConnected
from control.telephony.inbound import LINK_ERRORS, InboundCalls
from control.telephony.leg import FarLeg

log = logging.getLogger(__name__)


class NotificationCalls:
    def __init__(self, link: AriLink, inbound: InboundCalls, recorder: CallRecorder, node: str,
                 ring_s: float) -> None:
        self._link = link
        self._inbound = inbound
        self._recorder = recorder
        self._node = node
        self._ring_s = ring_s

    async def call(self, job: Job) -> Outcome:
        trunk = job.tenant.trunk
        if trunk is None:
            return Outcome(states.FAILED, {"error": "the tenant has no outbound trunk (voicectl tenant set)"})
        route = await self._route(job)
        if isinstance(route, Outcome):
            return route
        channel_id = f"{self._node}-n{job.attempt}-{job.reference}"
        try:
            async with self._link.outbound(channel_id, job.to) as session:
                record = CallStart(channel_id, "outbound", job.to, job.sender, "", job.tenant.id, now(), None,
                                   self._node)
                self._recorder.started(record)
                try:
                    leg = await session.dial_out(f"PJSIP/{job.to}@{trunk.name}", caller_id=job.sender,
                                                 timeout=self._ring_s, app_args=f"notify,{job.reference}")
                except LINK_ERRORS as exc:
                    leg = FarLeg(channel_id, record.started_at, error=f"asterisk unreachable: {type(exc).__name__}")
                if leg.answered_at is None:
                    return self._unanswered(channel_id, leg)
                call = self._inbound.context(session, job.to, "", route.number, route)
                call.set_variables(job.content.get("variables") or {})
                reason = None
                try:
                    reason = await self._inbound.capped(session, self._answered(call, job, route))
                except CallerHungUp:
                    pass
                except LINK_ERRORS as exc:
                    reason = f"asterisk unreachable: {type(exc).__name__}"
                await self._inbound.finish(session, record, call, reason or call.reason, answered_at=leg.answered_at)
                return Outcome(states.ANSWERED, self._detail(channel_id, leg, reason or call.reason,
                                                             session.hangup_info))
        except NotConnected as exc:  # nothing was dialled
            return Outcome(states.QUEUED, {"error": str(exc)}, not_sent=True)

    async def _route(self, job: Job) -> Route | Outcome:
        content = job.content
        if content.get("call_type") != "goto":
            # A stream call runs no IVR: its context needs only the tenant.
            return Route(job.sender, job.tenant.id, None, tenant=TenantView(job.tenant.id, job.tenant.timezone.key))
        route = await self._inbound.routes.get(content["route_number"])
        if route is None or route.ivr is None or content["branch_number"] not in route.ivr.branches:
            return Outcome(states.FAILED, {"error": f"route {content['route_number']} branch "
                                                    f"{content['branch_number']} is gone; not called"})
        return route

    async def _answered(self, call: CallContext, job: Job, route: Route) -> None:
        content = job.content
        if content["call_type"] == "stream":
            await call.play_items([PlayItem("file", album=str(content["album"]), sort=str(content["sort"]))],
                                  barge_in=False)
            await call.channel.hangup()
            return
        errors: list[str] = []
        greeting = parse_play(content.get("greeting") or [], "greeting", errors)
        if greeting:
            await call.play_items(greeting, barge_in=False)
        await run_ivr(route.ivr, call, start=content["branch_number"])  # type: ignore[arg-type]

    def _unanswered(self, channel_id: str, leg: FarLeg) -> Outcome:
        status = leg.status()
        self._recorder.ended(channel_id, CallEnd(leg.cause, leg.cause_text, leg.hung_up_by or "far end", [],
                                                 leg.error, variables={"notify_result": status},
                                                 ended_at=leg.ended_at or now()))
        return Outcome(status, self._detail(channel_id, leg, leg.error, None))

    @staticmethod
    def _detail(channel_id: str, leg: FarLeg, reason: str | None, hangup: Any) -> dict[str, Any]:
        detail: dict[str, Any] = {"call_id": channel_id, "result": leg.status()}
        if leg.answered_at is not None:
            detail["answered_at"] = _iso(leg.answered_at)
        cause = hangup.cause if hangup is not None and hangup.cause is not None else leg.cause
        text = hangup.cause_text if hangup is not None and hangup.cause is not None else leg.cause_text
        for key, value in (("cause", cause), ("cause_text", text), ("sip_code", leg.sip_code), ("error", reason)):
            if value is not None:
                detail[key] = value
        return detail


def _iso(at: datetime) -> str:
    return at.isoformat()
