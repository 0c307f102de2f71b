"""contact_data: Voitex's "Contact Data" branch. The caller's contact (found by caller id among
the tenant's contacts) becomes call variables, `${first_name}`, `${field_a}` and the rest, for
TTS and later triggers; then `next`. No such contact: `not_found` (default `next`), with no
variable set, so a greeting can branch on whether the caller is known.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from control.flow.branches.base import Branch, CallContext, optional_branch_ref, refs


@dataclass
class ContactDataBranch(Branch):
    type = "contact_data"
    fields = MappingProxyType({"type": "contact_data", "next": None, "not_found": None})
    id: str
    next: str | None
    not_found: str | None = None

    @classmethod
    def parse(cls, branch_id: str, raw: dict[str, Any], errors: list[str]) -> "ContactDataBranch":
        where = f"branches.{branch_id}"
        return cls(branch_id, optional_branch_ref(raw, "next", where, errors),
                   optional_branch_ref(raw, "not_found", where, errors))

    def targets(self) -> dict[str, str]:
        return refs(next=self.next, not_found=self.not_found)

    async def run(self, call: CallContext) -> str | None:
        call.record(self.id, "")
        contact = await call.contact()
        if contact is None:
            return self.not_found or self.next
        # Every field, set or not: a variable from an earlier contact_data or webhook of the
        # same name must not be taken for this contact's.
        call.set_variables({name: value or "" for name, value in contact["contact"].items()})
        call.set_variables({"labels": ",".join(str(n) for n in contact["labels"])})
        return self.next

    def dump(self) -> dict[str, Any]:
        return {"type": self.type, **refs(next=self.next, not_found=self.not_found)}
