"""The [roster] section of config.toml: the time zone and the seed of weekly shifts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotline.domain import shift_text
from hotline.domain.errors import ConfigError


@dataclass(frozen=True)
class ShiftSeed:
    """One [[roster.shifts]] entry: a named counselor's weekly shift on some days."""

    counselor: str
    days: tuple[int, ...]
    start: time
    end: time
    tz: str


@dataclass(frozen=True)
class RosterConfig:
    # The zone shifts are written in unless an entry names another.
    timezone: str = "Asia/Seoul"
    # Seeds the roster table when it is empty; leads edit it at run time after that.
    shifts: tuple[ShiftSeed, ...] = ()
    # How many hours ahead the roster and lead pages look for waiting cases nobody covers.
    cover_hours: int = 8


def parse_roster(raw: Any) -> RosterConfig:
    """Validate [roster]; errors name the key, e.g. roster.shifts[0].start."""
    if not isinstance(raw, dict):
        raise ConfigError("roster: expected a table [roster]")
    for key in raw:
        if key not in ("timezone", "shifts", "cover_hours"):
            raise ConfigError(f"roster.{key}: unknown key "
                              "(known keys: cover_hours, shifts, timezone)")
    hours = raw.get("cover_hours", RosterConfig.cover_hours)
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 24:
        raise ConfigError(f"roster.cover_hours: expected a whole number of hours from 1 to 24, "
                          f"got {hours!r}")
    tz = raw.get("timezone", RosterConfig.timezone)
    if not isinstance(tz, str) or not _zone_ok(tz):
        raise ConfigError(f"roster.timezone: expected an IANA zone like Asia/Seoul, got {tz!r}")
    entries = raw.get("shifts", [])
    if not isinstance(entries, list):
        raise ConfigError("roster.shifts: expected [[roster.shifts]] tables")
    seeds = []
    for i, e in enumerate(entries):
        where = f"roster.shifts[{i}]"
        if not isinstance(e, dict):
            raise ConfigError(f"{where}: expected a table")
        unknown = set(e) - {"counselor", "days", "start", "end", "tz"}
        if unknown:
            raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key "
                              f"(known keys: counselor, days, end, start, tz)")
        name = e.get("counselor")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}.counselor: expected a counselor's login name")
        days = e.get("days")
        if not isinstance(days, list) or not all(isinstance(d, str) for d in days):
            raise ConfigError(f"{where}.days: expected a list like [\"mon\", \"tue\"]")
        try:
            parsed_days = shift_text.parse_weekdays(days)
        except ValueError as err:
            raise ConfigError(f"{where}.days: {err}") from None
        times = []
        for key in ("start", "end"):
            value = e.get(key)
            try:
                times.append(shift_text.parse_hhmm(value if isinstance(value, str) else "",
                                               as_end=key == "end"))
            except ValueError:
                raise ConfigError(f"{where}.{key}: expected HH:MM, got {value!r}") from None
        zone = e.get("tz", tz)
        if not isinstance(zone, str) or not _zone_ok(zone):
            raise ConfigError(f"{where}.tz: expected an IANA zone, got {zone!r}")
        seeds.append(ShiftSeed(name, parsed_days, times[0], times[1], zone))
    return RosterConfig(timezone=tz, shifts=tuple(seeds), cover_hours=hours)


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
