"""The bounded, expiring map the call path's caches share (routes, recordings, transfer policies)."""
from __future__ import annotations

from control.ttl import MISSING, BoundedDict, TtlMap


def test_values_expire_are_forgotten_and_the_table_stays_bounded() -> None:
    clock = [0.0]
    seen: TtlMap[str, int | None] = TtlMap(2.0, lambda: clock[0], max_entries=3)
    seen.put("a", None)
    assert seen.get("a") is None, "a remembered miss is a value, not MISSING"
    clock[0] = 2.5
    assert seen.get("a") is MISSING
    seen.put("b", 1)
    seen.forget("b")
    assert seen.get("b") is MISSING
    for key in "cde":
        seen.put(key, 1)
    seen.put("f", 2)  # full of fresh entries: cleared rather than grown
    assert seen.get("f") == 2 and seen.get("c") is MISSING


async def test_get_or_load_loads_a_key_once_per_ttl_and_remembers_misses() -> None:
    clock = [0.0]
    seen: TtlMap[str, int | None] = TtlMap(2.0, lambda: clock[0])
    loads: list[str] = []

    async def load(key: str, value: int | None) -> int | None:
        loads.append(key)
        return value

    assert await seen.get_or_load("a", lambda: load("a", 1)) == 1
    assert await seen.get_or_load("a", lambda: load("a", 2)) == 1
    assert await seen.get_or_load("b", lambda: load("b", None)) is None
    assert await seen.get_or_load("b", lambda: load("b", 3)) is None, "a miss is remembered too"
    clock[0] = 2.5
    assert await seen.get_or_load("a", lambda: load("a", 2)) == 2
    assert loads == ["a", "b", "a"]


def test_a_bounded_dict_starts_over_when_full_and_replaces_in_place() -> None:
    held: BoundedDict[str, int] = BoundedDict(max_entries=2)
    held["a"], held["b"] = 1, 2
    held["a"] = 3  # a key it has: replaced, nothing forgotten
    assert held == {"a": 3, "b": 2}
    held["c"] = 4
    assert held == {"c": 4}
