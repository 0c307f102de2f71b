"""Inbound routes are remembered for a moment, then read again."""
from __future__ import annotations

from typing import Any

from control.ivrs import routes
from control.ivrs.routes import RouteCache
from control.ivrs.service import Route


async def test_a_route_is_read_once_per_ttl(monkeypatch: Any) -> None:
    lookups: list[str] = []
    answer: dict[str, Route | None] = {"8005550100": Route("+18005550100", "ten_1", None)}

    async def route_for(db: Any, dialled: str) -> Route | None:
        lookups.append(dialled)
        return answer.get(dialled)

    monkeypatch.setattr(routes, "route_for", route_for)
    clock = [100.0]
    cache = RouteCache(db=None, ttl_s=2.0, clock=lambda: clock[0])  # type: ignore[arg-type]
    first = await cache.get("8005550100")
    assert first is not None and first.tenant_id == "ten_1"
    assert await cache.get("8005550100") is first
    assert await cache.get("8005550199") is None
    assert await cache.get("8005550199") is None  # unknown numbers are remembered too
    assert lookups == ["8005550100", "8005550199"]

    answer["8005550100"] = None  # the number was removed
    clock[0] += 2.5
    assert await cache.get("8005550100") is None
    assert lookups == ["8005550100", "8005550199", "8005550100"]
