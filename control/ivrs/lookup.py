"""Another number's IVR for a `goto` with `number:`: the same routes inbound calls use, and
only a number of the call's own tenant (a document cannot reach into another tenant's IVR)."""
from __future__ import annotations

from control.flow.document import Ivr
from control.ivrs.routes import RouteCache
from control.numbers.phone import to_e164


class TenantIvrs:
    def __init__(self, routes: RouteCache) -> None:
        self._routes = routes

    async def for_number(self, number: str, tenant_id: str) -> Ivr | None:
        try:
            e164 = to_e164(number, strict=False)
        except ValueError:
            return None
        route = await self._routes.get(e164)
        if route is None or route.tenant_id != tenant_id:
            return None
        return route.ivr
