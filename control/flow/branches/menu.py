"""menu: play items with barge-in and route the key, or the entry of several keys, pressed.

The first key stops the audio. With no key during the audio, `timeout` seconds are waited for
one. With `digits` over 1, more keys are collected (entry.collect): the terminator, the
digit count, an entry only one key can mean, or `inter_digit_timeout` seconds without a key
ends the entry. An entry with no route (and no "%" catch-all) goes to `on_invalid`, or
without one uses up a try like no key at all; after `retries` more tries the call goes to
`on_timeout` (or ends if there is none).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable

from control.flow.branches.base import (Branch, CallContext, integer, keyed_by_id, number, optional_branch_ref,
                                        refs, terminator, to_branch_id)
from control.flow.entry import ANY, ENTRY, MAX_DIGITS, collect, ends_on_match, terminator_for
from control.flow.play import PlayItem, dump_play, parse_play

KEY = re.compile(r"[0-9*#%]")
KEY_RULE = "a key is one of 0-9, *, # or % (any key)"
ENTRY_RULE = "an entry is keys of 0-9, * and #, or % (any entry)"


@dataclass
class MenuBranch(Branch):
    type = "menu"
    fields = MappingProxyType({"type": "menu", "play": None, "inputs": None, "timeout": 5, "retries": 2,
                               "on_timeout": None, "digits": 1, "terminator": "#", "inter_digit_timeout": 3,
                               "on_invalid": None})
    id: str
    play: list[PlayItem]
    inputs: dict[str, str]
    timeout: float
    retries: int
    on_timeout: str | None
    digits: int = 1
    terminator: str | None = "#"  # only read when digits > 1: "#" stays routable in one-key menus
    inter_digit_timeout: float = 3
    on_invalid: str | None = None
    # Made once from the fields above: the terminator in force (none in one-key menus) and
    # when an entry is whole.
    _ends: str | None = field(init=False, repr=False, compare=False)
    _complete: Callable[[str], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._ends = terminator_for(self.inputs, self.terminator, self.digits)
        # One-key menus never get past the first key; longer ones end once only one key fits.
        self._complete = ends_on_match(self.inputs) if self.digits > 1 else (lambda entry: False)

    @classmethod
    def parse(cls, branch_id: str, raw: dict[str, Any], errors: list[str]) -> "MenuBranch":
        where = f"branches.{branch_id}"
        digits = integer(raw, "digits", cls.fields["digits"], where, errors, low=1, high=MAX_DIGITS)
        ends = terminator(raw, "terminator", cls.fields["terminator"], where, errors)
        return cls(
            branch_id,
            parse_play(raw.get("play"), f"{where}.play", errors),
            _parse_inputs(raw.get("inputs"), f"{where}.inputs", digits, ends if digits > 1 else None, errors),
            number(raw, "timeout", cls.fields["timeout"], where, errors, low=0.5, high=120),
            integer(raw, "retries", cls.fields["retries"], where, errors, low=0, high=20),
            optional_branch_ref(raw, "on_timeout", where, errors),
            digits,
            ends,
            number(raw, "inter_digit_timeout", cls.fields["inter_digit_timeout"], where, errors, low=0.5, high=30),
            optional_branch_ref(raw, "on_invalid", where, errors),
        )

    def targets(self) -> dict[str, str]:
        return {**{f"inputs.{k}": v for k, v in self.inputs.items()},
                **refs(on_timeout=self.on_timeout, on_invalid=self.on_invalid)}

    async def run(self, call: CallContext) -> str | None:
        media = await call.resolve_items(self.play) if self.play else []
        call.channel.flush_digits()  # after resolving: keys pressed while a prompt rendered are type-ahead too
        for _ in range(self.retries + 1):
            first = await call.play(media, barge_in=True) if media else None
            entry = await collect(call.channel, first, max_digits=self.digits, terminator=self._ends,
                                  first_timeout=self.timeout, inter_digit_timeout=self.inter_digit_timeout,
                                  complete=self._complete)
            if entry:  # not "": no key, or the terminator alone, means nothing was entered
                target = self.inputs.get(entry) or self.inputs.get(ANY) or self.on_invalid
                if target is not None:
                    call.record(self.id, entry)
                    return target
            if self.digits > 1:
                # A `#` after an entry that was already whole would cut the next try short.
                call.channel.flush_digits()
        call.record(self.id, "")
        return self.on_timeout

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "play": dump_play(self.play), "inputs": dict(self.inputs),
                               "timeout": self.timeout, "retries": self.retries, **refs(on_timeout=self.on_timeout)}
        # New fields only when set, so a one-key menu dumps as it always has.
        if self.digits != self.fields["digits"]:
            out["digits"] = self.digits
        if self.terminator != self.fields["terminator"]:
            out["terminator"] = self.terminator
        if self.inter_digit_timeout != self.fields["inter_digit_timeout"]:
            out["inter_digit_timeout"] = self.inter_digit_timeout
        return out | refs(on_invalid=self.on_invalid)


def _parse_inputs(raw: Any, where: str, digits: int, ends: str | None, errors: list[str]) -> dict[str, str]:
    """Keys (or entries) to branch ids; key 1 and key "1" are one key, as are targets 9 and "9"."""
    if not isinstance(raw, dict) or not raw:
        errors.append(f"{where}: a menu needs inputs mapping keys to branches")
        return {}
    inputs: dict[str, str] = {}
    for key, target in keyed_by_id(raw, where, "key", KEY_RULE if digits == 1 else ENTRY_RULE, errors).items():
        ref = to_branch_id(target)
        problem = _key_problem(key, digits, ends)
        if problem:
            errors.append(f"{where}.{key}: {problem}")
        elif ref is None:
            errors.append(f"{where}.{key}: must be a branch number")
        else:
            inputs[key] = ref
    return inputs


def _key_problem(key: str, digits: int, ends: str | None) -> str | None:
    if digits == 1:
        return None if KEY.fullmatch(key) else KEY_RULE
    if key != ANY and not ENTRY.fullmatch(key):
        return ENTRY_RULE
    if len(key) > digits:
        return f"{len(key)} keys, more than digits ({digits}) lets a caller enter"
    if ends is not None and ends in key:
        return f"holds the terminator {ends!r}, which ends an entry (set terminator: null, or another key)"
    return None
