"""The one digit collector every multi-digit entry uses (menu, album, trigger inputs).

Timing follows the rule callers judge us by: `first_timeout` runs only while no key has been
pressed; after the first key the inter-digit wait alone decides when the entry ends (unless
the terminator, the digit count or `complete` ends it first), and a partial entry is
delivered as what it is, never as "no input".
"""
from __future__ import annotations

import re
from typing import Callable, Collection

from control.flow.channel import Channel

# What routes an entry, in a menu's inputs and in a webhook's: the keys a caller presses, at
# most MAX_DIGITS of them, or ANY, which takes any entry.
MAX_DIGITS = 20
ENTRY = re.compile(rf"[0-9*#]{{1,{MAX_DIGITS}}}")
ANY = "%"


def terminator_for(keys: Collection[str], preferred: str | None, digits: int) -> str | None:
    """The key that ends an entry of up to `digits` keys routed by `keys`: `preferred`, except
    where an entry is one key (every key routes at once, so `#` stays routable) or some key
    holds it (it is then part of an entry, not its end)."""
    if preferred is None or digits <= 1 or any(preferred in key for key in keys):
        return None
    return preferred


async def collect(channel: Channel, first: str | None, *, max_digits: int, terminator: str | None,
                  first_timeout: float, inter_digit_timeout: float,
                  complete: Callable[[str], bool] = lambda entry: False) -> str:
    """The keys entered, without the terminator; "" when no key came (or the terminator came
    first: an empty entry). `first` is a key already taken, such as the one that barged in."""
    key = first if first is not None else await channel.wait_digit(first_timeout)
    entry = ""
    while key is not None:
        if key == terminator:
            return entry
        entry += key
        if len(entry) >= max_digits or complete(entry):
            return entry
        key = await channel.wait_digit(inter_digit_timeout)
    return entry


def ends_on_match(keys: Collection[str]) -> Callable[[str], bool]:
    """A `complete` for entries routed by keys: an entry that is a key no longer key extends
    can mean nothing else, so the caller is not kept waiting for the inter-digit timeout.
    "%" (any entry) takes no part: it never ends an entry early."""
    exact = {k for k in keys if k != ANY}
    prefixes = {k[:i] for k in exact for i in range(1, len(k))}
    return lambda entry: entry in exact and entry not in prefixes
