"""Inbound routes are remembered for a moment, then read again."""
from __future__ import annotations

from typing import Any

import pytest

from control.ivrs import routes, service
from control.ivrs.routes import RouteCache
from control.ivrs.service import Route



def counting_cache(db: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[RouteCache, list[Any], list[float]]:
    """A route cache on a hand-moved clock, and the list of every IVR document it parses."""
    parses: list[Any] = []
    real_parse = service.parse_ivr
    monkeypatch.setattr(service, "parse_ivr", lambda doc: parses.append(doc) or real_parse(doc))
    clock = [100.0]
    return RouteCache(db, ttl_s=2.0, clock=lambda: clock[0]), parses, clock

async def test_a_route_is_read_once_per_ttl(monkeypatch: Any) -> None:
    lookups: list[str] = []
    answer: dict[str, Route | None] = {"8005550100": Route("+18005550100", "ten_1", None)}

    async def route_for(db: Any, dialled: str, held: Any = None) -> Route | None:
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


async def test_an_unchanged_ivr_is_parsed_once_however_often_the_route_is_read_again(
        monkeypatch: Any, db: Any) -> None:
    """A big IVR takes a quarter of a second to parse, on the loop every call shares: a refresh
    that finds the same stored version reuses what it parsed."""
    from control.ivrs.service import import_ivr
    from control.numbers.service import add_number
    from control.tenants.service import create_tenant

    tenant = await create_tenant(db, "t")
    await add_number(db, "+18005550100", tenant.id)
    ivr = {"branches": {"0": {"type": "hangup"}}}
    await import_ivr(db, "+18005550100", ivr)
    cache, parses, clock = counting_cache(db, monkeypatch)
    first = await cache.get("8005550100")
    for _ in range(3):
        clock[0] += 2.5
        again = await cache.get("8005550100")
        assert again is not None and again.ivr is first.ivr
    assert len(parses) == 1

    await import_ivr(db, "+18005550100", {"branches": {"0": {"type": "content", "next": "9"},
                                                       "9": {"type": "hangup"}}})
    parses.clear()  # the import parsed it too, to check it
    clock[0] += 2.5
    changed = await cache.get("8005550100")
    assert changed is not None and set(changed.ivr.branches) == {"0", "9"} and len(parses) == 1


async def test_a_route_carries_the_tenant_a_call_needs_and_its_changes_within_the_ttl(
        monkeypatch: Any, db: Any) -> None:
    """Time zone and signing secret come with the route (no other query per call); a rotated
    secret signs new calls' webhooks once the entry expires, the parsed IVR kept all the same."""
    from control.flow.ports import TenantView
    from control.ivrs.service import import_ivr, route_for
    from control.numbers.service import add_number
    from control.tenants.service import create_tenant, rotate_secret, set_timezone

    tenant = await create_tenant(db, "t", "America/Chicago")
    await add_number(db, "+18005550100", tenant.id)
    await add_number(db, "+18005550101", tenant.id)  # no IVR yet: the tenant comes all the same
    await import_ivr(db, "+18005550100", {"branches": {"0": {"type": "hangup"}}})
    bare = await route_for(db, "8005550101")
    assert bare is not None and bare.ivr is None
    assert bare.tenant == TenantView(tenant.id, "America/Chicago", tenant.signing_secret)

    cache, parses, clock = counting_cache(db, monkeypatch)
    first = await cache.get("8005550100")
    assert first is not None and first.tenant == TenantView(tenant.id, "America/Chicago", tenant.signing_secret)

    secret = await rotate_secret(db, tenant.id)
    await set_timezone(db, tenant.id, "Asia/Tokyo")
    clock[0] += 1.0
    assert (await cache.get("8005550100")).tenant.signing_secret == tenant.signing_secret  # within the TTL
    clock[0] += 1.5
    again = await cache.get("8005550100")
    assert again is not None and again.tenant == TenantView(tenant.id, "Asia/Tokyo", secret)
    assert again.ivr is first.ivr and len(parses) == 1
