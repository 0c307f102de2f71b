"""A running call as branches see it: its channel and media, who called which number for
which tenant, its variables, and its logs (branch_data, webhook exchanges)."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from control.flow.channel import Channel, TransferOutcome
from control.flow.play import VARIABLE, MediaMissing, MediaResolver, PlayItem, item_problem
from control.flow.ports import ContactLookup, IvrLookup, RecordingSink, TenantView, TransferTargets, Webhooks

if TYPE_CHECKING:  # document.py imports the branches, which import this module
    from control.flow.document import Ivr

log = logging.getLogger(__name__)
_NOT_ASKED: Any = object()


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
    contacts: ContactLookup | None = None  # who the caller is in the tenant's contacts
    variables: dict[str, str] = field(default_factory=dict)
    # Every branch the call went through: the call record keeps all of them, webhooks get
    # those from data_from on (clear_data moves it).
    branch_data: list[dict[str, str]] = field(default_factory=list)
    data_from: int = 0
    exchanges: list[dict[str, Any]] = field(default_factory=list)  # webhook exchanges, for calls show
    reason: str | None = None  # why a branch ended the call, when it did so for a reason
    legs: list[Leg] = field(default_factory=list)  # far legs dialled by transfers, in order
    _unknown_named: set[str] = field(default_factory=set, init=False, repr=False)
    _contact: dict[str, Any] | None = field(default=_NOT_ASKED, init=False, repr=False)

    async def contact(self) -> dict[str, Any] | None:
        """The caller's contact (see ContactLookup), looked up the first time a branch asks and
        kept for the rest of the call: a call that never asks pays nothing, one that asks pays
        one lookup. A lookup that fails is logged and counts as no contact."""
        if self._contact is _NOT_ASKED:
            self._contact = None
            if self.contacts is not None and self.tenant.id and self.caller:
                try:
                    self._contact = await self.contacts.for_caller(self.tenant.id, self.caller)
                except Exception:
                    log.exception("call %s: looking up the caller's contact failed", self.log_id)
        return self._contact

    def record(self, branch: str, keys: str) -> None:
        self.branch_data.append({"branch": branch, "input": keys})

    def clear_data(self) -> None:
        self.data_from = len(self.branch_data)

    def webhook_branch_data(self) -> list[dict[str, str]]:
        """The branches a webhook is told of: those since the call began or was last cleared."""
        return self.branch_data[self.data_from:]

    @property
    def log_id(self) -> str:
        """The call as logs name it."""
        return self.call_id or "-"

    def end_because(self, reason: str) -> None:
        """Note why a branch ends the call (the call record keeps it); the branch then returns None."""
        log.warning("call %s: %s; hanging up", self.log_id, reason)
        self.reason = reason

    def expand(self, text: str, variables: Mapping[str, str] | None = None) -> str:
        """text with each ${name} replaced by the variable's value (of `variables`, else the
        call's), once (a value holding "${x}" stays as it is); an unknown name becomes "" and
        is logged once per call."""
        if "$" not in text:
            return text
        known = self.variables if variables is None else variables
        return VARIABLE.sub(lambda match: self._value_of(match.group(1), known), text)

    def _value_of(self, name: str, known: Mapping[str, str]) -> str:
        value = known.get(name)
        if value is not None:
            return value
        if name not in self._unknown_named:
            self._unknown_named.add(name)
            log.warning("call %s: unknown variable ${%s} expands to nothing", self.log_id, name)
        return ""

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
        left = list(items)
        while left:  # one resolve for the usual case; each item that cannot play costs one more
            media, failed = await self._resolve(left)
            if failed is None:
                return media
            index, _, why = failed
            item = left.pop(index)
            log.warning("call %s: skipping %s: %s", self.log_id,
                        f"file album {item.album} sort {item.sort}" if item.type == "file" else f"a {item.type} item",
                        why)
        return []

    async def resolve_strict(self, items: Sequence[PlayItem],
                             variables: Mapping[str, str] | None = None) -> tuple[list[str], str]:
        """Media for every item (variables expanded, from `variables` when given), or [] and why
        one of them cannot be played: for what must play whole or not at all (an album
        branch's recording, a webhook's answer, where a missing recording is a wrong answer)."""
        media, failed = await self._resolve(items, variables)
        if failed is None:
            return media, ""
        _, where, why = failed
        return [], f"{where}: {why}"

    async def _resolve(self, items: Sequence[PlayItem], variables: Mapping[str, str] | None = None
                       ) -> tuple[list[str], tuple[int, str, str] | None]:
        """(media, None) for items, or ([], (index, where, why)) for the first that cannot play."""
        ready: list[PlayItem] = []
        expand = self.expand if variables is None else (lambda text: self.expand(text, variables))
        for i, item in enumerate(items):
            expanded = item.expanded(expand)
            # Items were checked when parsed: only what a variable changed can have gone wrong.
            if expanded is not item and (problem := item_problem(expanded)):
                return [], (i, f"play.{i}", problem)
            ready.append(expanded)
        try:
            return await self.media.resolve(ready, tenant_id=self.tenant.id), None
        except MediaMissing as missing:
            if missing.item not in ready:
                raise  # the resolver named an item it was not given: skipping it would loop
            return [], (ready.index(missing.item), "play", missing.why)

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
