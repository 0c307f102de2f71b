"""Branch types by name. A new type is one module here and one line in TYPES."""
from control.flow.branches.album import AlbumBranch
from control.flow.branches.base import Branch, CallContext
from control.flow.branches.contact_data import ContactDataBranch
from control.flow.branches.content import ContentBranch
from control.flow.branches.goto import GotoBranch
from control.flow.branches.hangup import HangupBranch
from control.flow.branches.menu import MenuBranch
from control.flow.branches.record import RecordBranch
from control.flow.branches.transfer import TransferBranch
from control.flow.branches.trigger import TriggerBranch

TYPES: dict[str, type[Branch]] = {b.type: b for b in (ContentBranch, MenuBranch, HangupBranch, GotoBranch,
                                                      AlbumBranch, TriggerBranch, RecordBranch,
                                                      TransferBranch, ContactDataBranch)}

__all__ = ["Branch", "CallContext", "TYPES"]
