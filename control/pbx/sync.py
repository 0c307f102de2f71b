"""Bring the running Asterisk in line with the database after a trunk change."""
from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import async_sessionmaker

from control.pbx import config
from control.pbx.secrets import load_or_create
from control.settings import Settings
from control.telephony.ami import AmiLink
from control.trunks.service import list_trunks

log = logging.getLogger(__name__)


async def trunk_confs(db: async_sessionmaker) -> list[config.TrunkConf]:
    return [config.TrunkConf(t.name, t.host, t.port) for t in await list_trunks(db)]


async def apply_trunks(settings: Settings, db: async_sessionmaker) -> str:
    """Re-render the trunk file and reload PJSIP if Asterisk is up. Says what it did."""
    if not config.render_trunks(settings, await trunk_confs(db)):
        return "unchanged"
    if not await _listening(settings.asterisk_host, settings.ami_port):
        return "written; Asterisk is not running, it will load it on start"
    ami = AmiLink(settings, load_or_create(settings.data_dir))
    ami.start()
    try:
        if not await ami.wait_connected(3):
            return "written; AMI did not answer, Asterisk will load it on its next start"
        return "reloaded" if await ami.reload("res_pjsip.so") else "written; reload refused"
    finally:
        ami.close()


async def _listening(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 0.5)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    return True
