"""Phone numbers in, E.164 out (phonenumbers does the parsing; NANP is the default region).
The one place numbers are parsed: provisioning, routing, goto targets and transfer targets
all build on `parse`."""
from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "US"  # 10-digit numbers are NANP, as Voitex writes them


def parse(text: str, *, strict: bool = True) -> phonenumbers.PhoneNumber:
    """text as a phone number, or ValueError saying why not.

    strict (provisioning, goto and transfer targets) also requires a number that exists in the
    numbering plan, with no extension; routing a dialled number only needs it to parse, so a
    carrier's odd format still reaches the lookup."""
    try:
        parsed = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{text[:80]!r} is not a phone number: {exc}") from None
    if strict and (parsed.extension or not phonenumbers.is_valid_number(parsed)):
        raise ValueError(f"{text[:80]!r} is not a valid phone number")
    return parsed


def e164(parsed: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def to_e164(text: str, *, strict: bool = True) -> str:
    """'8005550100', '18005550100', '+1 800 555 0100' -> '+18005550100' (see parse)."""
    return e164(parse(text, strict=strict))


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
