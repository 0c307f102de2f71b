"""album: play recording `sort` of album `album` (either may be a ${variable}), then `next`.

With `ask: true` the caller keys the sort number instead (after the optional `play` prompt,
which a key interrupts), as a multi-digit menu entry is keyed. A recording that is not there
(or a keyed entry that is no number) goes to `on_missing`, or on to `next` without one.
The recording plays to its end: keys do not cut it short.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from control.flow.branches.base import (Branch, CallContext, boolean, integer, number, optional_branch_ref, refs,
                                        terminator)
from control.flow.entry import collect
from control.flow.play import (MAX_RECORDING_NUMBER, PlayItem, dump_play, parse_play, parse_recording_number,
                               recording_number, recording_number_problem)

log = logging.getLogger(__name__)

MAX_SORT_DIGITS = len(str(MAX_RECORDING_NUMBER))
ASK_FIELDS = ("digits", "terminator", "timeout", "inter_digit_timeout", "play")  # read only with ask: true


@dataclass
class AlbumBranch(Branch):
    type = "album"
    fields = MappingProxyType({"type": "album", "album": None, "sort": None, "ask": False, "digits": 3,
                               "terminator": "#", "timeout": 5, "inter_digit_timeout": 3, "play": None,
                               "next": None, "on_missing": None})
    id: str
    album: str  # digits or "${name}"
    sort: str  # digits or "${name}"; "" when the caller keys it
    ask: bool
    next: str | None
    on_missing: str | None = None
    digits: int = 3
    terminator: str | None = "#"
    timeout: float = 5
    inter_digit_timeout: float = 3
    play: list[PlayItem] | None = None

    @classmethod
    def parse(cls, branch_id: str, raw: dict[str, Any], errors: list[str]) -> "AlbumBranch":
        where = f"branches.{branch_id}"
        ask = boolean(raw, "ask", cls.fields["ask"], where, errors)
        if ask and raw.get("sort") is not None:
            errors.append(f"{where}.sort: not used with ask: true (the caller keys the sort number)")
        for key in ASK_FIELDS if not ask else ():
            if key in raw:
                errors.append(f"{where}.{key}: only used with ask: true")
        return cls(
            branch_id,
            parse_recording_number(raw.get("album"), f"{where}.album", errors) or "",
            "" if ask else parse_recording_number(raw.get("sort"), f"{where}.sort", errors) or "",
            ask,
            optional_branch_ref(raw, "next", where, errors),
            optional_branch_ref(raw, "on_missing", where, errors),
            integer(raw, "digits", cls.fields["digits"], where, errors, low=1, high=MAX_SORT_DIGITS),
            terminator(raw, "terminator", cls.fields["terminator"], where, errors),
            number(raw, "timeout", cls.fields["timeout"], where, errors, low=0.5, high=120),
            number(raw, "inter_digit_timeout", cls.fields["inter_digit_timeout"], where, errors, low=0.5, high=30),
            parse_play(raw.get("play"), f"{where}.play", errors) if ask else None,
        )

    def targets(self) -> dict[str, str]:
        return refs(next=self.next, on_missing=self.on_missing)

    async def run(self, call: CallContext) -> str | None:
        if self.ask:
            sort = recording_number(await self._keyed_sort(call))
            # What the caller keyed was never checked, as a document's numbers were.
            problem = recording_number_problem(sort)
            why = f"keyed sort {problem}" if problem else ""
        else:
            sort, why = self.sort, ""
            call.record(self.id, "")
        media: list[str] = []
        if not why:
            media, why = await call.resolve_strict([PlayItem("file", album=self.album, sort=sort)])
        if why:
            log.info("call %s: album branch %s: no recording album %s sort %s (%s)", call.log_id,
                     self.id, self.album, sort, why)
            return self.on_missing or self.next
        await call.play(media, barge_in=False)
        return self.next

    async def _keyed_sort(self, call: CallContext) -> str:
        media = await call.resolve_items(self.play) if self.play else []
        call.channel.flush_digits()  # as a menu does: only keys meant for this prompt count
        first = await call.play(media, barge_in=True) if media else None
        entry = await collect(call.channel, first, max_digits=self.digits, terminator=self.terminator,
                              first_timeout=self.timeout, inter_digit_timeout=self.inter_digit_timeout)
        call.record(self.id, entry)
        return entry

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "album": self.album}
        if self.ask:
            out.update(ask=True, digits=self.digits, terminator=self.terminator, timeout=self.timeout,
                       inter_digit_timeout=self.inter_digit_timeout, play=dump_play(self.play or []))
        else:
            out["sort"] = self.sort
        return out | refs(next=self.next, on_missing=self.on_missing)
