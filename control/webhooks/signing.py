"""The signature every webhook carries, so an integrator can tell our requests from forgeries.

`X-Voicectl-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>`, keyed with the
tenant's signing secret. The time is inside the MAC so a captured request cannot be replayed
later than the receiver's tolerance; the shape is Stripe's, which integrators already know.
docs/webhooks.md has a copyable verifier that needs nothing of ours.
"""
from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Voicectl-Signature"
SCHEME = "v1"
TOLERANCE_S = 300


def _mac(secret: str, body: bytes, t: int) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, t: int) -> str:
    return f"t={t},{SCHEME}={_mac(secret, body, t)}"


def verify(secret: str, body: bytes, header: str, tolerance_s: float = TOLERANCE_S,
           now: float | None = None) -> bool:
    """Whether `header` signs `body` with `secret` at a time within `tolerance_s` of `now`.

    Several v1 entries are accepted (any one matching is enough), so a sender could sign with
    two secrets during a rotation without breaking receivers that use this function."""
    stamp: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            stamp = int(value)
        elif key == SCHEME:
            macs.append(value)
    if stamp is None or not macs:
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance_s:
        return False
    expected = _mac(secret, body, stamp)
    # Every candidate is compared, in constant time, so timing tells nothing about which was close.
    return any([hmac.compare_digest(expected.encode(), m.encode()) for m in macs])
