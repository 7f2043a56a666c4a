"""Staff shifts: a weekly pattern in local wall time plus dated overrides, as UTC intervals.

Pure arithmetic over frozen values, no I/O; the scheduler asks `next_edge` when to wake up and
`on_shift_at` who to route to. All returned datetimes are aware UTC and intervals are half-open.

Local times are resolved the way zoneinfo does with fold=0, then normalised through UTC:
- an ambiguous time (fall-back) is its first occurrence, so 01:30 on the New York fall-back day
  is 01:30 EDT;
- a time that does not exist (spring-forward gap) is read with the offset from before the gap,
  which moves it forward by the gap: 02:30 on the New York spring-forward day is 03:30 EDT.
A shift therefore keeps its wall-clock times across DST changes and its real length changes
instead (22:00-06:00 lasts 7 or 9 hours on the changeover nights). The one oddity is a shift
lying wholly in a gap: 02:30-03:00 on a spring-forward day resolves to 03:30-03:00 and is
dropped, since it covers no real time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

OVERRIDE_REASONS = ("cover", "swap", "sick", "holiday", "training", "other")
# Reasons that make sense only one way: covering is working, being sick or on holiday is not.
# New overrides are checked (reason_fits); rows stored before the check are read as they are.
ON_ONLY_REASONS = frozenset({"cover"})
OFF_ONLY_REASONS = frozenset({"sick", "holiday"})


def reason_fits(on_shift: bool, reason: str) -> bool:
    """Whether an override's reason goes with its direction ("off" for "cover" does not)."""
    return reason not in (OFF_ONLY_REASONS if on_shift else ON_ONLY_REASONS)

Interval = tuple[datetime, datetime]

# How far current_window looks either side of `at` for the ends of back-to-back shifts; a window
# running on past this (a 24/7 pattern) is cut here.
LOOKAROUND = timedelta(days=8)

# How far ahead next_window and next_edge look by default.
HORIZON = timedelta(days=8)

# The times the roster reads and stores (a lookup's `at`, an override's ends): it computes weeks
# and zone offsets either side of a time, which overflow near datetime's own ends (year 1 or
# 9999); a hotline's roster has no use for times this far out.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def check_time(at: datetime) -> datetime:
    """`at` (aware) if the roster can work with it; ValueError otherwise."""
    if at.tzinfo is None:
        raise ValueError("expected a time with an offset")
    if not EARLIEST <= at < LATEST:
        raise ValueError(f"expected a time from {EARLIEST.year} to {LATEST.year - 1}")
    return at


# The smallest datetime step: a window [at, at + _TICK) holds only the instant `at`.
_TICK = timedelta(microseconds=1)
_DAY = timedelta(days=1)


def _aware_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


@dataclass(frozen=True)
class WeeklyShift:
    """A shift repeating every week, in local wall time of `tz`.

    `weekday` (0 = Monday) is the local day the shift starts. An `end` at or before `start`
    means the shift ends on the next day; `end == start` is a 24-hour shift.
    """

    staff_id: int
    weekday: int
    start: time
    end: time
    tz: str

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("shift times are local wall-clock times and must be naive")
        _zone(self.tz)


@dataclass(frozen=True)
class Override:
    """Dated extra time (`on_shift=True`) or time off (`on_shift=False`) for one staff member."""

    staff_id: int
    start: datetime
    end: datetime
    on_shift: bool
    reason: str

    def __post_init__(self) -> None:
        start = _aware_utc(self.start, "override start")
        end = _aware_utc(self.end, "override end")
        if end <= start:
            raise ValueError("override end must be after its start")
        if self.reason not in OVERRIDE_REASONS:
            raise ValueError(f"override reason must be one of {', '.join(OVERRIDE_REASONS)}")


@dataclass(frozen=True)
class _Plan:
    """One staff member's share of a roster, overrides already in UTC."""

    shifts: tuple[WeeklyShift, ...]
    on: tuple[Interval, ...]
    off: tuple[Interval, ...]
    closed: tuple[Interval, ...] = ()
    # Not rostered: on shift at all times except time off (weekly shifts, extra time and
    # holiday closures unused).
    always: bool = False


