"""Phone numbers in, E.164 out (phonenumbers does the parsing; NANP is the default region)."""
from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "US"


def to_e164(text: str, *, strict: bool = True) -> str:
    """'8005550100', '18005550100', '+1 800 555 0100' -> '+18005550100'.

    strict (provisioning) also requires a number that exists in the numbering plan; routing a
    dialled number only needs it to parse, so a carrier's odd format still reaches the lookup.
    """
    try:
        parsed = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{text!r} is not a phone number: {exc}") from None
    if strict and not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{text!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
