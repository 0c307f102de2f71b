"""The bounded, expiring map the call path's caches share (routes, recordings, transfer policies)."""
from __future__ import annotations

from control.ttl import MISSING, TtlMap


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
