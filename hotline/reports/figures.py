"""The reports' arithmetic, pure: percentiles, shares, the date range, the service report's
contact classes, intake counts, and the suppression of small counts. Table-tested
(tests/test_reports_figures.py). Every figure is defined in docs/reports.md.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

NAMES = ("takedown-platforms", "takedown-routes", "service", "intake")
# The longest range one report covers (a year and a leap day, with room for a partial month).
MAX_DAYS = 400


class ReportInputError(ValueError):
    """A bad report name, date or filter; `field` names it (HTTP 400/404, CLI exit 2)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Period:
    """Local calendar days `start`..`end` (both included) in the centre's time zone."""

    start: date
    end: date
    tz: str

    @property
    def utc_start(self) -> datetime:
        return datetime.combine(self.start, time(), ZoneInfo(self.tz)).astimezone(UTC)

    @property
    def utc_end(self) -> datetime:
        """The first instant after the range."""
        nxt = self.end + timedelta(days=1)
        return datetime.combine(nxt, time(), ZoneInfo(self.tz)).astimezone(UTC)


def _day(raw: str | None, name: str) -> date:
    if raw is None or raw == "":
        raise ReportInputError(name, "required (a date like 2026-01-31)")
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ReportInputError(name, "expected a date like 2026-01-31") from None


def parse_period(raw_from: str | None, raw_to: str | None, tz: str) -> Period:
    """`from` and `to` (YYYY-MM-DD, both included) checked: to not before from, at most
    MAX_DAYS days."""
    start, end = _day(raw_from, "from"), _day(raw_to, "to")
    if end < start:
        raise ReportInputError("to", "must not be before from")
    if (end - start).days + 1 > MAX_DAYS:
        raise ReportInputError("to", f"a report covers at most {MAX_DAYS} days")
    return Period(start, end, tz)


def check_name(raw: str) -> str:
    if raw not in NAMES:
        raise ReportInputError("name", f"expected one of {', '.join(NAMES)}")
    return raw


