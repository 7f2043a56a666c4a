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


@dataclass(frozen=True, order=True)
class Standing:
    """A person's place in the lead's wellbeing list, and the list's cursor: whoever needs a
    word (at a cap or a break due) first, then the longest without a break, then by id. With
    a thousand people present the list is read a page at a time; a cursor, unlike a count of
    rows skipped, stays in place while the minutes move (a row is shown at most once)."""

    settled: int  # 0: needs attention, 1: does not
    fresh: int  # -(minutes since the last break + 1); 0 for someone never logged in
    id: int

    @classmethod
    def of(cls, person_id: int, minutes: int | None, attention: bool) -> Standing:
        return cls(0 if attention else 1, 0 if minutes is None else -(minutes + 1), person_id)

    def cursor(self) -> str:
        return f"{self.settled}.{-self.fresh}.{self.id}"

    @classmethod
    def parse(cls, raw: str) -> Standing:
        """A cursor `cursor` wrote; ValueError for anything else."""
        parts = raw.split(".")
        if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) <= 9
                                      for p in parts) or parts[0] not in ("0", "1"):
            raise ValueError(raw)
        return cls(int(parts[0]), -int(parts[1]), int(parts[2]))


def page_of(standings: list[Standing], limit: int, after: Standing | None
            ) -> tuple[list[Standing], str | None]:
    """The `limit` standings after `after`, in order, and the cursor of the next page (None
    when this is the last)."""
    rest = sorted(s for s in standings if after is None or s > after)
    page = rest[:limit]
    return page, page[-1].cursor() if len(rest) > limit else None
