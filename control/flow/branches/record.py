"""record: beep, record the caller into album `album` of the call's tenant as its next free sort
number, then go to `next` (or end the call).

The recording ends at `terminate_on` (`#` by default; null: no key ends it), after
`silence_seconds` of silence (when given), or at `max_seconds`. The new recording's id goes
into the variable `recording_id` and its sort number into `recording_sort`, so a later branch
can play it back (`album` branch with `sort: ${recording_sort}`) or a webhook can name it.

- A caller who hangs up mid-recording: what was said is kept all the same (with its variables
  in the call record), then the call ends as a caller hang-up.
- A take Asterisk failed to record, one that holds less than half a second of audio (the
  sink judges the file: a caller who says nothing until `silence_seconds` ends it leaves
  0.2 s, the rest trimmed as silence), or one that cannot be kept (the database or Asterisk
  failing) goes to `on_fail` (none: on to `next`) with the reason logged; `recording_id` and
  `recording_sort` are then set to "" so no later branch takes an older recording for this
  one. An album that a variable left no number records nothing and goes the same way.
- `branch_data` records the branch once the recording is over: input `"#"` (the key) when the
  key ended it, otherwise `""`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from control.flow.branches.base import Branch, CallContext, boolean, integer, optional_branch_ref, refs, terminator
from control.flow.channel import CallerHungUp, Take
from control.flow.play import parse_recording_number, recording_number, recording_number_problem

log = logging.getLogger(__name__)

MAX_SECONDS = 3600  # the album library's own limit on a recording's length
MAX_SILENCE_SECONDS = 60


@dataclass
class RecordBranch(Branch):
    type = "record"
    fields = MappingProxyType({"type": "record", "album": None, "max_seconds": 60, "silence_seconds": None,
                               "terminate_on": "#", "beep": True, "next": None, "on_fail": None})
    id: str
    album: str  # digits or "${name}"
    next: str | None
    on_fail: str | None = None
    max_seconds: int = 60
    silence_seconds: int | None = None
    terminate_on: str | None = "#"
    beep: bool = True

    @classmethod
    def parse(cls, branch_id: str, raw: dict[str, Any], errors: list[str]) -> "RecordBranch":
        where = f"branches.{branch_id}"
        album = parse_recording_number(raw.get("album"), f"{where}.album", errors, low=1, what="albums") or ""
        silence = None
        if raw.get("silence_seconds") is not None:
            silence = integer(raw, "silence_seconds", 0, where, errors, low=1, high=MAX_SILENCE_SECONDS) or None
        return cls(
            branch_id, album,
            optional_branch_ref(raw, "next", where, errors),
            optional_branch_ref(raw, "on_fail", where, errors),
            integer(raw, "max_seconds", cls.fields["max_seconds"], where, errors, low=1, high=MAX_SECONDS),
            silence,
            terminator(raw, "terminate_on", cls.fields["terminate_on"], where, errors),
            boolean(raw, "beep", cls.fields["beep"], where, errors),
        )

    def targets(self) -> dict[str, str]:
        return refs(next=self.next, on_fail=self.on_fail)

    async def run(self, call: CallContext) -> str | None:
        album, why = self._album(call)
        if why is not None or album is None:
            call.record(self.id, "")
            return self._failed(call, why or "no album")
        if call.recordings is None or not call.tenant.id:
            call.record(self.id, "")
            return self._failed(call, "this call has no album library to record into")
        take = await call.channel.record(max_seconds=self.max_seconds, silence_seconds=self.silence_seconds,
                                         terminate_on=self.terminate_on, beep=self.beep,
                                         tag=call.recordings.tag(call.tenant.id, album))
        call.record(self.id, (self.terminate_on or "") if take.ended_by == "key" else "")
        if take.ended_by == "hangup":
            await self._keep_after_hang_up(call, take, album)
            raise CallerHungUp()
        if take.ended_by == "failed":
            await call.recordings.discard(take)
            return self._failed(call, f"Asterisk could not record ({take.cause or 'no reason given'})")
        try:
            kept = await call.recordings.keep(take, call.tenant.id, album)
        except Exception as exc:
            return self._failed(call, f"could not keep the recording: {exc or type(exc).__name__}")
        call.set_variables({"recording_id": kept.id, "recording_sort": kept.sort})
        log.info("call %s: record %s: recording %s, album %d sort %d, %.1f s (ended by %s)", call.log_id,
                 self.id, kept.id, album, kept.sort, kept.seconds, take.ended_by)
        return self.next

    async def _keep_after_hang_up(self, call: CallContext, take: Take, album: int) -> None:
        assert call.recordings is not None
        try:
            kept = await call.recordings.keep(take, call.tenant.id, album)
        except Exception as exc:
            log.warning("call %s: record %s: the caller hung up and the recording could not be kept: %s",
                        call.log_id, self.id, exc or type(exc).__name__)
            call.set_variables({"recording_id": "", "recording_sort": ""})
            return
        call.set_variables({"recording_id": kept.id, "recording_sort": kept.sort})
        log.info("call %s: record %s: the caller hung up; kept recording %s, album %d sort %d, %.1f s",
                 call.log_id, self.id, kept.id, album, kept.sort, kept.seconds)

    def _album(self, call: CallContext) -> tuple[int | None, str | None]:
        text = recording_number(call.expand(self.album))
        if problem := recording_number_problem(text, low=1):
            return None, f"album {problem}"
        return int(text), None

    def _failed(self, call: CallContext, why: str) -> str | None:
        log.warning("call %s: record %s: %s; going to %s", call.log_id, self.id, why,
                    f"on_fail {self.on_fail}" if self.on_fail else f"next {self.next}" if self.next else "the end")
        call.set_variables({"recording_id": "", "recording_sort": ""})
        return self.on_fail or self.next

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "album": self.album, "max_seconds": self.max_seconds}
        if self.silence_seconds is not None:
            out["silence_seconds"] = self.silence_seconds
        out.update(terminate_on=self.terminate_on, beep=self.beep)
        return out | refs(next=self.next, on_fail=self.on_fail)
