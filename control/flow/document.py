"""An IVR document: {branches: {"0": {...}, ...}}, parsed whole with every problem listed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from control.flow.branches import TYPES, Branch

ENTRY = "0"


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
    errors: list[str] = []
    raw_branches = doc.get("branches") if isinstance(doc, dict) else None
    if not isinstance(raw_branches, dict) or not raw_branches:
        raise IvrInvalid(["branches: the document needs a non-empty 'branches' mapping"])
    branches: dict[str, Branch] = {}
    for key, raw in raw_branches.items():
        bid = str(key)
        if not isinstance(raw, dict):
            errors.append(f"branches.{bid}: must be a mapping with a type")
            continue
        kind = raw.get("type")
        cls = TYPES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            errors.append(f"branches.{bid}.type: unknown branch type {kind!r} (known: {', '.join(sorted(TYPES))})")
            continue
        branches[bid] = cls.parse(bid, raw, errors)
    if ENTRY not in raw_branches:
        errors.append(f'branches: there is no branch "{ENTRY}", where every call starts')
    for bid, branch in branches.items():
        for where, target in branch.targets().items():
            if target not in raw_branches:
                errors.append(f'branches.{bid}.{where}: no branch "{target}"')
    if errors:
        raise IvrInvalid(errors)
    return Ivr(branches)
