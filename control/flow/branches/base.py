"""What every branch type has: an id, a parser that reports every problem, and run()."""
from __future__ import annotations

from typing import Any, ClassVar, Mapping

from control.flow.context import CallContext
from control.flow.loader import shown

MAX_ID_CHARS = 64  # an id is written into every call's branch_data

__all__ = ["Branch", "CallContext", "MAX_ID_CHARS"]


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


def refs(**named: str | None) -> dict[str, str]:
    """The branch references given, by field, leaving out those not set: what targets() lists
    and dump() writes for `next`, `on_fail` and their like."""
    return {key: ref for key, ref in named.items() if ref}


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


def required_branch_ref(raw: dict[str, Any], key: str, where: str, errors: list[str]) -> str | None:
    if raw.get(key) is None:
        errors.append(f"{where}.{key}: required (a branch number)")
        return None
    return optional_branch_ref(raw, key, where, errors)


def boolean(raw: dict[str, Any], key: str, default: bool, where: str, errors: list[str]) -> bool:
    """true or false, never 1, "yes" or null standing in for one."""
    value = raw.get(key, default)
    if not isinstance(value, bool):
        errors.append(f"{where}.{key}: must be true or false")
        return default
    return value


TERMINATORS = ("#", "*")


def terminator(raw: dict[str, Any], key: str, default: str | None, where: str, errors: list[str]) -> str | None:
    """The key that ends an entry: "#" or "*", or null for none (the entry then ends at its
    digit count or the inter-digit timeout). Absent is the default; null is said outright."""
    if key not in raw:
        return default
    value = raw[key]
    if value is not None and value not in TERMINATORS:
        errors.append(f"{where}.{key}: must be \"#\", \"*\" or null (no terminator)")
        return default
    return value
