"""hangup: optionally play items, then end the call from the platform's side."""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from control.flow.branches.base import Branch, CallContext
from control.flow.play import PlayItem, dump_play, parse_play


@dataclass
class HangupBranch(Branch):
    type = "hangup"
    fields = MappingProxyType({"type": "hangup", "play": None})
    id: str
    play: list[PlayItem]

    @classmethod
    def parse(cls, branch_id: str, raw: dict[str, Any], errors: list[str]) -> "HangupBranch":
        return cls(branch_id, parse_play(raw.get("play"), f"branches.{branch_id}.play", errors))

    async def run(self, call: CallContext) -> str | None:
        call.record(self.id, "")
        if self.play:
            await call.play_items(self.play, barge_in=False)
        return None

    def dump(self) -> dict[str, Any]:
        return {"type": self.type, "play": dump_play(self.play)}
