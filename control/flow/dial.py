"""What a transfer's `to` may say, as text: an E.164 (or 10-digit NANP) number, or a
`sip:user@host[:port]` URI. Syntax only: which trunk it goes through and which countries a
tenant may call are the TransferTargets port's to decide (control/transfers/service.py).

Both shapes are strict, because what comes out of here ends up in an Asterisk dial string
(`PJSIP/<user>@<trunk>`), where `/`, `@`, `,`, `&` or `)` would mean something else.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from control.numbers import phone
from control.trunks import validate

# A number as people and webhooks write it: digits, an optional +, and the usual separators.
# Letters are refused (phonenumbers would read 1-800-FLOWERS, or "ext. 12" as an extension).
PHONE_TEXT = re.compile(r"\+?[0-9(][0-9 ().-]{5,30}")
# The user part of a sip: URI: characters that need no escaping in a URI and mean nothing in
# a dial string or in Asterisk's config (the trunk user name rule).
SIP_USER = r"[A-Za-z0-9+._~-]{1,64}"
SIP_URI = re.compile(r"sip:(" + SIP_USER + r")@(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(?::([0-9]{1,5}))?",
                     re.IGNORECASE)
# A user part that is a name (a PBX's queue or mailbox), not a number: a letter first and at
# most two digits. Any other user part is what a carrier may route to the phone network, once it
# strips what is not a digit (`.442079460000`, `_011 44...`): it must be a phone number, is
# checked as one, and is dialled as its E.164 form, never as written.
NAME_USER = re.compile(r"[A-Za-z][A-Za-z0-9._~-]{0,63}")
MAX_NAME_DIGITS = 2
TO_RULE = "must be a phone number (E.164 like \"+442079460000\", or 10-digit) or a sip:user@host URI"


@dataclass(frozen=True)
class SipTarget:
    user: str
    host: str  # as validate.target normalises it: an address, or a lower-case DNS name
    port: int | None  # None: the URI named none (the trunk's own port is used)

    @property
    def uri(self) -> str:
        host = validate.uri_host(self.host)
        return f"sip:{self.user}@{host}" + (f":{self.port}" if self.port is not None else "")

    @property
    def is_name(self) -> bool:
        return bool(NAME_USER.fullmatch(self.user)) and sum(c.isdigit() for c in self.user) <= MAX_NAME_DIGITS


@dataclass(frozen=True)
class PhoneTarget:
    e164: str
    country_code: int
    region: str  # "US", "JM": calling code 1 alone is twenty-odd countries
    kind: int  # phonenumbers.PhoneNumberType (premium rate, shared cost...)


def is_sip(text: str) -> bool:
    return text[:4].lower() == "sip:"


def parse_sip(text: str) -> SipTarget:
    """A sip:user@host[:port] URI (no parameters, headers or display name), or ValueError."""
    found = SIP_URI.fullmatch(text)
    if found is None:
        raise ValueError(f"{text[:80]!r} is not a sip:user@host[:port] URI (user: letters, digits, + . _ ~ -; "
                         "no parameters or headers)")
    user, host, port = found.groups()
    try:
        host, number = validate.target(host + (f":{port}" if port else ""))
    except ValueError as exc:
        raise ValueError(f"{text[:80]!r}: {str(exc).removeprefix('target: ')}") from None
    return SipTarget(user, host, number if port else None)


def parse_phone(text: str) -> PhoneTarget:
    """A valid phone number in E.164 (or NANP without the +1, or an international number with
    the 011 prefix), or ValueError."""
    if not PHONE_TEXT.fullmatch(text):
        raise ValueError(f"{text[:80]!r} {TO_RULE}")
    parsed = phone.parse(text, strict=True)
    return PhoneTarget(phone.e164(parsed), parsed.country_code, phonenumbers.region_code_for_number(parsed) or "",
                       phonenumbers.number_type(parsed))