@dataclass(frozen=True)
class Roster:
    """Everyone's weekly shifts and overrides; the functions below read it, never change it.

    `always` names the people who do not follow the roster (a per-person choice): they are on
    shift at all times except their "off" overrides. Everyone else is on shift only in their
    weekly shifts and "on" overrides, minus their "off" ones; with no entries, never."""

    shifts: tuple[WeeklyShift, ...] = ()
    overrides: tuple[Override, ...] = ()
    # UTC intervals of holidays (hotline/domain/holidays.py) in which weekly shifts do not
    # apply; overrides still do.
    closures: tuple[Interval, ...] = ()
    always: frozenset[int] = frozenset()

    @cached_property
    def _plans(self) -> dict[int, _Plan]:
        # Built once per roster (frozen, so it cannot go stale): asking about every staff member
        # then costs each one only their own shifts, not a scan of the whole roster.
        shifts: dict[int, list[WeeklyShift]] = {}
        on: dict[int, list[Interval]] = {}
        off: dict[int, list[Interval]] = {}
        for shift in self.shifts:
            shifts.setdefault(shift.staff_id, []).append(shift)
        for o in self.overrides:
            span = (o.start.astimezone(UTC), o.end.astimezone(UTC))
            (on if o.on_shift else off).setdefault(o.staff_id, []).append(span)
        ids = shifts.keys() | on.keys() | off.keys() | self.always
        return {
            i: _Plan(tuple(shifts.get(i, ())), tuple(on.get(i, ())), tuple(off.get(i, ())),
                     self.closures, always=i in self.always)
            for i in ids
        }


# Remembered: a floor's shifts start and end at a few dozen times of day, on the same few
# dates, in one or two zones, and the same instants were worked out again for every person
# (1,000 on the roster: 67 conversions each, most of a routing window's 335 us).
@lru_cache(maxsize=8192)
def _local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    # fold=0 (datetime.combine's default) picks the first occurrence of an ambiguous time and the
    # pre-gap offset for a missing one; see the module docstring.
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


@lru_cache(maxsize=1024)
def _local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def _shift_spans(shift: WeeklyShift, lo: datetime, hi: datetime) -> Iterator[Interval]:
    """The occurrences of `shift` overlapping [lo, hi), unclipped."""
    zone = _zone(shift.tz)
    # A shift can end up to two local days after it starts, and around odd transitions (midnight
    # fall-backs, skipped days) local dates and instants disagree by up to a day: pad both ends.
    first = _local_date(lo, zone) - 3 * _DAY
    last = _local_date(hi, zone) + _DAY
    for start, end in _occurrences(shift.weekday, shift.start, shift.end, zone, first, last):
        if start < hi and end > lo:
            yield start, end


# Remembered: a rota's people share a few dozen shift patterns, and each routing pass asks
# about the same dates for all of them (1,000 on the roster: 23 occurrences each a window).
@lru_cache(maxsize=4096)
def _occurrences(weekday: int, start: time, end: time, zone: ZoneInfo, first: date,
                 last: date) -> tuple[Interval, ...]:
    """A weekly shift's occurrences starting on local days first..last, in UTC."""
    day = first + ((weekday - first.weekday()) % 7) * _DAY
    overnight = end <= start
    out = []
    while day <= last:
        begins = _local_to_utc(day, start, zone)
        ends = _local_to_utc(day + _DAY if overnight else day, end, zone)
        if begins < ends:
            out.append((begins, ends))
        day += 7 * _DAY
    return tuple(out)


