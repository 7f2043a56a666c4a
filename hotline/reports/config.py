"""The [reports] section of config.toml: the small-count threshold of exported figures and the
shifts the service report counts by. Nothing secret. See docs/reports.md."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hotline.domain.errors import ConfigError

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class ReportsConfig:
    # Counts from 1 to this minus one are shown as "<N>" (CSV, pages) or null with
    # "suppressed": true (JSON), so that no victim can be singled out. 1: nothing suppressed.
    suppress_below: int = 5
    # When each shift starts, in the centre's time zone (roster.timezone), "HH:MM"; each runs
    # to the next start. A contact counts in the shift its case opened in.
    shift_starts: tuple[str, ...] = ("00:00", "09:00", "18:00")

    def __post_init__(self) -> None:
        v = self.suppress_below
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 100:
            raise ConfigError(f"reports.suppress_below: expected 1..100, got {v!r}")
        if not self.shift_starts:
            raise ConfigError("reports.shift_starts: expected at least one \"HH:MM\"")
        for s in self.shift_starts:
            if not isinstance(s, str) or not _HHMM.match(s):
                raise ConfigError(f"reports.shift_starts: expected times like \"09:00\", "
                                  f"got {s!r}")
        if len(set(self.shift_starts)) != len(self.shift_starts):
            raise ConfigError("reports.shift_starts: a start is named twice")

    @property
    def shift_minutes(self) -> tuple[int, ...]:
        """The starts as minutes after local midnight, in order."""
        return tuple(sorted(int(s[:2]) * 60 + int(s[3:]) for s in self.shift_starts))
