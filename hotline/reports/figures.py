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


# The counts kept per month and group, in this order (report_takedown_monthly's columns).
TAKEDOWN_COUNTS = ("requests", "removed", "verified", "refused", "unanswered", "overdue",
                   "settled", "escalated", "within_24h", "within_48h")
# Removal times above this many hours share the last hour bucket.
MAX_HOUR = 24 * 60


@dataclass(frozen=True)
class Fact:
    """One sent request as the rollups see it (a report_takedown_facts row)."""

    platform: str
    route: str
    legal_basis: str
    rung: int
    kind: str
    sent_at: datetime
    answered_at: datetime | None
    decided_at: datetime | None
    removed_at: datetime | None
    refused_at: datetime | None
    overdue_at: datetime | None
    escalated_at: datetime | None
    verified_at: datetime | None
    removal_seconds: int | None


def month_of(at: datetime, tz: str) -> str:
    return f"{at.astimezone(ZoneInfo(tz)):%Y-%m}"


def counts_of(f: Fact) -> tuple[int, ...]:
    """What a request adds to its month's counts (TAKEDOWN_COUNTS), leaving out what depends
    on the time of asking: "overdue" here is the overdue mark; the requests still waiting past
    their due time are counted live."""
    removed = f.removed_at is not None
    secs = f.removal_seconds
    return (1, removed, f.verified_at is not None, f.refused_at is not None and not removed,
            f.answered_at is None, f.overdue_at is not None,
            f.decided_at is not None or f.overdue_at is not None, f.escalated_at is not None,
            secs is not None and secs <= 24 * 3600, secs is not None and secs <= 48 * 3600)


def hour_bucket(seconds: int) -> int:
    return min(max(seconds, 0) // 3600, MAX_HOUR)


def split(p: Period) -> tuple[list[str], list[Period]]:
    """The calendar months wholly inside the period ("YYYY-MM", answered by the monthly
    rollups) and the days around them (at most two stretches, read from the facts)."""
    months: list[str] = []
    first = last = None
    d = p.start.replace(day=1)
    while d <= p.end:
        nxt = (d + timedelta(days=32)).replace(day=1)
        if d >= p.start and nxt - timedelta(days=1) <= p.end:
            months.append(f"{d:%Y-%m}")
            first = first or d
            last = nxt - timedelta(days=1)
        d = nxt
    if first is None or last is None:
        return [], [p]
    edges = [Period(a, b, p.tz) for a, b in ((p.start, first - timedelta(days=1)),
                                             (last + timedelta(days=1), p.end)) if a <= b]
    return months, edges


def locate(hours: Sequence[tuple[int, int]], rank: int) -> tuple[int, int]:
    """The percentiles' first step: the hour bucket holding the value of 0-based `rank` among
    removal times counted per hour (sorted), and its rank inside that bucket."""
    below = 0
    for hour, n in hours:
        if rank < below + n:
            return hour, rank - below
        below += n
    raise ValueError("rank beyond the counted values")


def ranks(n: int, q: float) -> tuple[int, int, float]:
    """percentile_cont's two neighbouring ranks and the weight of the upper one."""
    pos = q * (n - 1)
    lo = math.floor(pos)
    return lo, min(lo + 1, n - 1), pos - lo


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


# --- suppression -------------------------------------------------------------------------

COUNT_FIELDS = frozenset({
    "requests", "removed", "verified", "refused", "unanswered", "overdue", "escalated",
    "contacts", "answered", "abandoned", "abandoned_queue", "abandoned_ivr",
    "abandoned_after_offer", "records", "reuploads", "items"})


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
