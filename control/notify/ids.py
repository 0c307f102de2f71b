"""Identifiers shaped like Voitex's (treat them as opaque): reference ids like
`Sz1gt0IqgVV7HHs`, request ids like `req_0a1b2c3d4e`, group ids like `G2606241530042` and batch
ids like `1_S_8451234567_8459511000_2606241530_042`, each with enough randomness to be unique."""
from __future__ import annotations

import secrets
import string
from datetime import datetime

ALPHABET = string.ascii_letters + string.digits
REFERENCE_LENGTH = 15


def reference() -> str:
    # One call for the randomness: a 10,000-recipient broadcast makes 10,000 of these. The
    # modulo's bias (256 % 62) costs under a bit of the 89 bits.
    return "".join(ALPHABET[b % len(ALPHABET)] for b in secrets.token_bytes(REFERENCE_LENGTH))


def request_id() -> str:
    return "req_" + secrets.token_hex(5)


def _stamp(at: datetime) -> str:
    return at.strftime("%y%m%d%H%M")


def group_id(at: datetime) -> str:
    return f"G{_stamp(at)}{secrets.randbelow(10**9):09}"


def batch_id(count: int, kind: str, first: str, sender: str, at: datetime) -> str:
    """count recipients, S(MS) or C(ALL), the first recipient and the sender as 10 digits when NANP."""
    return f"{count}_{kind[0]}_{_ten(first)}_{_ten(sender)}_{_stamp(at)}_{secrets.randbelow(10**6):06}"


def _ten(e164: str) -> str:
    return e164[2:] if e164.startswith("+1") and len(e164) == 12 else e164.lstrip("+")
