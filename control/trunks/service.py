"""SIP trunks as providers ship them: addresses their calls come from (matched by source
address only), a target calls and registrations go to, and optionally digest credentials and
an outbound registration. The PJSIP side is rendered by control.pbx."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.clock import now
from control.errors import Conflict, Invalid, NotFound
from control.store.models import Tenant, Trunk
from control.trunks import validate
from control.trunks.passwords import TrunkPasswords

T = TypeVar("T")


@dataclass(frozen=True)
class TrunkSpec:
    """A trunk's fields, as Asterisk's config needs them; parse_trunk makes checked ones."""

    name: str
    matches: tuple[str, ...]
    target_host: str
    target_port: int
    username: str | None = None
    password: str | None = None
    register: bool = False


def parse_trunk(name: str, matches: Sequence[str], target: str | None, *, username: str | None = None,
                password: str | None = None, register: bool = False) -> TrunkSpec:
    """Check everything at once; Invalid lists every problem, one line each."""
    problems: list[str] = []

    def check(fn: Callable[[str], T], value: str) -> T | None:
        try:
            return fn(value)
        except ValueError as exc:
            problems.append(str(exc))
            return None

    check(validate.name, name)
    cleaned = [check(validate.match, m) for m in matches]
    if not matches:
        problems.append("match: at least one address or CIDR that the trunk's calls come from")
    host_port = check(validate.target, target) if target else None
    if not target:
        problems.append("target: the HOST[:PORT] calls and registrations go to")
    if username is not None:
        check(validate.username, username)
    if password is not None:
        check(validate.password, password)
    if username is not None and password is None:
        problems.append("password: a username needs a password")
    if password is not None and username is None:
        problems.append("password: given without a username")
    if register and username is None:
        problems.append("register: needs a username and a password for the provider's challenge")
    if problems:
        raise Invalid(problems)
    assert host_port is not None
    return TrunkSpec(name, tuple(dict.fromkeys(m for m in cleaned if m)), host_port[0], host_port[1],
                     username, password, register)


async def add_trunk(db: async_sessionmaker, passwords: TrunkPasswords, spec: TrunkSpec) -> Trunk:
    async with db.begin() as session:
        if await session.get(Trunk, spec.name) is not None:
            raise Conflict(f"trunk {spec.name} already exists")
        trunk = Trunk(name=spec.name, matches=list(spec.matches), target_host=spec.target_host,
                      target_port=spec.target_port, username=spec.username, register=spec.register,
                      created_at=now())
        session.add(trunk)
        await session.flush()
        # Inside the transaction: a password that cannot be written leaves no trunk behind.
        passwords.set(spec.name, spec.password)
    return trunk


async def remove_trunk(db: async_sessionmaker, passwords: TrunkPasswords, name: str) -> None:
    async with db.begin() as session:
        trunk = await session.get(Trunk, name)
        if trunk is None:
            raise NotFound(f"trunk {name} does not exist")
        users = (await session.scalars(select(Tenant.id).where(Tenant.outbound_trunk == name)
                                       .order_by(Tenant.id))).all()
        if users:
            # Removed, it would leave these tenants' transfers refused without a word.
            raise Conflict(f"trunk {name} is the outbound trunk of tenant {', '.join(users)}: give "
                           f"{'it' if len(users) == 1 else 'them'} another first "
                           "(voicectl tenant set ID --outbound-trunk OTHER, or '' for none)")
        await session.delete(trunk)
        await session.flush()
        passwords.set(name, None)


async def list_trunks(db: async_sessionmaker) -> list[Trunk]:
    async with db() as session:
        return list((await session.scalars(select(Trunk).order_by(Trunk.name))).all())


def target_text(trunk: Trunk) -> str:
    return f"{validate.uri_host(trunk.target_host)}:{trunk.target_port}"
