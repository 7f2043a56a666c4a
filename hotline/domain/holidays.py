"""The centre-wide calendar of closed and reduced days. Pure.

On a closed day nobody's weekly shifts apply; on a reduced day only the part of them between
`opens` and `closes` (local time in the zone it was written in: roster.timezone). Overrides
still apply: a lead who puts someone on shift on a holiday means it. The roster reads these
as closures: UTC intervals cut out of weekly shifts (hotline/domain/shifts.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

KINDS = ("closed", "reduced")
_DAY_MINUTES = 24 * 60
Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Holiday:
    day: date
    kind: str
    opens_minute: int | None = None
    closes_minute: int | None = None
    label: str = ""
    tz: str = "Asia/Seoul"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: expected one of {', '.join(KINDS)}")
        if len(self.label) > 64:
            raise ValueError("label: expected at most 64 characters")
        if self.kind == "closed":
            if self.opens_minute is not None or self.closes_minute is not None:
                raise ValueError("opens: a closed day has no opening hours")
            return
        if self.opens_minute is None or self.closes_minute is None:
            raise ValueError("opens: a reduced day needs opens and closes")
        if not 0 <= self.opens_minute < self.closes_minute <= _DAY_MINUTES:
            raise ValueError("closes: expected opens < closes within the day")


def _at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """`minute` after local midnight of `day` (1440: the next midnight), in UTC."""
    day += timedelta(days=minute // _DAY_MINUTES)
    minute %= _DAY_MINUTES
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone).astimezone(UTC)


def closures(days: tuple[Holiday, ...]) -> tuple[Interval, ...]:
    """The UTC intervals in which weekly shifts do not apply."""
    out: list[Interval] = []
    for h in days:
        zone = ZoneInfo(h.tz)
        start, end = _at(h.day, 0, zone), _at(h.day, _DAY_MINUTES, zone)
        if h.kind == "closed" or h.opens_minute is None or h.closes_minute is None:
            out.append((start, end))
            continue
        if h.opens_minute > 0:
            out.append((start, _at(h.day, h.opens_minute, zone)))
        if h.closes_minute < _DAY_MINUTES:
            out.append((_at(h.day, h.closes_minute, zone), end))
    return tuple(sorted(out))
