"""Another number's IVR for a `goto` with `number:`: the same routes inbound calls use, and
only a number of the call's own tenant (a document cannot reach into another tenant's IVR)."""
from __future__ import annotations

from control.flow.document import Ivr
from control.ivrs.routes import RouteCache


class TenantIvrs:
    def __init__(self, routes: RouteCache) -> None:
        self._routes = routes

    async def for_number(self, number: str, tenant_id: str) -> Ivr | None:
        route = await self._routes.get(number)
        if route is None or route.tenant_id != tenant_id:
            return None
        return route.ivr
