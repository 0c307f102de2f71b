"""content: play a list of items (keys are ignored), then go to `next` (or end the call)."""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from control.flow.branches.base import Branch, CallContext, optional_branch_ref
from control.flow.play import PlayItem, dump_play, parse_play


@dataclass
class ContentBranch(Branch):
    type = "content"
    fields = MappingProxyType({"type": "content", "play": None, "next": None})
    id: str
    play: list[PlayItem]
    next: str | None

    @classmethod
    def parse(cls, branch_id: str, raw: dict[str, Any], errors: list[str]) -> "ContentBranch":
        where = f"branches.{branch_id}"
        return cls(branch_id, parse_play(raw.get("play"), f"{where}.play", errors),
                   optional_branch_ref(raw, "next", where, errors))

    def targets(self) -> dict[str, str]:
        return {"next": self.next} if self.next else {}

    async def run(self, call: CallContext) -> str | None:
        call.record(self.id, "")
        if self.play:
            await call.play(await call.media.resolve(self.play), barge_in=False)
        return self.next

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "play": dump_play(self.play)}
        if self.next:
            out["next"] = self.next
        return out
