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


def voitex_style(number: str) -> str:
    """A number as Voitex's documents write it: NANP as 10 digits ('8459511000' from
    '+18459511000', '18459511000' or '8459511000'); anything else (another country's E.164, a
    short code, a SIP user, 'anonymous') as it was given: never a number made up from it."""
    digits = number[1:] if number.startswith("+") else number
    if not digits.isdigit():
        return number
    if len(digits) == 11 and digits[0] == "1":
        return digits[1:]
    if len(digits) == 10 and not number.startswith("+"):
        return digits
    return number
