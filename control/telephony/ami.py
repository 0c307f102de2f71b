"""AMI over panoramisk: health figures, reloads, and the dialplan's UserEvents (calls it
refused before Stasis, to record them). Other events are off: the Stasis app gets call
events over ARI, and streaming every call's AMI events too would cost CPU for nothing."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Mapping

from panoramisk import Manager

from control.pbx.secrets import PbxSecrets
from control.settings import Settings

log = logging.getLogger(__name__)


UserEventHandler = Callable[[Mapping[str, str]], None]


class AmiLink:
    def __init__(self, settings: Settings, secrets: PbxSecrets, on_user_event: UserEventHandler | None = None) -> None:
        # Only UserEvents, and only when someone listens: the dialplan's refusals.
        self._manager = Manager(
            host=settings.asterisk_host, port=settings.ami_port, username=secrets.ami_user,
            secret=secrets.ami_password, events="user" if on_user_event else "off", ping_delay=2,
            ping_interval=5, reconnect_timeout=1, log=logging.getLogger("panoramisk"),
        )
        if on_user_event is not None:
            handler = on_user_event

            def dispatch(_manager: Manager, event: Mapping[str, str]) -> None:
                try:  # an exception here would close panoramisk's transport
                    handler(event)
                except Exception:
                    log.exception("handling AMI event %s failed", event.get("UserEvent"))

            self._manager.register_event("UserEvent", dispatch)

    def start(self) -> None:
        """Connects in the background; panoramisk reconnects by itself when the link drops."""
        self._manager.connect()

    @property
    def connected(self) -> bool:
        return bool(self._manager._connected and self._manager.authenticated)

    async def wait_connected(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.connected and loop.time() < deadline:
            await asyncio.sleep(0.05)
        return self.connected

    async def action(self, action: dict[str, str], timeout: float = 3.0) -> Any:
        return await asyncio.wait_for(self._manager.send_action(action), timeout)

    async def status(self, timeout: float = 1.0) -> dict[str, Any]:
        # A health probe must answer promptly: a link that died mid-request answers nothing.
        settings, status = await asyncio.gather(self.action({"Action": "CoreSettings"}, timeout),
                                                self.action({"Action": "CoreStatus"}, timeout))
        return {
            "version": settings.get("AsteriskVersion"),
            "active_channels": int(status.get("CoreCurrentCalls", 0)),
            "up_since": f"{status.get('CoreStartupDate', '')} {status.get('CoreStartupTime', '')}".strip(),
        }

    async def reload(self, module: str) -> bool:
        reply = await self.action({"Action": "Reload", "Module": module})
        return bool(getattr(reply, "success", False))

    def close(self) -> None:
        # panoramisk reconnects on any lost connection, its own close included.
        self._manager.connection_lost = lambda exc: None  # type: ignore[method-assign]
        self._manager.close()
