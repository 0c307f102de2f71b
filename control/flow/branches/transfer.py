"""transfer: dial `to` and bridge the caller with whoever answers.

`to` is an E.164 number (or 10-digit NANP), dialled through the tenant's outbound trunk, or a
`sip:user@host[:port]` URI whose host is one of the trunks' targets; `${variables}` expand in it.
Where it may go is checked after the expansion (control/transfers/service.py): a number must
be in one of the tenant's allowed country codes, so a webhook's variables cannot send calls
anywhere. A refused target is never dialled.

- The caller hears ringback while the far end rings, for at most `timeout` seconds.
- Answered: caller and far end talk until one hangs up. The far end hanging up sends the
  caller to `next` (none: the call ends); the caller hanging up ends the call.
- Busy, no answer (the ring time ran out), failed, or refused: the call goes to `on_fail`
  (none: on to `next`; neither: the call ends, the reason kept on its record).
- The variable `transfer_result` says how it went: `answered`, `busy`, `no answer`, `failed`
  or `refused`, for the branches and webhooks after it.
- `caller_id`: the number the far end sees: the caller's (`caller`, the default) or the
  number the caller dialled (`did`).
- The far leg gets a call record of its own (direction `outbound`, `parent_id` the call).
- `branch_data` records the branch when the call reaches it, with input "".
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from control.flow.branches.base import Branch, CallContext, number, optional_branch_ref, refs
from control.flow.channel import CallerHungUp, TransferOutcome
from control.flow.context import Leg
from control.flow.dial import TO_RULE, is_sip, parse_phone, parse_sip
from control.flow.loader import shown
from control.flow.play import VARIABLE
from control.flow.ports import TransferRefused

log = logging.getLogger(__name__)

CALLER_IDS = ("caller", "did")
MAX_TO_CHARS = 300
MAX_RING_SECONDS = 300
RESULT = "transfer_result"  # the variable that says how the transfer went


@dataclass
class TransferBranch(Branch):
    type = "transfer"
    fields = MappingProxyType({"type": "transfer", "to": None, "timeout": 30, "caller_id": "caller",
                               "on_fail": None, "next": None})
    id: str
    to: str
    next: str | None
    on_fail: str | None = None
    timeout: float = 30
    caller_id: str = "caller"

    @classmethod
    def parse(cls, branch_id: str, raw: dict[str, Any], errors: list[str]) -> "TransferBranch":
        where = f"branches.{branch_id}"
        caller_id = raw.get("caller_id", cls.fields["caller_id"])
        if caller_id not in CALLER_IDS:
            errors.append(f'{where}.caller_id: must be "caller" (the caller\'s number) or "did" (the number dialled)')
            caller_id = cls.fields["caller_id"]
        return cls(
            branch_id, _parse_to(raw.get("to"), f"{where}.to", errors),
            optional_branch_ref(raw, "next", where, errors),
            optional_branch_ref(raw, "on_fail", where, errors),
            number(raw, "timeout", cls.fields["timeout"], where, errors, low=1, high=MAX_RING_SECONDS),
            caller_id,
        )

    def targets(self) -> dict[str, str]:
        return refs(next=self.next, on_fail=self.on_fail)

    def dump(self) -> dict[str, Any]:
        return {"type": self.type, "to": self.to, "timeout": self.timeout, "caller_id": self.caller_id,
                **refs(next=self.next, on_fail=self.on_fail)}

    async def run(self, call: CallContext) -> str | None:
        call.record(self.id, "")
        to = call.expand(self.to).strip()
        if not to:
            return self._not_dialled(call, to, "`to` expanded to nothing")
        if call.transfers is None:
            return self._not_dialled(call, to, "this call has nowhere to dial through")
        try:
            target = await call.transfers.target(to, call.tenant.id)
        except TransferRefused as exc:
            return self._not_dialled(call, to, str(exc))
        presented = call.caller if self.caller_id == "caller" else call.did
        log.info("call %s: transfer %s: dialling %s through %s", call.log_id, self.id, target.number,
                 target.trunk)
        try:
            outcome = await call.channel.transfer(target, caller_id=presented, timeout=self.timeout)
        except CallerHungUp as gone:
            if gone.transfer is not None:
                self._note(call, Leg(gone.transfer, target.number, presented, self.id))
            raise
        self._note(call, Leg(outcome, target.number, presented, self.id))
        if outcome.status == "answered":
            return self.next
        why = outcome.status + (f" (SIP {outcome.sip_code})" if outcome.sip_code else "") + \
            (f": {outcome.error}" if outcome.error else "")
        return self._failed(call, f"{target.number} {why}")

    def _note(self, call: CallContext, leg: Leg) -> None:
        call.legs.append(leg)
        call.set_variables({RESULT: leg.outcome.status})
        outcome: TransferOutcome = leg.outcome
        log.info("call %s: transfer %s: %s -> %s (leg %s, cause %s)", call.log_id, self.id, leg.number,
                 outcome.status, outcome.leg_id, outcome.cause)

    def _not_dialled(self, call: CallContext, to: str, why: str) -> str | None:
        call.set_variables({RESULT: "refused"})
        log.warning("call %s: transfer %s refused, nothing dialled: %s", call.log_id, self.id, why)
        return self._failed(call, f"{to or '(empty)'} refused: {why}")

    def _failed(self, call: CallContext, what: str) -> str | None:
        route = self.on_fail if self.on_fail is not None else self.next
        if route is None:
            call.end_because(f"transfer {self.id}: {what}")
        return route


def _parse_to(value: Any, where: str, errors: list[str]) -> str:
    """The target as written. Without variables it is checked now (its syntax: where it may go
    is the tenant's to say, when the call dials); with them, once they are expanded."""
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads an unquoted +442079460000 as the integer 442079460000: the + is gone.
        text = str(value)
        if len(text) == 10 or (len(text) == 11 and text.startswith("1")):
            value = text  # 10-digit NANP, or 1 and 10 digits: the same number either way
        else:
            errors.append(f'{where}: write the number as a quoted string ("+{text}"): unquoted, '
                          "YAML and JSON read it as an integer without its +")
            return ""
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{where}: required: {TO_RULE.removeprefix('must be ')}")
        return ""
    text = value.strip()
    if len(text) > MAX_TO_CHARS or not text.isprintable():
        errors.append(f"{where}: at most {MAX_TO_CHARS} printable characters")
        return ""
    if VARIABLE.search(text):
        return text
    try:
        parse_sip(text) if is_sip(text) else parse_phone(text)
    except ValueError as exc:
        errors.append(f"{where}: {exc}" if str(exc) else f"{where}: {shown(text)} {TO_RULE}")
        return ""
    return text
