"""menu: play items with barge-in and route the key pressed.

The first key stops the audio. With no key during the audio, `timeout` seconds are waited for
one. A key with no route (and no "%" catch-all) or no key at all uses up one try; after
`retries` more tries the call goes to `on_timeout` (or ends if there is none).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from control.flow.branches.base import (Branch, CallContext, integer, keyed_by_id, number, optional_branch_ref,
                                        to_branch_id)
from control.flow.play import PlayItem, dump_play, parse_play

KEY = re.compile(r"[0-9*#%]")
KEY_RULE = "a key is one of 0-9, *, # or % (any key)"


@dataclass
class MenuBranch(Branch):
    type = "menu"
    fields = MappingProxyType({"type": "menu", "play": None, "inputs": None, "timeout": 5, "retries": 2,
                               "on_timeout": None})
    id: str
    play: list[PlayItem]
    inputs: dict[str, str]
    timeout: float
    retries: int
    on_timeout: str | None

    @classmethod
    def parse(cls, branch_id: str, raw: dict[str, Any], errors: list[str]) -> "MenuBranch":
        where = f"branches.{branch_id}"
        return cls(
            branch_id,
            parse_play(raw.get("play"), f"{where}.play", errors),
            _parse_inputs(raw.get("inputs"), f"{where}.inputs", errors),
            number(raw, "timeout", cls.fields["timeout"], where, errors, low=0.5, high=120),
            integer(raw, "retries", cls.fields["retries"], where, errors, low=0, high=20),
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
            key = await call.play(media, barge_in=True) if media else None
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


def _parse_inputs(raw: Any, where: str, errors: list[str]) -> dict[str, str]:
    """Keys to branch ids; key 1 and key "1" are one key, as are targets 9 and "9"."""
    if not isinstance(raw, dict) or not raw:
        errors.append(f"{where}: a menu needs inputs mapping keys to branches")
        return {}
    inputs: dict[str, str] = {}
    for key, target in keyed_by_id(raw, where, "key", KEY_RULE, errors).items():
        ref = to_branch_id(target)
        if not KEY.fullmatch(key):
            errors.append(f"{where}.{key}: {KEY_RULE}")
        elif ref is None:
            errors.append(f"{where}.{key}: must be a branch number")
        else:
            inputs[key] = ref
    return inputs
