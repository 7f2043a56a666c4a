"""hotline/domain/intake.py: parse_intake accepts the allowed values and names the bad field."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.domain.conversation import Urgency
from hotline.domain.intake import (
    AGE_BANDS,
    HARM_TYPES,
    OUTCOMES,
    PLATFORMS,
    REFERRALS,
    IntakeError,
    IntakeForm,
    parse_intake,
)

VALID: dict[str, Any] = {
    "harm_type": "synthetic",
    "platforms": ["telegram"],
    "age_band": "18_24",
    "urgency": "high",
    "referrals": ["takedown"],
    "outcome": "takedown_requested",
}


def _form(**changes: Any) -> dict[str, Any]:
    form = dict(VALID)
    for k, v in changes.items():
        if v is _MISSING:
            form.pop(k, None)
        else:
            form[k] = v
    return form


_MISSING = object()


def test_valid_form() -> None:
    got = parse_intake(VALID)
    assert got == IntakeForm(harm_type="synthetic", platforms=("telegram",), age_band="18_24",
                             urgency=Urgency.HIGH, referrals=("takedown",),
                             outcome="takedown_requested")
    assert isinstance(got.urgency, Urgency)


@pytest.mark.parametrize("field,allowed", [
    ("harm_type", HARM_TYPES), ("age_band", AGE_BANDS), ("outcome", OUTCOMES),
    ("urgency", tuple(u.value for u in Urgency)),
])
def test_every_single_value_accepted(field: str, allowed: tuple[str, ...]) -> None:
    for value in allowed:
        got = parse_intake(_form(**{field: value}))
        assert getattr(got, field) == value


@pytest.mark.parametrize("field,allowed", [("platforms", PLATFORMS), ("referrals", REFERRALS)])
def test_every_list_value_accepted(field: str, allowed: tuple[str, ...]) -> None:
    for value in allowed:
        assert getattr(parse_intake(_form(**{field: [value]})), field) == (value,)
    assert getattr(parse_intake(_form(**{field: list(allowed)})), field) == tuple(sorted(allowed))


@pytest.mark.parametrize(("changes", "expect"), [
    pytest.param({"platforms": "telegram"}, {"platforms": ("telegram",)}, id="single-string"),
    pytest.param({"platforms": ""}, {"platforms": ()}, id="empty-string"),
    pytest.param({"platforms": []}, {"platforms": ()}, id="empty-list"),
    pytest.param({"platforms": _MISSING}, {"platforms": ()}, id="platforms-missing"),
    pytest.param({"referrals": _MISSING}, {"referrals": ()}, id="referrals-missing"),
    pytest.param({"platforms": ("x", "telegram")}, {"platforms": ("telegram", "x")},
                 id="tuple-sorted"),
    pytest.param({"platforms": ["x", "telegram", "x"]}, {"platforms": ("telegram", "x")},
                 id="deduplicated"),
    pytest.param({"referrals": ["police", "legal", "police"]},
                 {"referrals": ("legal", "police")}, id="referrals-dedup"),
    pytest.param({"urgency": Urgency.CRITICAL}, {"urgency": Urgency.CRITICAL}, id="enum-urgency"),
    pytest.param({"urgency": "normal"}, {"urgency": Urgency.NORMAL}, id="normal"),
    pytest.param({"extra": "ignored"}, {}, id="extra-key-ignored"),
])
def test_valid_variants(changes: dict[str, Any], expect: dict[str, Any]) -> None:
    got = parse_intake(_form(**changes))
    for k, v in expect.items():
        assert getattr(got, k) == v


INVALID = [
    ("harm_type", "bogus"),
    ("harm_type", ""),
    ("harm_type", _MISSING),
    ("harm_type", None),
    ("harm_type", ["synthetic"]),
    ("harm_type", "Synthetic"),
    ("harm_type", " synthetic"),
    ("platforms", ["bogus"]),
    ("platforms", ["telegram", "bogus"]),
    ("platforms", [1]),
    ("platforms", [None]),
    ("platforms", 5),
    ("platforms", {"telegram": True}),
    ("platforms", "bogus"),
    ("platforms", None),
    ("age_band", "30"),
    ("age_band", _MISSING),
    ("age_band", 18),
    ("urgency", "urgent"),
    ("urgency", "HIGH"),
    ("urgency", _MISSING),
    ("urgency", 0),
    ("referrals", ["jail"]),
    ("referrals", "jail"),
    ("referrals", [["police"]]),
    ("referrals", 1.5),
    ("outcome", "resolved"),
    ("outcome", _MISSING),
    ("outcome", ""),
    ("outcome", ["counselled"]),
]


@pytest.mark.parametrize(("field", "value"), INVALID,
                         ids=[f"{f}={'missing' if v is _MISSING else repr(v)}"
                              for f, v in INVALID])
def test_invalid_field_is_named(field: str, value: Any) -> None:
    with pytest.raises(IntakeError) as e:
        parse_intake(_form(**{field: value}))
    assert e.value.field == field
    assert str(e.value).startswith(f"{field}:")
    assert isinstance(e.value, ValueError)


def test_empty_form_names_a_field() -> None:
    with pytest.raises(IntakeError) as e:
        parse_intake({})
    assert e.value.field in VALID


def test_error_message_lists_allowed_values() -> None:
    with pytest.raises(IntakeError) as e:
        parse_intake(_form(age_band="x"))
    for band in AGE_BANDS:
        assert band in str(e.value)


def test_error_does_not_echo_value() -> None:
    """A free-text value typed into a field (possibly personal data) is not repeated back."""
    secret = "kim minji 010-1234-5678"
    for field in ("harm_type", "outcome"):
        with pytest.raises(IntakeError) as e:
            parse_intake(_form(**{field: secret}))
        assert secret not in str(e.value)
