"""menu: play items with barge-in and route the key pressed.

The first key stops the audio. With no key during the audio, `timeout` seconds are waited for
one. A key with no route (and no "%" catch-all) or no key at all uses up one try; after
`retries` more tries the call goes to `on_timeout` (or ends if there is none).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from control.flow.branches.base import Branch, CallContext, number, optional_branch_ref
from control.flow.play import PlayItem, dump_play, parse_play

KEY = re.compile(r"^[0-9*#%]$")
DEFAULTS = {"timeout": 5, "retries": 2}


@dataclass
class MenuBranch(Branch):
    type = "menu"
    id: str
    play: list[PlayItem]
    inputs: dict[str, str]
    timeout: float
    retries: int
    on_timeout: str | None

    @classmethod
    def parse(cls, branch_id: str, raw: dict[str, Any], errors: list[str]) -> "MenuBranch":
        where = f"branches.{branch_id}"
        inputs: dict[str, str] = {}
        raw_inputs = raw.get("inputs")
        if not isinstance(raw_inputs, dict) or not raw_inputs:
            errors.append(f"{where}.inputs: a menu needs inputs mapping keys to branches")
        else:
            for key, target in raw_inputs.items():
                key = str(key)
                if not KEY.match(key):
                    errors.append(f"{where}.inputs.{key}: a key is one of 0-9, *, # or % (any key)")
                elif isinstance(target, bool) or not isinstance(target, (str, int)) or not str(target).strip():
                    errors.append(f"{where}.inputs.{key}: must be a branch number")
                else:
                    inputs[key] = str(target)
        return cls(
            branch_id,
            parse_play(raw.get("play"), f"{where}.play", errors),
            inputs,
            number(raw, "timeout", DEFAULTS["timeout"], where, errors, low=0.5, high=120),
            int(number(raw, "retries", DEFAULTS["retries"], where, errors, low=0, high=20)),
            optional_branch_ref(raw, "on_timeout", where, errors),
        )

    def targets(self) -> dict[str, str]:
        found = {f"inputs.{k}": v for k, v in self.inputs.items()}
        if self.on_timeout:
            found["on_timeout"] = self.on_timeout
        return found

    async def run(self, call: CallContext) -> str | None:
        media = await call.media.resolve(self.play) if self.play else []
        call.channel.flush_digits()
        for _ in range(self.retries + 1):
            key = await call.channel.play(media, barge_in=True) if media else None
            if key is None:
                key = await call.channel.wait_digit(self.timeout)
            if key is None:
                continue
            target = self.inputs.get(key) or self.inputs.get("%")
            if target is not None:
                call.record(self.id, key)
                return target
        call.record(self.id, "")
        return self.on_timeout

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "play": dump_play(self.play), "inputs": dict(self.inputs),
                               "timeout": self.timeout, "retries": self.retries}
        if self.on_timeout:
            out["on_timeout"] = self.on_timeout
        return out
