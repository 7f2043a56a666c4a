"""The anonymized intake form filled in at close: allowed values and validation.

The categories follow the Korean victim-support centre's intake (harm types, platforms, age
bands) so statistics can be compared. Validation is pure: it returns the cleaned form or the
name of the first bad field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hotline.domain.conversation import Urgency

HARM_TYPES = (
    "distribution",          # content is being or has been shared
    "distribution_anxiety",  # fear that content will be shared
    "illegal_filming",       # hidden camera, filmed without consent
    "synthetic",             # deepfake / manipulated content
    "sextortion",            # threats or demands using content
    "grooming",
    "other",
)
PLATFORMS = (
    "telegram", "x", "meta", "youtube", "tiktok", "kakao", "discord", "adult_site",
    "search_engine", "messenger", "other", "unknown",
)
AGE_BANDS = ("under_14", "14_17", "18_24", "25_34", "35_49", "50_plus", "unknown")
# The perpetrator's relation to the victim (the centre's intake asks it; "unknown" when the
# victim did not say or the form came from a client that does not ask it yet).
RELATIONS = (
    "partner", "ex_partner", "spouse", "family", "acquaintance", "work_or_school",
    "online_only", "stranger", "unknown",
)
REFERRALS = ("takedown", "police", "legal", "medical", "psychological", "none")
OUTCOMES = ("counselled", "referred", "takedown_requested", "disconnected", "not_relevant")


class IntakeError(ValueError):
    """A form field is missing or holds a value outside its list; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class IntakeForm:
    harm_type: str
    platforms: tuple[str, ...]
    age_band: str
    urgency: Urgency
    referrals: tuple[str, ...]
    outcome: str
    relation: str = "unknown"


def _one(form: Mapping[str, object], name: str, allowed: tuple[str, ...]) -> str:
    value = form.get(name)
    if not isinstance(value, str) or value not in allowed:
        raise IntakeError(name, f"expected one of {', '.join(allowed)}")
    return value


def _many(form: Mapping[str, object], name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    value = form.get(name, [])
    if isinstance(value, str):
        value = [value] if value else []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise IntakeError(name, "expected a list")
    bad = [v for v in value if v not in allowed]
    if bad:
        raise IntakeError(name, f"expected values from {', '.join(allowed)}")
    return tuple(sorted(set(value)))


def parse_intake(form: Mapping[str, object]) -> IntakeForm:
    """Validate a submitted intake form; raises IntakeError naming the first bad field."""
    urgency = _one(form, "urgency", tuple(u.value for u in Urgency))
    return IntakeForm(
        harm_type=_one(form, "harm_type", HARM_TYPES),
        platforms=_many(form, "platforms", PLATFORMS),
        age_band=_one(form, "age_band", AGE_BANDS),
        urgency=Urgency(urgency),
        referrals=_many(form, "referrals", REFERRALS),
        outcome=_one(form, "outcome", OUTCOMES),
        relation=_one(form, "relation", RELATIONS) if "relation" in form else "unknown",
    )
