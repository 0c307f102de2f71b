"""Phone numbers as integrators send them (contacts, notify recipients): judged the way Voitex
judges them, by shape and area code, not by libphonenumber's full validity check.

That check also vets the exchange (the three digits after the area code), and rejects numbers
the Voitex document itself uses as samples (8451234567: exchange 123). Here a NANP number is
ten digits (an optional leading 1 or +1) whose area code is in service; any other number must
be E.164 with its `+` and valid in full. The reasons are Notify's `invalid` words.
"""
from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers.tzdata import TIMEZONE_DATA

from control.numbers.phone import e164

INVALID_FORMAT = "invalid_format"
UNALLOCATED_NANP = "unallocated_nanp"  # ten digits, but the area code is not in service (555)
MAX_TEXT = 40  # longer is no phone number; it is not parsed at all
# What people put between digits: "(732) 555-0184", "732.555.0184", "+1 732 555 0184".
SEPARATORS = re.compile(r"[\s().\-]")
NANP = re.compile(r"(?:\+?1)?([2-9][0-9]{2})([0-9]{7})")
INTERNATIONAL = re.compile(r"\+[0-9]{7,15}")
# The shapes of NANP's non-geographic area codes: 5XX, and N00 or NXX (easily recognizable codes).
NON_GEOGRAPHIC = re.compile(r"5[0-9]{2}|[2-9]([0-9])\1")
NON_GEOGRAPHIC_REGIONS = ("US", "CA")


class PhoneRefused(ValueError):
    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"{text[:MAX_TEXT]!r} is not a phone number ({reason})")
        self.text = text
        self.reason = reason


def recipient_e164(text: str) -> str:
    """text as E.164 ('7325550184', '17325550184', '+1 (732) 555-0184' -> '+17325550184'), or
    PhoneRefused with Notify's reason."""
    if len(text) > MAX_TEXT:
        raise PhoneRefused(text, INVALID_FORMAT)
    compact = SEPARATORS.sub("", text.strip())
    nanp = NANP.fullmatch(compact)
    if nanp is not None and (compact.startswith("+1") or not compact.startswith("+")):
        area, rest = nanp.groups()
        if not area_code_in_service(area):
            raise PhoneRefused(text, UNALLOCATED_NANP)
        return f"+1{area}{rest}"
    if INTERNATIONAL.fullmatch(compact) and not compact.startswith("+1"):
        try:
            parsed = phonenumbers.parse(compact, None)
        except phonenumbers.NumberParseException:
            raise PhoneRefused(text, INVALID_FORMAT) from None
        if phonenumbers.is_valid_number(parsed):
            return e164(parsed)
    raise PhoneRefused(text, INVALID_FORMAT)


@lru_cache(maxsize=None)
def area_code_in_service(area: str) -> bool:
    """Whether libphonenumber knows any valid number in this NANP area code.

    Asking is_valid_number of every exchange costs 27 ms for an area code with none (555), on
    the event loop, and a request naming fifty such codes would hold every call for a second.
    So: an area code with a place is in libphonenumber's time zone data (one set lookup); the
    others in service are the non-geographic ones (5XX personal numbers, and easily recognizable
    codes, N00 and NXX: toll-free 8XX, 600, 900), in the US and Canadian data, and only an area
    code of those shapes is probed, once. tests/unit/test_recipients.py checks this against the
    exhaustive probe for all 800 area codes."""
    if area in _geographic():
        return True
    if not NON_GEOGRAPHIC.fullmatch(area):
        return False
    return any(phonenumbers.is_valid_number_for_region(phonenumbers.PhoneNumber(
        country_code=1, national_number=int(f"{area}{exchange}0100")), region)
        for exchange in range(200, 1000) for region in NON_GEOGRAPHIC_REGIONS)


@lru_cache(maxsize=1)
def _geographic() -> frozenset[str]:
    """The NANP area codes with a place: libphonenumber gives each a time zone ("1201", ...)."""
    return frozenset(prefix[1:4] for prefix in TIMEZONE_DATA if prefix[:1] == "1" and len(prefix) >= 4)
