"""Values cut to fit where they are kept (a database column, a call's record), marked where cut.
The call path (a trigger's exchanges) and the call recorder cut by the same rules."""
from __future__ import annotations

import json
from typing import Any

MARK = "~"


def fit(value: Any, limit: int) -> Any:
    """A string cut to `limit` characters, ending in MARK when it was cut."""
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - len(MARK)] + MARK
    return value


def fit_json(value: Any, limit: int) -> Any:
    """`value` when its JSON text (as strict JSON: no NaN, which PostgreSQL refuses) is at most
    `limit` characters; else that text cut to `limit`, ending in MARK. A value JSON cannot hold
    becomes a note saying so, rather than a row the database refuses."""
    if isinstance(value, str):
        return fit(value, limit)
    if value is None or isinstance(value, bool):
        return value
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return f"<{type(value).__name__} that is not JSON>"
    return text[: limit - len(MARK)] + MARK if len(text) > limit else value
