"""Bring the running Asterisk in line with the database after a trunk change, and say whether
it took (control/pbx/check.py)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker

from control.pbx import config
from control.pbx.check import TrunkCheck, check_trunks
from control.pbx.secrets import load_or_create
from control.settings import Settings
from control.telephony.ami import AmiLink
from control.trunks.service import TrunkSpec, list_trunks


@dataclass(frozen=True)
class Applied:
    done: str  # what happened, for the operator
    check: TrunkCheck | None = None  # None when Asterisk could not be asked


async def trunk_confs(db: async_sessionmaker) -> list[TrunkSpec]:
    """The trunks as stored, unchecked and without passwords: config.renderable adds both."""
    return [TrunkSpec(t.name, tuple(t.matches), t.target_host, t.target_port, t.username, register=t.register)
            for t in await list_trunks(db)]


async def apply_trunks(settings: Settings, db: async_sessionmaker) -> Applied:
    """Re-render the trunk file, reload PJSIP if Asterisk is up, compare what it loaded."""
    changed = config.render_trunks(settings, await trunk_confs(db))
    if not await _listening(settings.asterisk_host, settings.ami_port):
        return Applied("written; Asterisk is not running, it will load it on start")
    ami = AmiLink(settings, load_or_create(settings.data_dir))
    ami.start()
    try:
        if not await ami.wait_connected(3):
            return Applied("written; AMI did not answer, Asterisk will load it on its next start")
        done = "unchanged"
        if changed:
            done = "reloaded" if await ami.reload("res_pjsip.so") else "written; reload refused"
        return Applied(done, await check_trunks(db, ami))
    finally:
        ami.close()


async def _listening(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 0.5)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    return True
