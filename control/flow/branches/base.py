"""What every branch type has: an id, a parser that reports every problem, and run()."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from control.flow.channel import Channel
from control.flow.play import MediaResolver


@dataclass
class CallContext:
    """What a running branch may use: the call's channel, media, and its branch_data log."""

    channel: Channel
    media: MediaResolver
    branch_data: list[dict[str, str]] = field(default_factory=list)

    def record(self, branch: str, keys: str) -> None:
        self.branch_data.append({"branch": branch, "input": keys})


class Branch:
    type: ClassVar[str]
    id: str

    @classmethod
    def parse(cls, branch_id: str, raw: dict[str, Any], errors: list[str]) -> "Branch":
        raise NotImplementedError

    def targets(self) -> dict[str, str]:
        """Every branch id this branch may go to, keyed by where in the document it is named."""
        return {}

    async def run(self, call: CallContext) -> str | None:
        """Do the branch; return the id of the next branch, or None to end the call."""
        raise NotImplementedError

    def dump(self) -> dict[str, Any]:
        raise NotImplementedError


def optional_branch_ref(raw: dict[str, Any], key: str, where: str, errors: list[str]) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{where}.{key}: must be a branch number")
        return None
    return value


def number(raw: dict[str, Any], key: str, default: float, where: str, errors: list[str], *, low: float, high: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        errors.append(f"{where}.{key}: must be a number from {low:g} to {high:g}")
        return default
    return value
