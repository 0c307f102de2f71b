"""content: play a list of items (keys are ignored), then go to `next` (or end the call).

`clear_data: true` is Voitex's "Clear Data": webhooks from then on are sent the branches after
this one only (the call record still keeps every branch).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from control.flow.branches.base import Branch, CallContext, boolean, optional_branch_ref, refs
from control.flow.play import PlayItem, dump_play, parse_play


@dataclass
class ContentBranch(Branch):
    type = "content"
    fields = MappingProxyType({"type": "content", "play": None, "next": None, "clear_data": False})
    id: str
    play: list[PlayItem]
    next: str | None
    clear_data: bool = False

    @classmethod
    def parse(cls, branch_id: str, raw: dict[str, Any], errors: list[str]) -> "ContentBranch":
        where = f"branches.{branch_id}"
        return cls(branch_id, parse_play(raw.get("play"), f"{where}.play", errors),
                   optional_branch_ref(raw, "next", where, errors),
                   boolean(raw, "clear_data", cls.fields["clear_data"], where, errors))

    def targets(self) -> dict[str, str]:
        return refs(next=self.next)

    async def run(self, call: CallContext) -> str | None:
        call.record(self.id, "")
        if self.clear_data:
            # After recording this branch: the next webhook hears of what follows it, not of
            # the branch that cleared.
            call.clear_data()
        if self.play:
            await call.play_items(self.play, barge_in=False)
        return self.next

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "play": dump_play(self.play), **refs(next=self.next)}
        if self.clear_data:
            out["clear_data"] = True
        return out
