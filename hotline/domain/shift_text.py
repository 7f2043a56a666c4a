"""Shift times and weekdays as people write them ("09:00", "mon", "weekdays"): the roster's
API, its config section and the wellbeing settings read them here (hotline/domain/shifts.py
works with the parsed values)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import time

_HHMM = re.compile(r"([0-9]{1,2}):([0-9]{2})")


def parse_hhmm(text: str, *, as_end: bool = False) -> time:
    """Parse "09:00" or "9:30"; "24:00" means midnight and is accepted only with `as_end`."""
    match = _HHMM.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a time: expected HH:MM, e.g. 09:00")
    hour, minute = int(match[1]), int(match[2])
    if (hour, minute) == (24, 0):
        if not as_end:
            raise ValueError(f"{text!r}: 24:00 is only allowed as an end time")
        return time(0, 0)
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r} is not a time: expected 00:00 to 23:59")
    return time(hour, minute)


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_GROUPS: dict[str, tuple[int, ...]] = {
    **{name: (i,) for i, name in enumerate(DAY_NAMES)},
    "daily": tuple(range(7)),
    "weekdays": (0, 1, 2, 3, 4),
    "weekends": (5, 6),
}


def parse_weekdays(items: Sequence[str]) -> tuple[int, ...]:
    """Parse "mon".."sun", "daily", "weekdays", "weekends" into sorted weekday numbers."""
    # A bare string is a Sequence[str] too; reading "mon" as "m", "o", "n" would only confuse.
    if isinstance(items, str):
        items = (items,)
    if not items:
        raise ValueError("no weekdays given")
    days: set[int] = set()
    for item in items:
        group = _DAY_GROUPS.get(item.strip().lower())
        if group is None:
            raise ValueError(
                f"{item!r} is not a weekday: expected mon..sun, daily, weekdays or weekends"
            )
        days.update(group)
    return tuple(sorted(days))
