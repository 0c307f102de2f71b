"""An IVR document: {branches: {"0": {...}, ...}}, parsed whole with every problem listed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from control.flow.branches import TYPES, Branch
from control.flow.branches.base import keyed_by_id
from control.flow.loader import typed, unknown_fields

ENTRY = "0"
FIELDS = ("branches",)  # the document's own fields
NO_BRANCHES = "branches: the document needs a non-empty 'branches' mapping"
ID_RULE = "a branch id is a number or a short string"
MAX_ERRORS = 50  # a megabyte of mistakes is named by its first few, not in megabytes of errors


class IvrInvalid(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Ivr:
    branches: dict[str, Branch]

    def dump(self) -> dict[str, Any]:
        return {"branches": {bid: b.dump() for bid, b in self.branches.items()}}


def parse_ivr(doc: Any) -> Ivr:
    """Parse a document or raise IvrInvalid naming every problem (path: what is wrong)."""
    if not isinstance(doc, dict):
        raise IvrInvalid([NO_BRANCHES])
    errors: list[str] = []
    unknown_fields(doc, FIELDS, "", errors)
    raw_branches = doc.get("branches")
    if not isinstance(raw_branches, dict) or not raw_branches:
        raise IvrInvalid([*errors, NO_BRANCHES])
    # Ids as documents spell them (0 or "0") become one string id, here and in every reference.
    raw_by_id = keyed_by_id(raw_branches, "branches", "branch", ID_RULE, errors)
    parsed = {bid: _parse_branch(bid, raw, errors) for bid, raw in raw_by_id.items()}
    branches = {bid: branch for bid, branch in parsed.items() if branch is not None}
    if ENTRY not in raw_by_id:
        errors.append(f'branches: there is no branch "{ENTRY}", where every call starts')
    for bid, branch in branches.items():
        for where, target in branch.targets().items():
            if target not in raw_by_id:
                errors.append(f'branches.{bid}.{where}: no branch "{target}"')
    if errors:
        raise IvrInvalid(_capped(errors))
    return Ivr(branches)


def _parse_branch(bid: str, raw: Any, errors: list[str]) -> Branch | None:
    where = f"branches.{bid}"
    cls = typed(raw, TYPES, where, errors, shape="must be a mapping with a type",
                unknown=f"unknown branch type {{}} (known: {', '.join(sorted(TYPES))})")
    return cls.parse(bid, raw, errors) if cls is not None else None


def _capped(errors: list[str]) -> list[str]:
    if len(errors) <= MAX_ERRORS:
        return errors
    return [*errors[:MAX_ERRORS], f"document: {len(errors) - MAX_ERRORS} more problems not listed"]
