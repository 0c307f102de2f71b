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

from control.numbers.phone import e164

INVALID_FORMAT = "invalid_format"
UNALLOCATED_NANP = "unallocated_nanp"  # ten digits, but the area code is not in service (555)
MAX_TEXT = 40  # longer is no phone number; it is not parsed at all
# What people put between digits: "(732) 555-0184", "732.555.0184", "+1 732 555 0184".
SEPARATORS = re.compile(r"[\s().\-]")
NANP = re.compile(r"(?:\+?1)?([2-9][0-9]{2})([0-9]{7})")
INTERNATIONAL = re.compile(r"\+[0-9]{7,15}")


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
    """Whether libphonenumber knows any valid number in this NANP area code: the first valid
    exchange ends the search, so an area code in service costs a few checks and one that is not
    (555, 311) about 20 ms, once per process."""
    return any(phonenumbers.is_valid_number(phonenumbers.PhoneNumber(
        country_code=1, national_number=int(f"{area}{exchange}0100"))) for exchange in range(200, 1000))
