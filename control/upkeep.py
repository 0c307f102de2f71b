"""Bringing a data directory from an older version up to date: run by `voicectl init` and at
every `voicectl up`, so an upgrade needs no step of its own.

- file modes: nothing in it is for other local users (pbx/modes.py);
- Asterisk's user: a rootfs built before it had one of its own is remapped (pbx/config.py);
- call records left open by a version from before node names: no node would close them;
- stored IVRs that today's stricter rules refuse: their calls would get 503, so they are named.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker

from control.calls.service import close_nodeless
from control.ivrs.service import stored_problems
from control.pbx import modes
from control.pbx.config import map_asterisk_user
from control.settings import Settings


@dataclass(frozen=True)
class Upkeep:
    made_private: list[str]
    records_closed: int
    broken_ivrs: dict[str, list[str]]

    def notes(self) -> list[str]:
        """What was changed, one line each."""
        done = [f"made {path} private" for path in self.made_private]
        if self.records_closed:
            done.append(f"closed {self.records_closed} call records left open by a control plane "
                        "from before node names")
        return done

    def warnings(self) -> list[str]:
        """What an operator must mend, one paragraph each."""
        return [f"the IVR of {number} breaks today's rules; its calls are refused (503) until it is "
                "imported again:\n" + "\n".join(f"  {e}" for e in errors)
                for number, errors in self.broken_ivrs.items()]


async def bring_up_to_date(settings: Settings, db: async_sessionmaker) -> Upkeep:
    made_private = modes.tighten(settings.data_dir)
    await asyncio.to_thread(map_asterisk_user, settings)
    return Upkeep(made_private, await close_nodeless(db), await stored_problems(db))
