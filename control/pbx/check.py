"""Are the trunks in the database the endpoints Asterisk runs? A reload "succeeds" even when
Asterisk refused part of the config, and a trunk it refused is silently gone: this is where
that shows, for `voicectl trunk add/remove` and for /healthz alike."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

from sqlalchemy.ext.asyncio import async_sessionmaker

from control.telephony.ami import AmiLink
from control.trunks.service import list_trunks


@dataclass(frozen=True)
class TrunkCheck:
    missing: list[str]  # in the database, not loaded by Asterisk: its calls are refused
    unexpected: list[str]  # loaded by Asterisk, not in the database: a removal that did not take

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected


def compare(expected: Iterable[str], loaded: Iterable[str]) -> TrunkCheck:
    want, have = set(expected), set(loaded)
    return TrunkCheck(sorted(want - have), sorted(have - want))


async def loaded_endpoints(ami: AmiLink, timeout: float = 3.0) -> set[str]:
    reply = await ami.action({"Action": "PJSIPShowEndpoints"}, timeout)
    messages = reply if isinstance(reply, list) else [reply]
    first = messages[0]
    # With no endpoint at all Asterisk answers an error rather than an empty list.
    if first.get("Response") == "Error" and "no endpoints" not in str(first.get("Message", "")).lower():
        raise RuntimeError(f"PJSIPShowEndpoints: {first.get('Message')}")
    return {m["ObjectName"] for m in messages if m.get("Event") == "EndpointList"}


async def check_trunks(db: async_sessionmaker, ami: AmiLink, timeout: float = 3.0) -> TrunkCheck:
    return compare((t.name for t in await list_trunks(db)), await loaded_endpoints(ami, timeout))


async def health(db: async_sessionmaker, ami: AmiLink) -> tuple[bool, dict[str, Any]]:
    """/healthz's view: (all trunks loaded, what to show). A probe must answer promptly."""
    try:
        found = await check_trunks(db, ami, timeout=1.0)
    except Exception as exc:  # a probe reports, it does not fail the whole answer
        return False, {"error": str(exc) or type(exc).__name__}
    return found.ok, asdict(found)
