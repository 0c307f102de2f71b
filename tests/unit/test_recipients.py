"""Phone numbers as integrators send them, judged by shape and area code."""
from __future__ import annotations

import phonenumbers
import pytest

from control.numbers.recipients import (INVALID_FORMAT, UNALLOCATED_NANP, PhoneRefused, area_code_in_service,
                                        recipient_e164)


def test_the_fast_area_code_rule_agrees_with_the_exhaustive_probe_for_every_area_code() -> None:
    # The definition: some exchange of the area code holds a number libphonenumber calls valid.
    def exhaustive(area: int) -> bool:
        return any(phonenumbers.is_valid_number(phonenumbers.PhoneNumber(
            country_code=1, national_number=int(f"{area}{exchange}0100"))) for exchange in range(200, 1000))

    disagree = [area for area in range(200, 1000) if area_code_in_service(str(area)) != exhaustive(area)]
    assert disagree == []


@pytest.mark.parametrize("text, e164", [
    ("8451234567", "+18451234567"),  # the document's sample: exchange 123, which the full check refuses
    ("8459511000", "+18459511000"), ("7325550184", "+17325550184"), ("1 (732) 555-0184", "+17325550184"),
    ("+1 732.555.0184", "+17325550184"), ("8005550100", "+18005550100"), ("9001234567", "+19001234567"),
    ("5002345678", "+15002345678"), ("6002345678", "+16002345678"), ("8761234567", "+18761234567"),
    ("+442071838750", "+442071838750"),
])
def test_accepted(text: str, e164: str) -> None:
    assert recipient_e164(text) == e164


@pytest.mark.parametrize("text, reason", [
    ("5551234567", UNALLOCATED_NANP), ("2111234567", UNALLOCATED_NANP), ("3701234567", UNALLOCATED_NANP),
    ("123", INVALID_FORMAT), ("", INVALID_FORMAT), ("+1555", INVALID_FORMAT), ("0732550184", INVALID_FORMAT),
    ("+44207", INVALID_FORMAT), ("7325550184x1", INVALID_FORMAT), ("٧٣٢٥٥٥٠١٨٤", INVALID_FORMAT),
    ("7" * 5000, INVALID_FORMAT),
])
def test_refused_with_notifys_reason(text: str, reason: str) -> None:
    with pytest.raises(PhoneRefused) as refused:
        recipient_e164(text)
    assert refused.value.reason == reason
