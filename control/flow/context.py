"""A running call as branches see it: its channel and media, who called which number for
which tenant, its variables, and its logs (branch_data, webhook exchanges)."""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from control.flow.channel import Channel, TransferOutcome
from control.flow.play import VARIABLE, MediaMissing, MediaResolver, PlayItem, item_problem
from control.flow.ports import IvrLookup, RecordingSink, TenantView, TransferTargets, Webhooks

if TYPE_CHECKING:  # document.py imports the branches, which import this module
    from control.flow.document import Ivr

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Leg:
    """A far leg the call dialled (a transfer): written as a call record of its own, linked to
    the call, when the call ends."""

    outcome: TransferOutcome
    number: str  # what was dialled, as recorded: E.164 or a sip: URI
    caller_id: str  # the number presented to the far end
    branch: str  # the transfer branch that dialled it


@dataclass
class CallContext:
    """What a running branch may use. Adapters fill in what they know; every field but the
    channel and media has a default, so a test builds one from those two."""

    channel: Channel
    media: MediaResolver
    call_id: str = ""
    caller: str = ""  # the caller's number as received
    caller_name: str = ""
    did: str = ""  # the number called, E.164
    tenant: TenantView = TenantView()
    ivr: Ivr | None = None  # the IVR now running: a goto with a number replaces it
    hooks: Webhooks | None = None
    ivrs: IvrLookup | None = None
    recordings: RecordingSink | None = None  # where record branches keep what callers say
    transfers: TransferTargets | None = None  # where transfer branches may dial
    variables: dict[str, str] = field(default_factory=dict)
    # Every branch the call went through: the call record keeps all of them, webhooks get
    # those from data_from on (clear_data moves it).
    branch_data: list[dict[str, str]] = field(default_factory=list)
    data_from: int = 0
    exchanges: list[dict[str, Any]] = field(default_factory=list)  # webhook exchanges, for calls show
    reason: str | None = None  # why a branch ended the call, when it did so for a reason
    legs: list[Leg] = field(default_factory=list)  # far legs dialled by transfers, in order
    _unknown_named: set[str] = field(default_factory=set, init=False, repr=False)

    def record(self, branch: str, keys: str) -> None:
        self.branch_data.append({"branch": branch, "input": keys})

    def clear_data(self) -> None:
        self.data_from = len(self.branch_data)

    def webhook_branch_data(self) -> list[dict[str, str]]:
        """The branches a webhook is told of: those since the call began or was last cleared."""
        return self.branch_data[self.data_from:]

    def end_because(self, reason: str) -> None:
        """Note why a branch ends the call (the call record keeps it); the branch then returns None."""
        log.warning("call %s: %s; hanging up", self.call_id or "-", reason)
        self.reason = reason

    def expand(self, text: str) -> str:
        """text with each ${name} replaced by the variable's value, once (a value holding
        "${x}" stays as it is); an unknown name becomes "" and is logged once per call."""
        if "$" not in text:
            return text
        return VARIABLE.sub(self._value_of, text)

    def _value_of(self, match: re.Match[str]) -> str:
        name = match.group(1)
        value = self.variables.get(name)
        if value is not None:
            return value
        if name not in self._unknown_named:
            self._unknown_named.add(name)
            log.warning("call %s: unknown variable ${%s} expands to nothing", self.call_id or "-", name)
        return ""

    def expand_item(self, item: PlayItem) -> PlayItem:
        """item with variables expanded in its text, album and sort (see PlayItem.expanded)."""
        return item.expanded(self.expand)

    def set_variables(self, mapping: Mapping[Any, Any]) -> None:
        """Merge variables, keys trimmed (Voitex's own sample sends "caller_pin "), values as
        text; a key that trims to nothing is dropped."""
        for key, value in mapping.items():
            name = str(key).strip()
            if name:
                self.variables[name] = as_text(value)

    async def play_items(self, items: Sequence[PlayItem], *, barge_in: bool) -> str | None:
        """Expand, resolve and play items (see resolve_items). Returns the key that barged in."""
        media = await self.resolve_items(items)
        return await self.play(media, barge_in=barge_in) if media else None

    async def resolve_items(self, items: Sequence[PlayItem]) -> list[str]:
        """Media for items, variables expanded, resolved for the tenant. An item that cannot be
        played (a file with no recording, a text a variable emptied) is skipped and logged:
        the rest still plays. For a branch that plays the same items more than once, or must
        forget keys pressed while they rendered."""
        ready: list[PlayItem] = []
        for item in items:
            item = self.expand_item(item)
            problem = item_problem(item)
            if problem is None:
                ready.append(item)
            else:
                log.warning("call %s: skipping a %s item: %s", self.call_id or "-", item.type, problem)
        return await self._resolve_present(ready)

    async def _resolve_present(self, items: list[PlayItem]) -> list[str]:
        # One resolve for the usual case; each missing file costs one more, without it.
        while items:
            try:
                return await self.media.resolve(items, tenant_id=self.tenant.id)
            except MediaMissing as missing:
                log.warning("call %s: skipping file album %s sort %s: %s", self.call_id or "-",
                            missing.item.album, missing.item.sort, missing.why)
                if missing.item not in items:
                    raise  # the resolver named an item it was not given: skipping it would loop
                items = [i for i in items if i != missing.item]
        return []

    async def play(self, media: list[str], *, barge_in: bool,
                   stops_on: Callable[[str], bool] | None = None) -> str | None:
        """Play resolved media (see Channel.play); its known length lets the channel notice a
        playback whose end never comes."""
        return await self.channel.play(media, barge_in=barge_in, seconds=self.media.seconds(media),
                                       stops_on=stops_on)


def as_text(value: Any) -> str:
    """A variable's value as text: JSON's numbers and booleans as JSON writes them, null as
    "", lists and objects as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
