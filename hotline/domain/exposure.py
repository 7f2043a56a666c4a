"""Limits that protect counselors: what they were exposed to in a shift, and breaks. Pure.

Counted per person per shift (since the start of their current roster window, or over
`wellbeing.unscheduled_shift_hours` for someone without one): critical cases handled, minutes
spent in critical conversations, and evidence revealed unblurred. At any cap the person gets
no new offers of critical cases, and the lead sees which cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

CRITICAL_CASE = "critical_case"
CRITICAL_MINUTES = "critical_minutes"
EVIDENCE_REVEALED = "evidence_revealed"
KINDS = (CRITICAL_CASE, CRITICAL_MINUTES, EVIDENCE_REVEALED)


@dataclass(frozen=True)
class Caps:
    critical_cases: int
    critical_minutes: int
    evidence_revealed: int


@dataclass(frozen=True)
class Totals:
    critical_cases: int = 0
    critical_minutes: int = 0
    evidence_revealed: int = 0

    @classmethod
    def of(cls, sums: dict[str, int]) -> Totals:
        return cls(sums.get(CRITICAL_CASE, 0), sums.get(CRITICAL_MINUTES, 0),
                   sums.get(EVIDENCE_REVEALED, 0))


def over_caps(totals: Totals, caps: Caps) -> tuple[str, ...]:
    """The caps reached (kind names); empty: critical offers may come."""
    out = []
    if totals.critical_cases >= caps.critical_cases:
        out.append(CRITICAL_CASE)
    if totals.critical_minutes >= caps.critical_minutes:
        out.append(CRITICAL_MINUTES)
    if totals.evidence_revealed >= caps.evidence_revealed:
        out.append(EVIDENCE_REVEALED)
    return tuple(out)


def minutes_since_break(last_break: datetime | None, on_floor_since: datetime | None,
                        now: datetime) -> int | None:
    """Minutes on the floor since the last break (or since logging in, if later); None if
    never logged in."""
    starts = [t for t in (last_break, on_floor_since) if t is not None]
    if not starts:
        return None
    return max(0, int((now - max(starts)).total_seconds() // 60))


def break_due(minutes: int | None, after_minutes: int) -> bool:
    return minutes is not None and minutes >= after_minutes


def critical_minutes(assigned_at: datetime | None, closed_at: datetime) -> int:
    """Whole minutes a critical case was held (at least 1: it was read)."""
    if assigned_at is None:
        return 1
    return max(1, int((closed_at - assigned_at).total_seconds() // 60))
