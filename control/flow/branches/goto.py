"""goto: go to `branch`, in this IVR or, with `number`, in another number's IVR of the same
tenant (looked up when the call gets there: that IVR may change after this one is imported).

A number, IVR or branch that is not there when the call arrives ends the call, with the
reason in the call record: guessing another route would hide the mistake.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from control.flow.branches.base import Branch, CallContext, required_branch_ref
from control.numbers.phone import to_e164

NUMBER_RULE = "must be a phone number, E.164 (+18005550100) or 10-digit (8005550100)"


@dataclass
class GotoBranch(Branch):
    type = "goto"
    fields = MappingProxyType({"type": "goto", "branch": None, "number": None})
    id: str
    branch: str
    number: str | None = None  # E.164, however the document wrote it

    @classmethod
    def parse(cls, branch_id: str, raw: dict[str, Any], errors: list[str]) -> "GotoBranch":
        where = f"branches.{branch_id}"
        return cls(branch_id, required_branch_ref(raw, "branch", where, errors) or "",
                   _parse_number(raw, where, errors))

    def targets(self) -> dict[str, str]:
        # Another number's branches are that IVR's to check, when the call gets there.
        return {} if self.number or not self.branch else {"branch": self.branch}

    async def run(self, call: CallContext) -> str | None:
        call.record(self.id, "")
        if self.number is None:
            return self.branch
        ivr = await call.ivrs.for_number(self.number, call.tenant.id) if call.ivrs else None
        if ivr is None:
            call.end_because(f"goto {self.id}: number {self.number} has no IVR for this tenant")
            return None
        if self.branch not in ivr.branches:
            call.end_because(f'goto {self.id}: the IVR of {self.number} has no branch "{self.branch}"')
            return None
        call.ivr = ivr
        return self.branch

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "branch": self.branch}
        if self.number:
            out["number"] = self.number
        return out


def _parse_number(raw: dict[str, Any], where: str, errors: list[str]) -> str | None:
    """The number in E.164, parsed as provisioning parses numbers (strictly: a number that is
    not in the numbering plan can be no tenant's), so the import and the call look it up as is."""
    value = raw.get("number")
    if value is None:
        return None
    # YAML reads an unquoted 8005550100 as an integer: it is the same number.
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str):
        try:
            return to_e164(text, strict=True)
        except ValueError:
            pass
    errors.append(f"{where}.number: {NUMBER_RULE}")
    return None
