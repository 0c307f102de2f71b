"""The webhook signature: the header's exact form, and a verifier that refuses forgeries."""
from __future__ import annotations

import hashlib
import hmac

from control.webhooks.signing import HEADER, signature_header, verify

SECRET = "whsec_test"
BODY = b'{"call_id":"abc","cid":"8459511000"}'
T = 1_767_000_000


def test_header_is_t_and_hex_hmac_of_t_dot_body() -> None:
    # Computed here from the definition, not from the module: a drift in either shows.
    expected = hmac.new(SECRET.encode(), b"1767000000." + BODY, hashlib.sha256).hexdigest()
    assert signature_header(SECRET, BODY, T) == f"t=1767000000,v1={expected}"
    assert HEADER == "X-Voicectl-Signature"


def test_a_fixed_vector() -> None:
    # printf '1767000000.{"call_id":"abc"}' | openssl dgst -sha256 -hmac whsec_test
    mac = "b661aebe3c985fc37d470bb22319b74cc0761c9aecbab15291e5c34160dc3c1e"
    assert signature_header(SECRET, b'{"call_id":"abc"}', T) == f"t={T},v1={mac}"
    assert verify(SECRET, b'{"call_id":"abc"}', f"t={T},v1={mac}", now=T)


def test_verify_accepts_the_genuine_request() -> None:
    header = signature_header(SECRET, BODY, T)
    assert verify(SECRET, BODY, header, now=T + 299)
    assert verify(SECRET, BODY, f" {header.replace(',', ' , ')} ", now=T)  # spaces tolerated


def test_verify_refuses_tampering_wrong_secret_and_old_or_future_times() -> None:
    header = signature_header(SECRET, BODY, T)
    assert not verify(SECRET, BODY + b" ", header, now=T)
    assert not verify(SECRET, BODY.replace(b"abc", b"abd"), header, now=T)
    assert not verify("whsec_other", BODY, header, now=T)
    assert not verify(SECRET, BODY, header, now=T + 301)
    assert not verify(SECRET, BODY, header, now=T - 301)
    assert verify(SECRET, BODY, header, tolerance_s=1000, now=T + 900)
    # The time is signed: moving it forward breaks the MAC.
    mac = header.split("v1=")[1]
    assert not verify(SECRET, BODY, f"t={T + 100},v1={mac}", now=T + 100)


def test_verify_refuses_malformed_headers() -> None:
    for header in ("", "t=1", "v1=abc", "t=x,v1=abc", f"t={T},v1=", f"t={T},v1=é",
                   f"t={T},v0={signature_header(SECRET, BODY, T).split('v1=')[1]}"):
        assert not verify(SECRET, BODY, header, now=T), header


def test_any_of_several_v1_entries_may_match() -> None:
    good = signature_header(SECRET, BODY, T).split("v1=")[1]
    assert verify(SECRET, BODY, f"t={T},v1={'0' * 64},v1={good}", now=T)


def test_the_snippet_in_the_docs_verifies_our_header() -> None:
    """The README gives integrators a verifier to copy: it must agree with what we send,
    and stay ten lines."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    snippet = doc.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(snippet.strip().splitlines()) <= 10
    scope: dict = {}
    exec(compile(snippet, "README.md", "exec"), scope)
    import time

    now = int(time.time())
    header = signature_header(SECRET, BODY, now)
    assert scope["verify"](SECRET, BODY, header)
    assert not scope["verify"](SECRET, BODY + b"x", header)
    assert not scope["verify"]("whsec_other", BODY, header)
    assert not scope["verify"](SECRET, BODY, signature_header(SECRET, BODY, now - 301))
    assert not scope["verify"](SECRET, BODY, "garbage")
