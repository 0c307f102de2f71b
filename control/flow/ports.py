"""What the engine needs from outside a call besides its channel: the tenant, webhooks, other
numbers' IVRs. Adapters implement these; tests use fakes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from control.flow.channel import DialTarget, Take

if TYPE_CHECKING:  # document.py imports the branches, which import this module
    from control.flow.document import Ivr


@dataclass(frozen=True)
class TenantView:
    """The little of a tenant a running call needs."""

    id: str = ""
    timezone: str = "UTC"  # IANA name
    signing_secret: str = ""


@dataclass(frozen=True)
class HookAnswer:
    status: int | None  # HTTP status; None when no answer came
    body: Any  # parsed JSON, or None when the body was not JSON
    ms: float  # how long the exchange took
    # Why there is no usable answer: "timeout after 5 s", "connection refused", "URL refused: ...", "not JSON"
    error: str | None = None


class Webhooks(Protocol):
    async def post(self, url: str, body: dict[str, Any], *, secret: str, timeout: float) -> HookAnswer:
        """POST body as JSON, signed with secret; never raises for the far side's faults:
        they come back as HookAnswer.error."""


class ContactLookup(Protocol):
    async def for_caller(self, tenant_id: str, caller: str) -> dict[str, Any] | None:
        """The tenant's contact one of whose phones is `caller` (as received), in the shape the
        Contacts API's select answers ({contact, phones, labels}), or None: no such contact, or
        a caller id that is no phone number."""


class IvrLookup(Protocol):
    async def for_number(self, number: str, tenant_id: str) -> "Ivr | None":
        """Another number's IVR of the same tenant (number: E.164, as a goto holds it), or None
        when the tenant has no such number or it has no IVR."""


@dataclass(frozen=True)
class KeptRecording:
    """A take as the album library now has it."""

    id: str  # the recording's id (a numeric string)
    sort: int  # its sort number in the album: the lowest that was free
    seconds: float  # its length, measured from the kept file


class RecordingSink(Protocol):
    def tag(self, tenant_id: str, album: int) -> str:
        """What a take for this album carries in its name (Channel.record's `tag`), so a take a
        crash left behind can still be kept where it was meant to go."""

    async def keep(self, take: Take, tenant_id: str, album: int) -> KeptRecording:
        """Add the take to the tenant's album at the next free sort number, then let the media
        server forget it. Raises (with a message fit for a log) when it cannot be kept: the
        take is missing or holds no audio, the tenant is gone, the media server cannot be
        reached; the media server's copy is let go of unless keeping it later may work."""

    async def discard(self, take: Take) -> None:
        """Let the media server forget a take that is not kept; never raises."""


class TransferRefused(Exception):
    """A transfer target the tenant may not dial (the message says why): nothing is dialled."""


class TransferTargets(Protocol):
    async def target(self, to: str, tenant_id: str) -> DialTarget:
        """The dial target for `to` (variables already expanded): an E.164 or 10-digit number
        through the tenant's outbound trunk, in one of its allowed country codes, or a
        sip:user@host URI whose host is a trunk's target. Raises TransferRefused otherwise."""
