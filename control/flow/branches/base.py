"""What every branch type has: an id, a parser that reports every problem, and run()."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from control.flow.channel import Channel
from control.flow.loader import shown
from control.flow.play import MediaResolver

MAX_ID_CHARS = 64  # an id is written into every call's branch_data


@dataclass
class CallContext:
    """What a running branch may use: the call's channel, media, and its branch_data log."""

    channel: Channel
    media: MediaResolver
    branch_data: list[dict[str, str]] = field(default_factory=list)

    def record(self, branch: str, keys: str) -> None:
        self.branch_data.append({"branch": branch, "input": keys})

    async def play(self, media: list[str], *, barge_in: bool) -> str | None:
        """Play resolved media; its known length lets the channel notice a playback whose
        end never comes."""
        return await self.channel.play(media, barge_in=barge_in, seconds=self.media.seconds(media))


class Branch:
    type: ClassVar[str]
    # Every field the type reads, with its default (None: none), in one table: a field not
    # here is an error in a document (document.py checks), never silently ignored.
    fields: ClassVar[Mapping[str, Any]]
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


def to_branch_id(value: Any) -> str | None:
    """A branch id as documents name it, or None when it is not one: 7 and "7" are one id."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip() and value.isprintable() and len(value) <= MAX_ID_CHARS:
        return value
    return None


def keyed_by_id(raw: dict[Any, Any], where: str, what: str, rule: str, errors: list[str]) -> dict[str, Any]:
    """raw's values keyed by to_branch_id(key); a key that is no id breaks `rule`, and two keys
    naming one id (0 and "0") are an error, not a silent overwrite."""
    found: dict[str, Any] = {}
    spelled: dict[str, Any] = {}
    for key, value in raw.items():
        kid = to_branch_id(key)
        if kid is None:
            errors.append(f"{where}.{shown(key)}: {rule}")
        elif kid in found:
            errors.append(f'{where}.{kid}: {what} "{kid}" is given twice (as {shown(spelled[kid])} and {shown(key)})')
        else:
            found[kid], spelled[kid] = value, key
    return found


def optional_branch_ref(raw: dict[str, Any], key: str, where: str, errors: list[str]) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    ref = to_branch_id(value)
    if ref is None:
        errors.append(f"{where}.{key}: must be a branch number")
    return ref


def number(raw: dict[str, Any], key: str, default: float, where: str, errors: list[str], *, low: float, high: float) -> float:
    """A number (an integer or not, never a bool) in [low, high], such as a timeout in seconds."""
    return _ranged(raw, key, default, where, errors, (int, float), f"a number from {low:g} to {high:g}", low, high)


def integer(raw: dict[str, Any], key: str, default: int, where: str, errors: list[str], *, low: int, high: int) -> int:
    """A whole number in [low, high]: 2.5, 2.0 and true are refused, not rounded."""
    return _ranged(raw, key, default, where, errors, (int,), f"a whole number from {low} to {high}", low, high)


def _ranged(raw: dict[str, Any], key: str, default: Any, where: str, errors: list[str],
            kinds: tuple[type, ...], rule: str, low: float, high: float) -> Any:
    value = raw.get(key, default)
    # bool is an int to Python, never a number to a document
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        errors.append(f"{where}.{key}: must be {rule}")
        return default
    return value
