"""hotline/domain/shifts.py: weekly shifts in local time plus overrides, as UTC intervals."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.domain.shift_text import parse_hhmm, parse_weekdays
from hotline.domain.shifts import (
    LOOKAROUND,
    OVERRIDE_REASONS,
    Interval,
    Override,
    Roster,
    WeeklyShift,
    current_window,
    intervals,
    next_edge,
    next_window,
    on_shift,
    on_shift_at,
    reason_fits,
    staff_ids,
    uncovered,
    uncovered_by,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
TICK = timedelta(microseconds=1)
NY, BERLIN, SEOUL = "America/New_York", "Europe/Berlin", "Asia/Seoul"


def z(text: str) -> datetime:
    """An aware UTC instant from "2025-01-06T09:00" (always read as UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, tz: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def shift(weekday: int, start: str, end: str, tz: str = "UTC", staff: int = 1) -> WeeklyShift:
    return WeeklyShift(staff, weekday, parse_hhmm(start), parse_hhmm(end, as_end=True), tz)


def sick(start: datetime, end: datetime, staff: int = 1) -> Override:
    return Override(staff, start, end, on_shift=False, reason="sick")


def cover(start: datetime, end: datetime, staff: int = 1) -> Override:
    return Override(staff, start, end, on_shift=True, reason="cover")


def span(a: str, b: str) -> Interval:
    return z(a), z(b)


# The week of Monday 2025-01-06, no DST anywhere.
WEEK = ("2025-01-06T00:00", "2025-01-13T00:00")


@pytest.mark.parametrize("shifts,window,expected", [
    pytest.param([shift(MON, "09:00", "17:00")], WEEK,
                 [span("2025-01-06T09:00", "2025-01-06T17:00")], id="day shift"),
    pytest.param([shift(WED, "22:00", "06:00", SEOUL)], WEEK,
                 [span("2025-01-08T13:00", "2025-01-08T21:00")], id="overnight Seoul"),
    pytest.param([shift(WED, "22:00", "06:00")], WEEK,
                 [span("2025-01-08T22:00", "2025-01-09T06:00")], id="overnight across midnight"),
    pytest.param([shift(SUN, "22:00", "06:00")], ("2025-01-12T00:00", "2025-01-14T00:00"),
                 [span("2025-01-12T22:00", "2025-01-13T06:00")], id="overnight across week end"),
    pytest.param([shift(SUN, "22:00", "06:00")], WEEK,
                 [span("2025-01-06T00:00", "2025-01-06T06:00"),
                  span("2025-01-12T22:00", "2025-01-13T00:00")], id="clipped at both ends"),
    pytest.param([shift(TUE, "08:00", "08:00", BERLIN)], WEEK,
                 [span("2025-01-07T07:00", "2025-01-08T07:00")], id="24 h shift"),
    pytest.param([shift(TUE, "00:00", "24:00")], WEEK,
                 [span("2025-01-07T00:00", "2025-01-08T00:00")], id="00:00-24:00 is 24 h"),
    pytest.param([shift(MON, "18:00", "24:00"), shift(TUE, "00:00", "08:00")], WEEK,
                 [span("2025-01-06T18:00", "2025-01-07T08:00")], id="back to back merge"),
    pytest.param([shift(MON, "18:00", "24:00", SEOUL), shift(TUE, "00:00", "08:00", SEOUL)],
                 WEEK, [span("2025-01-06T09:00", "2025-01-06T23:00")],
                 id="back to back merge Seoul"),
    pytest.param([shift(MON, "09:00", "13:00"), shift(MON, "12:00", "17:00")], WEEK,
                 [span("2025-01-06T09:00", "2025-01-06T17:00")], id="overlap merges"),
    pytest.param([shift(d, "00:00", "00:00") for d in range(7)], WEEK,
                 [span(*WEEK)], id="24/7 is one interval"),
    pytest.param([shift(MON, "09:00", "17:00", staff=2)], WEEK, [], id="other staff only"),
    pytest.param([shift(MON, "09:00", "17:00")], ("2025-01-06T17:00", "2025-01-06T09:00"), [],
                 id="empty window"),
])
def test_intervals(shifts: list[WeeklyShift], window: tuple[str, str],
                   expected: list[Interval]) -> None:
    got = intervals(Roster(tuple(shifts)), 1, z(window[0]), z(window[1]))
    assert got == expected
    assert all(s.tzinfo is UTC and e.tzinfo is UTC for s, e in got)


@pytest.mark.parametrize("tz,weekday,start,end,day,expected,hours", [
    # New York springs forward 2025-03-09 02:00 EST -> 03:00 EDT, falls back 2025-11-02 02:00
    # EDT -> 01:00 EST. A day shift keeps its wall-clock times, so its UTC times move.
    (NY, SUN, "09:00", "18:00", "2025-03-02", span("2025-03-02T14:00", "2025-03-02T23:00"), 9),
    (NY, SUN, "09:00", "18:00", "2025-03-09", span("2025-03-09T13:00", "2025-03-09T22:00"), 9),
    (NY, SUN, "09:00", "18:00", "2025-11-02", span("2025-11-02T14:00", "2025-11-02T23:00"), 9),
    (NY, SAT, "22:00", "06:00", "2025-03-08", span("2025-03-09T03:00", "2025-03-09T10:00"), 7),
    (NY, SAT, "22:00", "06:00", "2025-11-01", span("2025-11-02T02:00", "2025-11-02T11:00"), 9),
    (NY, SAT, "12:00", "12:00", "2025-03-08", span("2025-03-08T17:00", "2025-03-09T16:00"), 23),
    (NY, SAT, "12:00", "12:00", "2025-11-01", span("2025-11-01T16:00", "2025-11-02T17:00"), 25),
    # Missing local times move forward by the gap: 02:30 is read as 03:30 EDT.
    (NY, SUN, "02:30", "10:00", "2025-03-09", span("2025-03-09T07:30", "2025-03-09T14:00"), 6.5),
    (NY, SAT, "20:00", "02:30", "2025-03-08", span("2025-03-09T01:00", "2025-03-09T07:30"), 6.5),
    # Ambiguous local times are the first occurrence: 01:30 is 01:30 EDT.
    (NY, SUN, "01:30", "09:00", "2025-11-02", span("2025-11-02T05:30", "2025-11-02T14:00"), 8.5),
    (NY, SAT, "22:00", "01:30", "2025-11-01", span("2025-11-02T02:00", "2025-11-02T05:30"), 3.5),
    # Berlin springs forward 2025-03-30 02:00 CET -> 03:00 CEST, falls back 2025-10-26 03:00 CEST
    # -> 02:00 CET.
    (BERLIN, SUN, "09:00", "18:00", "2025-03-30",
     span("2025-03-30T07:00", "2025-03-30T16:00"), 9),
    (BERLIN, SUN, "09:00", "18:00", "2025-10-26",
     span("2025-10-26T08:00", "2025-10-26T17:00"), 9),
    (BERLIN, SAT, "22:00", "06:00", "2025-03-29",
     span("2025-03-29T21:00", "2025-03-30T04:00"), 7),
    (BERLIN, SAT, "22:00", "06:00", "2025-10-25",
     span("2025-10-25T20:00", "2025-10-26T05:00"), 9),
    (BERLIN, SUN, "02:30", "06:00", "2025-03-30",
     span("2025-03-30T01:30", "2025-03-30T04:00"), 2.5),
    (BERLIN, SUN, "02:30", "06:00", "2025-10-26",
     span("2025-10-26T00:30", "2025-10-26T05:00"), 4.5),
    # Seoul has no DST: the same shift is 8 h and the same UTC times on both nights.
    (SEOUL, SAT, "22:00", "06:00", "2025-03-08", span("2025-03-08T13:00", "2025-03-08T21:00"), 8),
    (SEOUL, SAT, "22:00", "06:00", "2025-11-01", span("2025-11-01T13:00", "2025-11-01T21:00"), 8),
])
def test_dst(tz: str, weekday: int, start: str, end: str, day: str, expected: Interval,
             hours: float) -> None:
    roster = Roster((shift(weekday, start, end, tz),))
    got = intervals(roster, 1, z(day + "T00:00") - timedelta(days=1),
                    z(day + "T00:00") + timedelta(days=2))
    assert got == [expected]
    assert got[0][1] - got[0][0] == timedelta(hours=hours)


def test_shift_wholly_in_gap_is_dropped_that_day_only() -> None:
    roster = Roster((shift(SUN, "02:30", "03:00", NY),))
    # 02:30 resolves to 03:30 EDT, after the 03:00 end: no real time is covered.
    assert intervals(roster, 1, z("2025-03-09T00:00"), z("2025-03-10T00:00")) == []
    assert intervals(roster, 1, z("2025-03-16T00:00"), z("2025-03-17T00:00")) == [
        span("2025-03-16T06:30", "2025-03-16T07:00")]


def test_back_to_back_across_gap_still_merge() -> None:
    # Both sides resolve 02:30 the same way, so the hand-over instant is shared.
    roster = Roster((shift(SAT, "20:00", "02:30", NY), shift(SUN, "02:30", "10:00", NY)))
    assert intervals(roster, 1, z("2025-03-08T00:00"), z("2025-03-10T00:00")) == [
        span("2025-03-09T01:00", "2025-03-09T14:00")]


DAY_SHIFT = shift(MON, "09:00", "17:00")


@pytest.mark.parametrize("overrides,expected", [
    pytest.param([sick(z("2025-01-06T12:00"), z("2025-01-06T14:00"))],
                 [span("2025-01-06T09:00", "2025-01-06T12:00"),
                  span("2025-01-06T14:00", "2025-01-06T17:00")], id="sick part"),
    pytest.param([sick(z("2025-01-06T08:00"), z("2025-01-06T10:00"))],
                 [span("2025-01-06T10:00", "2025-01-06T17:00")], id="sick start"),
    pytest.param([sick(z("2025-01-06T00:00"), z("2025-01-07T00:00"))], [], id="sick all"),
    pytest.param([Override(1, z("2025-01-01T00:00"), z("2025-02-01T00:00"), False, "holiday")],
                 [], id="long holiday"),
    pytest.param([cover(z("2025-01-07T10:00"), z("2025-01-07T12:00"))],
                 [span("2025-01-06T09:00", "2025-01-06T17:00"),
                  span("2025-01-07T10:00", "2025-01-07T12:00")], id="cover adds"),
    pytest.param([cover(z("2025-01-06T17:00"), z("2025-01-06T19:00"))],
                 [span("2025-01-06T09:00", "2025-01-06T19:00")], id="cover extends"),
    pytest.param([cover(z("2025-01-07T10:00"), z("2025-01-07T14:00")),
                  sick(z("2025-01-07T11:00"), z("2025-01-07T12:00"))],
                 [span("2025-01-06T09:00", "2025-01-06T17:00"),
                  span("2025-01-07T10:00", "2025-01-07T11:00"),
                  span("2025-01-07T12:00", "2025-01-07T14:00")], id="off beats on"),
    pytest.param([cover(z("2025-01-06T16:00"), z("2025-01-06T20:00")),
                  sick(z("2025-01-06T16:00"), z("2025-01-06T20:00"))],
                 [span("2025-01-06T09:00", "2025-01-06T16:00")], id="same span off wins"),
    pytest.param([sick(local("2025-01-06T06:00", NY), local("2025-01-06T07:00", NY))],
                 [span("2025-01-06T09:00", "2025-01-06T11:00"),
                  span("2025-01-06T12:00", "2025-01-06T17:00")], id="off in New York time"),
    pytest.param([cover(local("2025-01-06T18:00", SEOUL), local("2025-01-06T19:00", SEOUL))],
                 [span("2025-01-06T09:00", "2025-01-06T17:00")], id="cover inside shift"),
    pytest.param([cover(local("2025-01-07T09:00", SEOUL), local("2025-01-07T10:00", SEOUL))],
                 [span("2025-01-06T09:00", "2025-01-06T17:00"),
                  span("2025-01-07T00:00", "2025-01-07T01:00")], id="cover in Seoul time"),
    pytest.param([sick(z("2025-01-06T10:00"), z("2025-01-06T11:00"), staff=2)],
                 [span("2025-01-06T09:00", "2025-01-06T17:00")], id="someone else sick"),
])
def test_overrides(overrides: list[Override], expected: list[Interval]) -> None:
    roster = Roster((DAY_SHIFT,), tuple(overrides))
    assert intervals(roster, 1, z(WEEK[0]), z(WEEK[1])) == expected


def test_override_zone_differs_from_shift_zone() -> None:
    # A Seoul shift 09:00-17:00 KST (00:00-08:00 UTC) cut by sickness noted in Berlin time.
    roster = Roster((shift(MON, "09:00", "17:00", SEOUL),),
                    (sick(local("2025-01-06T03:00", BERLIN), local("2025-01-06T05:00", BERLIN)),))
    assert intervals(roster, 1, z(WEEK[0]), z(WEEK[1])) == [
        span("2025-01-06T00:00", "2025-01-06T02:00"), span("2025-01-06T04:00", "2025-01-06T08:00")]


def test_swap() -> None:
    roster = Roster(
        (DAY_SHIFT,),
        (Override(1, z("2025-01-06T09:00"), z("2025-01-06T17:00"), False, "swap"),
         Override(2, z("2025-01-06T09:00"), z("2025-01-06T17:00"), True, "swap")),
    )
    assert on_shift_at(roster, z("2025-01-06T10:00")) == {2}
    assert on_shift_at(roster, z("2025-01-13T10:00")) == {1}
    assert staff_ids(roster) == {1, 2}


# Three staff in three zones, week of 2025-01-06:
# 1: New York weekdays 09:00-17:00 EST = 14:00-22:00 UTC
# 2: Seoul weekdays 09:00-18:00 KST = 00:00-09:00 UTC
# 3: Berlin Sunday 22:00-06:00 CET = Sunday 21:00 - Monday 05:00 UTC
FLOOR = Roster(
    tuple(shift(d, "09:00", "17:00", NY, staff=1) for d in range(5))
    + tuple(shift(d, "09:00", "18:00", SEOUL, staff=2) for d in range(5))
    + (shift(SUN, "22:00", "06:00", BERLIN, staff=3),)
)


@pytest.mark.parametrize("at,edge", [
    ("2025-01-05T12:00", "2025-01-05T21:00"),
    ("2025-01-05T21:00", "2025-01-06T00:00"),
    ("2025-01-06T00:00", "2025-01-06T05:00"),  # 2 starts exactly at `at`: not after it
    ("2025-01-06T05:00", "2025-01-06T09:00"),
    ("2025-01-06T09:00", "2025-01-06T14:00"),
    ("2025-01-06T14:00", "2025-01-06T22:00"),
    ("2025-01-06T22:00", "2025-01-07T00:00"),
    ("2025-01-10T22:00", "2025-01-12T21:00"),  # Friday evening to Sunday night
])
def test_next_edge(at: str, edge: str) -> None:
    assert next_edge(FLOOR, z(at)) == z(edge)


def test_next_edge_walk() -> None:
    t, seen = z("2025-01-06T00:00"), []
    for _ in range(6):
        found = next_edge(FLOOR, t)
        assert found is not None
        seen.append((found, set(on_shift_at(FLOOR, found))))
        t = found
    assert seen == [
        (z("2025-01-06T05:00"), {2}), (z("2025-01-06T09:00"), set()),
        (z("2025-01-06T14:00"), {1}), (z("2025-01-06T22:00"), set()),
        (z("2025-01-07T00:00"), {2}), (z("2025-01-07T09:00"), set()),
    ]


@pytest.mark.parametrize("roster,at,horizon,edge", [
    pytest.param(Roster(), "2025-01-06T00:00", timedelta(days=8), None, id="empty"),
    pytest.param(Roster((), (sick(z("2025-01-06T01:00"), z("2025-01-06T02:00")),)),
                 "2025-01-06T00:00", timedelta(days=8), None, id="only off overrides"),
    pytest.param(Roster(tuple(shift(d, "00:00", "00:00") for d in range(7))),
                 "2025-01-06T12:00", timedelta(days=8), None, id="24/7 never changes"),
    pytest.param(Roster((DAY_SHIFT,)), "2025-01-06T17:00", timedelta(days=6, hours=16), z(
        "2025-01-13T09:00"), id="edge exactly at horizon"),
    pytest.param(Roster((DAY_SHIFT,)), "2025-01-06T17:00", timedelta(days=6, hours=15),
                 None, id="edge past horizon"),
    pytest.param(Roster((DAY_SHIFT,), (cover(z("2025-01-06T20:00"), z("2025-01-06T21:00"),
                                             staff=9),)),
                 "2025-01-06T17:00", timedelta(days=8), z("2025-01-06T20:00"), id="override"),
])
def test_next_edge_cases(roster: Roster, at: str, horizon: timedelta,
                         edge: datetime | None) -> None:
    assert next_edge(roster, z(at), horizon) == edge


@pytest.mark.parametrize("at,expected", [
    ("2025-01-05T20:59", set()),
    ("2025-01-05T21:00", {3}),
    ("2025-01-06T00:00", {2, 3}),
    ("2025-01-06T05:00", {2}),
    ("2025-01-06T09:00", set()),
    ("2025-01-06T14:00", {1}),
    ("2025-01-06T21:59", {1}),
    ("2025-01-11T00:00", set()),
])
def test_on_shift_at(at: str, expected: set[int]) -> None:
    assert on_shift_at(FLOOR, z(at)) == expected
    assert {i for i in staff_ids(FLOOR) if on_shift(FLOOR, i, z(at))} == expected
    assert on_shift_at(FLOOR, z(at).astimezone(ZoneInfo(SEOUL))) == expected


BACK_TO_BACK = Roster((shift(MON, "18:00", "24:00"), shift(TUE, "00:00", "08:00")))
NIGHT = span("2025-01-06T18:00", "2025-01-07T08:00")


@pytest.mark.parametrize("at,current,upcoming", [
    ("2025-01-06T12:00", None, NIGHT),
    ("2025-01-06T18:00", NIGHT, NIGHT),
    ("2025-01-06T23:59", NIGHT, NIGHT),
    ("2025-01-07T00:00", NIGHT, NIGHT),
    ("2025-01-07T07:59", NIGHT, NIGHT),
    ("2025-01-07T08:00", None, span("2025-01-13T18:00", "2025-01-14T08:00")),
])
def test_windows(at: str, current: Interval | None, upcoming: Interval | None) -> None:
    assert current_window(BACK_TO_BACK, 1, z(at)) == current
    assert next_window(BACK_TO_BACK, 1, z(at)) == upcoming


def test_window_edge_cases() -> None:
    assert next_window(BACK_TO_BACK, 1, z("2025-01-07T08:00"), timedelta(days=1)) is None
    assert next_window(BACK_TO_BACK, 2, z("2025-01-07T08:00")) is None
    assert current_window(Roster(), 1, z("2025-01-07T08:00")) is None
    always = Roster(tuple(shift(d, "00:00", "00:00") for d in range(7)))
    at = z("2025-01-07T08:00")
    assert current_window(always, 1, at) == (at - LOOKAROUND, at + LOOKAROUND)
    # A sick override ends the merged window early.
    ill = Roster(BACK_TO_BACK.shifts, (sick(z("2025-01-07T02:00"), z("2025-01-07T03:00")),))
    assert current_window(ill, 1, z("2025-01-07T01:00")) == span("2025-01-06T18:00",
                                                                 "2025-01-07T02:00")
    assert next_window(ill, 1, z("2025-01-07T02:30")) == span("2025-01-07T03:00",
                                                              "2025-01-07T08:00")


@pytest.mark.parametrize("text,as_end,expected", [
    ("09:00", False, time(9, 0)),
    ("9:30", False, time(9, 30)),
    (" 23:59 ", False, time(23, 59)),
    ("00:00", False, time(0, 0)),
    ("24:00", True, time(0, 0)),
    ("17:45", True, time(17, 45)),
])
def test_parse_hhmm(text: str, as_end: bool, expected: time) -> None:
    assert parse_hhmm(text, as_end=as_end) == expected


@pytest.mark.parametrize("text,as_end,message", [
    ("24:00", False, "only allowed as an end"),
    ("24:01", True, "00:00 to 23:59"),
    ("25:00", False, "00:00 to 23:59"),
    ("12:60", False, "00:00 to 23:59"),
    ("9", False, "expected HH:MM"),
    ("9:5", False, "expected HH:MM"),
    ("09:00:00", False, "expected HH:MM"),
    ("", False, "expected HH:MM"),
    ("ab:cd", False, "expected HH:MM"),
    ("-1:00", False, "expected HH:MM"),
    ("\uff10\uff19:00", False, "expected HH:MM"),  # full-width digits
])
def test_parse_hhmm_errors(text: str, as_end: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_hhmm(text, as_end=as_end)


@pytest.mark.parametrize("items,expected", [
    (["mon"], (0,)),
    (["Mon", "WED", " fri "], (0, 2, 4)),
    (["sun", "mon", "sun"], (0, 6)),
    (["daily"], (0, 1, 2, 3, 4, 5, 6)),
    (["weekdays"], (0, 1, 2, 3, 4)),
    (["weekends"], (5, 6)),
    (["weekdays", "sat"], (0, 1, 2, 3, 4, 5)),
    ("tue", (1,)),
])
def test_parse_weekdays(items: list[str], expected: tuple[int, ...]) -> None:
    assert parse_weekdays(items) == expected


@pytest.mark.parametrize("items,message", [
    (["mon", "funday"], "'funday' is not a weekday"),
    (["monday"], "'monday'"),
    ([""], "'' is not a weekday"),
    ([], "no weekdays"),
])
def test_parse_weekdays_errors(items: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_weekdays(items)


def test_validation() -> None:
    naive = datetime(2025, 1, 6, 9)
    with pytest.raises(ValueError, match="timezone-aware"):
        Override(1, naive, z("2025-01-07T00:00"), False, "sick")
    with pytest.raises(ValueError, match="after its start"):
        Override(1, z("2025-01-07T00:00"), z("2025-01-07T00:00"), False, "sick")
    with pytest.raises(ValueError, match="reason"):
        Override(1, z("2025-01-06T00:00"), z("2025-01-07T00:00"), False, "nap")
    with pytest.raises(ValueError, match="weekday"):
        WeeklyShift(1, 7, time(9), time(17), "UTC")
    with pytest.raises(ValueError, match="time zone"):
        WeeklyShift(1, 0, time(9), time(17), "Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="naive"):
        WeeklyShift(1, 0, time(9, tzinfo=UTC), time(17), "UTC")
    for call in (
        lambda: intervals(FLOOR, 1, naive, z("2025-01-07T00:00")),
        lambda: intervals(FLOOR, 1, z("2025-01-06T00:00"), naive),
        lambda: on_shift(FLOOR, 1, naive),
        lambda: on_shift_at(FLOOR, naive),
        lambda: current_window(FLOOR, 1, naive),
        lambda: next_window(FLOOR, 1, naive),
        lambda: next_edge(FLOOR, naive),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


# Property tests: random rosters around the 2025 DST changes, on a 15-minute grid so that shift
# and override edges often coincide.

ZONES = ["UTC", NY, BERLIN, SEOUL, "Australia/Lord_Howe"]  # Lord Howe shifts by 30 minutes
ANCHORS = [z("2025-03-09T07:00"), z("2025-03-30T01:00"), z("2025-10-26T01:00"),
           z("2025-11-02T06:00"), z("2025-04-05T15:00"), z("2025-10-04T16:00")]
QUARTER = timedelta(minutes=15)

instants = st.builds(lambda a, n: a + n * QUARTER,
                     st.sampled_from(ANCHORS), st.integers(-4 * 96, 4 * 96))
odd_instants = st.builds(lambda t, us: t + timedelta(microseconds=us),
                         instants, st.integers(-QUARTER // TICK, QUARTER // TICK))
wall_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
shifts = st.builds(WeeklyShift, staff_id=st.integers(1, 4), weekday=st.integers(0, 6),
                   start=wall_times, end=wall_times, tz=st.sampled_from(ZONES))
overrides = st.builds(
    lambda staff, start, quarters, on, reason, tz: Override(
        staff, start.astimezone(ZoneInfo(tz)), start + quarters * QUARTER, on, reason),
    st.integers(1, 4), instants, st.integers(1, 3 * 96), st.booleans(),
    st.sampled_from(OVERRIDE_REASONS), st.sampled_from(ZONES),
)
rosters = st.builds(lambda s, o: Roster(tuple(s), tuple(o)),
                    st.lists(shifts, max_size=6), st.lists(overrides, max_size=4))
moments = st.one_of(instants, odd_instants)


@settings(max_examples=300, deadline=None)
@given(rosters, moments)
def test_property_on_shift_matches_intervals(roster: Roster, at: datetime) -> None:
    lo, hi = at - timedelta(days=2), at + timedelta(days=2)
    for staff in range(1, 6):
        got = intervals(roster, staff, lo, hi)
        assert all(lo <= s < e <= hi and s.tzinfo is UTC for s, e in got)
        assert all(a[1] < b[0] for a, b in pairwise(got))  # merged
        inside = [(s, e) for s, e in got if s <= at < e]
        assert on_shift(roster, staff, at) == bool(inside)
        window = current_window(roster, staff, at)
        if not inside:
            assert window is None
            continue
        (s, e), = inside
        assert window is not None
        assert window[0] == s if s > lo else window[0] <= s
        assert window[1] == e if e < hi else window[1] >= e
        assert next_window(roster, staff, at) == window
    assert on_shift_at(roster, at) == {i for i in range(1, 6) if on_shift(roster, i, at)}


@settings(max_examples=200, deadline=None)
@given(rosters, moments, st.integers(1, 5 * 96))
def test_property_intervals_split_cleanly(roster: Roster, at: datetime, quarters: int) -> None:
    lo, mid, hi = at - timedelta(days=1), at, at + quarters * QUARTER
    for staff in range(1, 5):
        whole = intervals(roster, staff, lo, hi)
        parts = intervals(roster, staff, lo, mid) + intervals(roster, staff, mid, hi)
        joined: list[Interval] = []
        for s, e in parts:
            if joined and joined[-1][1] == s:
                joined[-1] = (joined[-1][0], e)
            else:
                joined.append((s, e))
        assert whole == joined


@settings(max_examples=200, deadline=None)
@given(rosters, moments, st.integers(1, 8 * 96))
def test_property_next_edge(roster: Roster, at: datetime, quarters: int) -> None:
    horizon = quarters * QUARTER
    edge = next_edge(roster, at, horizon)
    status = on_shift_at(roster, at)
    end = at + horizon if edge is None else edge
    if edge is not None:
        assert at < edge <= at + horizon and edge.tzinfo is UTC
        assert on_shift_at(roster, edge - TICK) != on_shift_at(roster, edge)
    samples = [at + (end - at) * k / 7 for k in range(7)] + [end - TICK]
    assert all(on_shift_at(roster, t) == status for t in samples if t >= at)
    for staff in staff_ids(roster):
        upcoming = next_window(roster, staff, at, horizon)
        if upcoming is not None and upcoming[0] > at:
            assert edge is not None and edge <= upcoming[0]
            assert not on_shift(roster, staff, upcoming[0] - TICK)


@settings(max_examples=200, deadline=None)
@given(rosters, moments, st.integers(1, 3))
def test_property_next_edge_in_parts(roster: Roster, at: datetime, parts: int) -> None:
    """The shift-edge job asks about a part of the people at a time (staffing.edge_of): the
    earliest of the parts' edges is the whole roster's."""
    ids = sorted(staff_ids(roster))
    found = [next_edge(roster, at, among=ids[k::parts]) for k in range(parts)]
    assert next_edge(roster, at) == min((f for f in found if f is not None), default=None)


def _next_window_by_steps(roster: Roster, staff: int, at: datetime,
                          horizon: timedelta) -> Interval | None:
    """next_window as the definition reads: the window now, else the window of the first start
    within the horizon."""
    now = current_window(roster, staff, at)
    if now is not None:
        return now
    ahead = intervals(roster, staff, at, at + horizon + TICK)
    return current_window(roster, staff, ahead[0][0]) if ahead else None


@settings(max_examples=300, deadline=None)
@given(rosters, moments, st.integers(1, 10 * 96), st.sets(st.integers(1, 5)))
def test_property_next_window_in_one_pass(roster: Roster, at: datetime, quarters: int,
                                          always: set[int]) -> None:
    """next_window reads the roster once over all the time either answer can reach (routing
    asks it of every counselor at every re-sync): the same window as step by step."""
    roster = Roster(roster.shifts, roster.overrides, always=frozenset(always))
    horizon = quarters * QUARTER
    for staff in range(1, 6):
        assert next_window(roster, staff, at, horizon) == _next_window_by_steps(
            roster, staff, at, horizon)


@settings(max_examples=200, deadline=None)
@given(rosters, moments, st.integers(1, 3 * 96), st.sets(st.integers(1, 5)))
def test_property_uncovered_from_each_persons_intervals(
        roster: Roster, at: datetime, quarters: int, staff: set[int]) -> None:
    """The cover-ahead read works each person's intervals out once and asks about every
    language and channel from them (uncovered_by): the same gaps as from the roster, and
    exactly the times when none of the group is on shift."""
    end = at + quarters * QUARTER
    gaps = uncovered(roster, sorted(staff), at, end)
    assert uncovered_by([intervals(roster, i, at, end) for i in sorted(staff)], at, end) == gaps
    samples = [at + (end - at) * k / 11 for k in range(11)]
    for t in samples:
        nobody = not any(on_shift(roster, i, t) for i in staff)
        assert nobody == any(s <= t < e for s, e in gaps)


# --- not rostered: on shift at all times except time off (issue 13) ---

def test_an_off_override_tomorrow_takes_someone_not_rostered_off_only_tomorrow() -> None:
    roster = Roster((), (sick(z("2025-01-07T09:00"), z("2025-01-07T17:00")),),
                    always=frozenset({1}))
    assert on_shift(roster, 1, z("2025-01-06T12:00"))
    assert not on_shift(roster, 1, z("2025-01-07T10:00"))
    assert on_shift(roster, 1, z("2025-01-07T17:00"))
    assert current_window(roster, 1, z("2025-01-06T12:00")) == (
        z("2025-01-06T12:00") - LOOKAROUND, z("2025-01-07T09:00"))
    assert next_edge(roster, z("2025-01-06T12:00")) == z("2025-01-07T09:00")


def test_someone_not_rostered_ignores_weekly_shifts_and_extra_time() -> None:
    roster = Roster((shift(MON, "09:00", "10:00"),), (cover(z("2025-01-06T11:00"),
                                                            z("2025-01-06T12:00")),),
                    always=frozenset({1}))
    assert intervals(roster, 1, z("2025-01-06T00:00"), z("2025-01-07T00:00")) == [
        span("2025-01-06T00:00", "2025-01-07T00:00")]
    assert next_edge(roster, z("2025-01-06T00:00")) is None


def test_someone_rostered_without_entries_is_never_on_shift() -> None:
    roster = Roster((shift(MON, "09:00", "10:00", staff=2),))
    assert not on_shift(roster, 1, z("2025-01-06T09:30"))
    assert current_window(roster, 1, z("2025-01-06T09:30")) is None


@pytest.mark.parametrize("on,reason,fits", [
    (False, "cover", False), (True, "sick", False), (True, "holiday", False),
    (True, "cover", True), (False, "sick", True), (False, "holiday", True),
    *((d, r, True) for d in (True, False) for r in ("swap", "training", "other")),
])
def test_override_reasons_that_go_only_one_way(on: bool, reason: str, fits: bool) -> None:
    assert reason_fits(on, reason) is fits


def test_uncovered_is_the_time_nobody_of_a_group_is_on() -> None:
    roster = Roster((shift(MON, "09:00", "12:00", staff=1), shift(MON, "11:00", "14:00", staff=2),
                     shift(MON, "16:00", "18:00", staff=3)))
    assert uncovered(roster, (1, 2), z("2025-01-06T08:00"), z("2025-01-06T20:00")) == [
        span("2025-01-06T08:00", "2025-01-06T09:00"), span("2025-01-06T14:00", "2025-01-06T20:00")]
    assert uncovered(roster, (), z("2025-01-06T08:00"), z("2025-01-06T09:00")) == [
        span("2025-01-06T08:00", "2025-01-06T09:00")]
    always = Roster((), (), always=frozenset({4}))
    assert uncovered(always, (4,), z("2025-01-06T08:00"), z("2025-01-06T20:00")) == []


@pytest.mark.parametrize(("staff", "gaps"), [
    # Someone on for the whole time answers at once, wherever they come in the group.
    ((5, 1, 2), []),
    ((1, 2, 5), []),
    # ... unless their time off falls inside it: then the others' shifts count.
    ((6, 1, 2), [("2025-01-06T08:00", "2025-01-06T09:00"),
                 ("2025-01-06T16:00", "2025-01-06T20:00")]),
    ((6,), [("2025-01-06T08:00", "2025-01-06T20:00")]),
    # Partial shifts that together cover it all leave no gap either.
    ((1, 7), []),
    # People with no plan at all are skipped.
    ((99, 1), [("2025-01-06T08:00", "2025-01-06T09:00"), ("2025-01-06T12:00", "2025-01-06T20:00")]),
])
def test_uncovered_with_someone_on_throughout(staff: tuple[int, ...],
                                              gaps: list[tuple[str, str]]) -> None:
    roster = Roster((shift(MON, "09:00", "12:00", staff=1), shift(MON, "11:00", "16:00", staff=2),
                     shift(MON, "00:00", "23:59", staff=6), shift(MON, "00:00", "09:00", staff=7),
                     shift(MON, "12:00", "23:59", staff=7)),
                    (sick(z("2025-01-06T08:00"), z("2025-01-06T20:00"), staff=6),),
                    always=frozenset({5}))
    assert uncovered(roster, staff, z("2025-01-06T08:00"), z("2025-01-06T20:00")) == [
        span(a, b) for a, b in gaps]