def _merge(spans: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _subtract(spans: list[Interval], holes: list[Interval]) -> list[Interval]:
    """`spans` minus `holes`, both sorted and merged; the result stays merged."""
    result: list[Interval] = []
    first = 0
    for start, end in spans:
        while first < len(holes) and holes[first][1] <= start:
            first += 1
        cursor = start
        i = first
        while i < len(holes) and holes[i][0] < end:
            if holes[i][0] > cursor:
                result.append((cursor, holes[i][0]))
            cursor = max(cursor, holes[i][1])
            i += 1
        if cursor < end:
            result.append((cursor, end))
    return result


def _effective(plan: _Plan, lo: datetime, hi: datetime) -> list[Interval]:
    """Effective on-shift intervals of one plan, merged, clipped to [lo, hi)."""
    if hi <= lo:
        return []
    if plan.always:
        on = [(lo, hi)]
    else:
        on = [span for shift in plan.shifts for span in _shift_spans(shift, lo, hi)]
        if plan.closed:
            on = _subtract(_merge(on),
                           _merge(s for s in plan.closed if s[0] < hi and s[1] > lo))
        on.extend(s for s in plan.on if s[0] < hi and s[1] > lo)
    merged = _merge(on)
    if plan.off:
        # Off always wins over on: never route to someone who is sick, even if also covering.
        merged = _subtract(merged, _merge(s for s in plan.off if s[0] < hi and s[1] > lo))
    return [(max(start, lo), min(end, hi)) for start, end in merged if start < hi and end > lo]


def intervals(roster: Roster, staff_id: int, start: datetime, end: datetime) -> list[Interval]:
    """One staff member's on-shift intervals within [start, end): sorted, merged, clipped."""
    lo, hi = _aware_utc(start, "start"), _aware_utc(end, "end")
    plan = roster._plans.get(staff_id)
    return [] if plan is None else _effective(plan, lo, hi)


def _is_on(plan: _Plan, at: datetime) -> bool:
    return bool(_effective(plan, at, at + _TICK))


def on_shift(roster: Roster, staff_id: int, at: datetime) -> bool:
    """Whether the staff member is on shift at the instant `at`."""
    at = _aware_utc(at, "at")
    plan = roster._plans.get(staff_id)
    return plan is not None and _is_on(plan, at)


def current_window(roster: Roster, staff_id: int, at: datetime) -> Interval | None:
    """The whole merged on-shift interval containing `at` (cut at LOOKAROUND), else None."""
    at = _aware_utc(at, "at")
    plan = roster._plans.get(staff_id)
    if plan is None:
        return None
    for start, end in _effective(plan, at - LOOKAROUND, at + LOOKAROUND):
        if start <= at < end:
            return start, end
    return None


def next_window(
    roster: Roster, staff_id: int, at: datetime, horizon: timedelta = HORIZON
) -> Interval | None:
    """The current window if on shift at `at`, else the next one starting within `horizon`;
    either cut at LOOKAROUND from `at` or from its own start, as `current_window` cuts it."""
    at = _aware_utc(at, "at")
    plan = roster._plans.get(staff_id)
    if plan is None:
        return None
    # One pass over all the time either answer can reach (routing asks this of every
    # counselor at every re-sync: as current_window, then the next start, then its window,
    # it cost three); the extra tick lets a start exactly at the horizon count.
    for start, end in _effective(plan, at - LOOKAROUND, at + horizon + LOOKAROUND + _TICK):
        if end <= at:
            continue
        if start <= at:
            return start, min(end, at + LOOKAROUND)
        return (start, min(end, start + LOOKAROUND)) if start <= at + horizon else None
    return None


def on_shift_at(roster: Roster, at: datetime) -> frozenset[int]:
    """The staff members on shift at the instant `at`."""
    at = _aware_utc(at, "at")
    return frozenset(i for i, plan in roster._plans.items() if _is_on(plan, at))


def staff_ids(roster: Roster) -> frozenset[int]:
    """Everyone with a weekly shift or an override in the roster, or not rostered."""
    return frozenset(roster._plans)


def uncovered(roster: Roster, staff: Iterable[int], start: datetime, end: datetime
              ) -> list[Interval]:
    """The parts of [start, end) when none of `staff` is on shift: sorted, merged."""
    lo, hi = _aware_utc(start, "start"), _aware_utc(end, "end")
    plans = roster._plans
    return uncovered_by((_effective(plans[i], lo, hi) for i in staff if i in plans), lo, hi)


def uncovered_by(spans: Iterable[Sequence[Interval]], start: datetime, end: datetime
                 ) -> list[Interval]:
    """The parts of [start, end) in none of `spans`, each one person's on-shift intervals
    within it (as `intervals` gives them): a caller asking about many groups of the same
    people works each person's intervals out once."""
    lo, hi = _aware_utc(start, "start"), _aware_utc(end, "end")
    covered: list[Interval] = []
    for one in spans:
        if one and one[0] == (lo, hi):
            # One person on for all of it: nobody else can change the answer (the cover-ahead
            # read asks this for 1,000 people per language and channel).
            return []
        covered += one
    return _subtract([(lo, hi)], _merge(covered)) if hi > lo else []


def next_edge(roster: Roster, at: datetime, horizon: timedelta = HORIZON,
              among: Iterable[int] | None = None) -> datetime | None:
    """The first instant after `at`, up to `at + horizon`, when anyone (of `among`, when
    given) goes on or off shift."""
    at = _aware_utc(at, "at")
    best: datetime | None = None
    plans = roster._plans
    for plan in (plans.values() if among is None
                 else (plans[i] for i in among if i in plans)):
        limit = at + horizon if best is None else best
        # Clipping at `at` yields starts equal to `at`, never after it, and clipping at the far
        # end yields an end past `limit`; neither is a real edge, and both are skipped below.
        for start, end in _effective(plan, at, limit + _TICK):
            edge = start if start > at else end
            if edge <= limit:
                best = edge
            break
    return best
