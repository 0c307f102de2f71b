"""SIP trunks: peers identified by source IP. The PJSIP side is rendered by control.pbx."""
from __future__ import annotations

import ipaddress
import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.clock import now
from control.errors import Conflict, Invalid, NotFound
from control.store.models import Trunk

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def parse_host(text: str) -> tuple[str, int]:
    """'127.0.0.1' or '127.0.0.1:5070' -> (host, port). Trunks are matched by source IP."""
    host, sep, port_text = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    if not sep:
        host, port_text = text, "5060"
    try:
        ipaddress.ip_address(host)
        port = int(port_text)
    except ValueError:
        raise Invalid([f"host: {text!r} is not an IP address with an optional :port"]) from None
    if not 0 < port < 65536:
        raise Invalid([f"host: port {port} is out of range"])
    return host, port


async def add_trunk(db: async_sessionmaker, name: str, host_text: str) -> Trunk:
    problems = [] if NAME.match(name) else [f"name: {name!r} must be letters, digits, - or _, starting with a letter"]
    try:
        host, port = parse_host(host_text)
    except Invalid as exc:
        problems += exc.errors
    if problems:
        raise Invalid(problems)
    async with db.begin() as session:
        if await session.get(Trunk, name) is not None:
            raise Conflict(f"trunk {name} already exists")
        trunk = Trunk(name=name, host=host, port=port, created_at=now())
        session.add(trunk)
    return trunk


async def remove_trunk(db: async_sessionmaker, name: str) -> None:
    async with db.begin() as session:
        trunk = await session.get(Trunk, name)
        if trunk is None:
            raise NotFound(f"trunk {name} does not exist")
        await session.delete(trunk)


async def list_trunks(db: async_sessionmaker) -> list[Trunk]:
    async with db() as session:
        return list((await session.scalars(select(Trunk).order_by(Trunk.name))).all())
