"""Typed phone numbers to E.164 (hotline.domain.phone.to_e164)."""

from __future__ import annotations

import pytest

from hotline.domain.phone import to_e164

CASES = [
    ("korean-mobile-dashes", "010-1234-5678", "82", "+821012345678"),
    ("korean-mobile-spaces", "010 1234 5678", "82", "+821012345678"),
    ("international-plus", "+82 10 1234 5678", "82", "+821012345678"),
    ("international-00", "0082 10 1234 5678", "82", "+821012345678"),
    ("other-country-plus", "+1 (415) 555-0100", "82", "+14155550100"),
    ("uk-local-with-uk-home", "07700 900123", "44", "+447700900123"),
    ("digits-without-plus", "821012345678", "82", "+821012345678"),
    ("too-short", "010-12", "82", None),
    ("letters", "call me", "82", None),
    ("empty", "", "82", None),
    ("too-long", "+82 10 1234 5678 9999 0000", "82", None),
    ("plus-zero", "+0 10 1234 5678", "82", None),
    ("script-injection", "<script>", "82", None),
]


@pytest.mark.parametrize(("typed", "home", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_to_e164(typed: str, home: str, expected: str | None) -> None:
    assert to_e164(typed, home) == expected
