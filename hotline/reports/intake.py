"""Intake statistics, pure: which records count, what each adds to the daily counts, and the
monthly rows. Table-tested (tests/test_reports_figures.py); docs/reports.md, "intake"."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from hotline.reports.figures import Row

INTAKE_DIMENSIONS = ("records", "harm_type", "age_band", "relation", "platform", "channel",
                     "referral", "outcome")


@dataclass(frozen=True)
class IntakeRecord:
    opened_at: datetime
    channel: str
    harm_type: str
    age_band: str
    relation: str
    platforms: str    # comma list
    referrals: str    # comma list
    outcome: str


def counted(rec: IntakeRecord) -> bool:
    """Only records a counselor completed with the form are counted: the ones written when a
    victim left before anyone answered carry harm type "unknown", which the form never does."""
    return rec.harm_type != "unknown"


def intake_counts(records: Iterable[IntakeRecord], tz: str
                  ) -> Counter[tuple[date, str, str]]:
    """(local day, dimension, value) -> records; a record counts once per value it names."""
    zone = ZoneInfo(tz)
    out: Counter[tuple[date, str, str]] = Counter()
    for r in records:
        if not counted(r):
            continue
        day = r.opened_at.astimezone(zone).date()
        pairs = [("records", "all"), ("harm_type", r.harm_type), ("age_band", r.age_band),
                 ("relation", r.relation), ("channel", r.channel), ("outcome", r.outcome)]
        pairs += [("platform", p) for p in r.platforms.split(",") if p]
        pairs += [("referral", p) for p in r.referrals.split(",") if p]
        for dim, value in pairs:
            out[(day, dim, value)] += 1
    return out


def intake_rows(monthly: Iterable[tuple[str, str, str, int]]) -> list[Row]:
    """Monthly rows (month, dimension, value, records), in order."""
    months: Counter[tuple[str, str, str]] = Counter()
    for month, dim, value, n in monthly:
        months[(month, dim, value)] += n
    return [({"month": m, "dimension": d, "value": v, "records": n}, {})
            for (m, d, v), n in sorted(months.items(),
                                       key=lambda kv: (kv[0][0],
                                                       INTAKE_DIMENSIONS.index(kv[0][1])
                                                       if kv[0][1] in INTAKE_DIMENSIONS
                                                       else 99, kv[0][2]))]


