"""Waiting for something the platform does in its own time."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def eventually(fn: Callable[[], T], timeout: float, what: str | Callable[[], str] | None = None,
               interval: float = 0.3) -> T:
    """fn()'s first truthy value, asking every `interval` s for `timeout` s (and once more as it
    runs out). Then AssertionError saying `what` (a callable is asked only then), or, with no
    `what`, fn()'s last value, for a caller that asserts on it itself."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() >= deadline:
            break
        time.sleep(interval)
    if value or what is None:
        return value
    raise AssertionError(f"after {timeout:g} s: {what() if callable(what) else what}")