def percentile_cont(values: Sequence[float], q: float) -> float | None:
    """PostgreSQL's percentile_cont over sorted `values`: linear interpolation between the
    two nearest ranks; None for no values."""
    if not values:
        return None
    pos = q * (len(values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def share(part: int, whole: int) -> float | None:
    """part / whole rounded to 4 places; None when whole is 0."""
    return round(part / whole, 4) if whole else None


def hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


# --- takedown ----------------------------------------------------------------------------

@dataclass(frozen=True)
class TakedownCounts:
    """What one group's SQL aggregate returns (docs/reports.md defines each)."""

    requests: int
    removed: int
    verified: int
    refused: int
    unanswered: int
    overdue: int
    settled: int        # requests with a decision, or overdue: completion_rate's denominator
    escalated: int
    within_24h: int     # removed within 24 h of sent
    within_48h: int
    median_seconds: float | None
    p90_seconds: float | None


def takedown_figures(c: TakedownCounts) -> tuple[dict[str, object], dict[str, tuple[int, ...]]]:
    """A row's figures, and for each derived figure the counts it is made of (suppressed
    with them)."""
    values: dict[str, object] = {
        "requests": c.requests, "removed": c.removed, "verified": c.verified,
        "refused": c.refused, "unanswered": c.unanswered, "overdue": c.overdue,
        "escalated": c.escalated,
        "completion_rate": share(c.removed, c.settled),
        "median_hours_to_removal": hours(c.median_seconds),
        "p90_hours_to_removal": hours(c.p90_seconds),
        "within_24h": share(c.within_24h, c.removed),
        "within_48h": share(c.within_48h, c.removed),
    }
    made_of = {"completion_rate": (c.removed, c.settled),
               "median_hours_to_removal": (c.removed,), "p90_hours_to_removal": (c.removed,),
               "within_24h": (c.within_24h, c.removed), "within_48h": (c.within_48h, c.removed)}
    return values, made_of


# --- service -----------------------------------------------------------------------------

class ContactClass(StrEnum):
    ANSWERED = "answered"
    ABANDONED_QUEUE = "abandoned_queue"
    ABANDONED_IVR = "abandoned_ivr"
    ABANDONED_AFTER_OFFER = "abandoned_after_offer"
    OTHER = "other"


# Outcomes written when nobody closed the case with the intake form (services/abandon.py,
# services/callback.py).
ABANDON_OUTCOMES = frozenset({"abandoned", "disconnected"})


def contact_class(outcome: str | None, counselor_id: int | None,
                  chose_callback: bool = False) -> ContactClass:
    """Where a contact ended: `outcome` None is a call that hung up in the phone menu (no
    case was opened). Answered: a counselor took it and it was not closed as abandoned. A
    caller who chose a call-back instead of waiting did not abandon: the call-back is a
    contact of its own."""
    if outcome is None:
        return ContactClass.OTHER if chose_callback else ContactClass.ABANDONED_IVR
    if counselor_id is None:
        if chose_callback:
            return ContactClass.OTHER
        return (ContactClass.ABANDONED_QUEUE if outcome in ABANDON_OUTCOMES
                else ContactClass.OTHER)
    if outcome == "abandoned":
        return ContactClass.ABANDONED_AFTER_OFFER
    return ContactClass.ANSWERED


@dataclass(frozen=True)
class Contact:
    """One contact as the service report sees it (an intake record, or an IVR hang-up)."""

    opened_at: datetime
    channel: str
    outcome: str | None
    counselor_id: int | None
    wait_seconds: int
    handling_seconds: int
    chose_callback: bool = False


def shift_label(minutes: Sequence[int], at_minute: int) -> str:
    """The shift ("09:00-18:00") a local minute of the day falls in; `minutes` sorted."""
    idx = max((i for i, m in enumerate(minutes) if m <= at_minute), default=len(minutes) - 1)
    start, end = minutes[idx], minutes[(idx + 1) % len(minutes)]
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


@dataclass
class _Tally:
    contacts: int = 0
    classes: Counter[ContactClass] = field(default_factory=Counter)
    wait_sum: int = 0
    within_60s: int = 0
    handling_sum: int = 0


def _tally(t: _Tally, c: Contact) -> None:
    cls = contact_class(c.outcome, c.counselor_id, c.chose_callback)
    t.contacts += 1
    t.classes[cls] += 1
    if cls is ContactClass.ANSWERED:
        t.wait_sum += c.wait_seconds
        t.within_60s += c.wait_seconds <= 60
        t.handling_sum += c.handling_seconds


def _service_row(key: Mapping[str, object], t: _Tally
                 ) -> tuple[dict[str, object], dict[str, tuple[int, ...]]]:
    answered = t.classes[ContactClass.ANSWERED]
    ab = {k: t.classes[k] for k in (ContactClass.ABANDONED_QUEUE, ContactClass.ABANDONED_IVR,
                                    ContactClass.ABANDONED_AFTER_OFFER)}
    values: dict[str, object] = {
        **key, "contacts": t.contacts, "answered": answered, "abandoned": sum(ab.values()),
        **{k.value: v for k, v in ab.items()},
        "average_speed_to_answer_seconds": round(t.wait_sum / answered, 1) if answered
        else None,
        "answered_within_60s": share(t.within_60s, answered),
        "average_handling_seconds": round(t.handling_sum / answered, 1) if answered else None,
    }
    made_of = {"average_speed_to_answer_seconds": (answered,),
               "answered_within_60s": (t.within_60s, answered),
               "average_handling_seconds": (answered,)}
    return values, made_of


Row = tuple[dict[str, object], dict[str, tuple[int, ...]]]


def service_rows(contacts: Iterable[Contact], tz: str, shift_minutes: Sequence[int]
                 ) -> dict[str, list[Row]]:
    """The service report's tables: per day, shift and channel (`rows`), per channel and per
    shift over the whole range."""
    zone = ZoneInfo(tz)
    tables: dict[str, dict[tuple[str, ...], _Tally]] = {
        "rows": {}, "by_day": {}, "by_channel": {}, "by_shift": {}}
    for c in contacts:
        local = c.opened_at.astimezone(zone)
        day = local.date().isoformat()
        shift = shift_label(shift_minutes, local.hour * 60 + local.minute)
        for name, key in (("rows", (day, shift, c.channel)), ("by_day", (day,)),
                          ("by_channel", (c.channel,)), ("by_shift", (shift,))):
            _tally(tables[name].setdefault(key, _Tally()), c)
    names = {"rows": ("day", "shift", "channel"), "by_day": ("day",),
             "by_channel": ("channel",), "by_shift": ("shift",)}
    return {name: [_service_row(dict(zip(names[name], k, strict=True)), t)
                   for k, t in sorted(found.items())]
            for name, found in tables.items()}


# --- intake ------------------------------------------------------------------------------

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


# --- suppression -------------------------------------------------------------------------

COUNT_FIELDS = frozenset({
    "requests", "removed", "verified", "refused", "unanswered", "overdue", "escalated",
    "contacts", "answered", "abandoned", "abandoned_queue", "abandoned_ivr",
    "abandoned_after_offer", "records"})


def small(n: int, below: int) -> bool:
    return 0 < n < below


@dataclass(frozen=True)
class Cell:
    value: object
    suppressed: bool = False


def suppress(row: Row, below: int) -> dict[str, Cell]:
    """Every figure of a row as a Cell: counts from 1 to below-1 are suppressed, and so is
    every figure made of such a count (a share of 3 would tell the 3)."""
    values, made_of = row
    out: dict[str, Cell] = {}
    for name, value in values.items():
        hidden = False
        if name in COUNT_FIELDS and isinstance(value, int):
            hidden = small(value, below)
        elif name in made_of:
            hidden = any(small(n, below) for n in made_of[name])
        out[name] = Cell(None if hidden else value, hidden)
    return out
