"""The [limits] section of config.toml: what a flood may cost others (docs/limits.md).

Most limits are token buckets in Redis: `*_burst` actions at once, refilled at `*_per_hour`;
new cases per sender are counted in SQL over the last hour. Address limits count per client
address (an IPv4 address, or an IPv6 /64) on the web chat; sender limits count per sender
pseudonym (a chat session, a phone number, a Telegram chat) on every channel. The defaults
are sized so that a whole mobile carrier's shared address (hundreds of victims behind one
IPv4) is never turned away, while one client opening hundreds of cases in seconds is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hotline.domain.errors import ConfigError

# The largest value any limit accepts: past this a limit is in effect off.
_MAX = 1_000_000


@dataclass(frozen=True)
class Rate:
    """A token bucket: `burst` at once, refilled at `per_hour`."""

    burst: int
    per_hour: int

    @property
    def interval_ms(self) -> int:
        """Milliseconds between two refilled tokens."""
        return max(1, 3_600_000 // self.per_hour)


@dataclass(frozen=True)
class LimitsConfig:
    # Web chat, per client address: new chat sessions (a page load without a chat cookie).
    address_sessions_burst: int = 300
    address_sessions_per_hour: int = 3000
    # Web chat, per client address: new cases (a chat's first message, a call-back request).
    address_cases_burst: int = 100
    address_cases_per_hour: int = 1200
    # Web chat, per client address: cases that urgent phrases or answers move up the queue
    # (and that page takedown staff when content is spreading).
    address_escalations_burst: int = 10
    address_escalations_per_hour: int = 60
    # Every channel, per sender: new cases in any hour (a sender has one open case at a time;
    # this bounds how often a case can be ended and opened again). Counted in SQL, where the
    # cases are; a new case past it is kept but held (closed, never queued).
    sender_cases_per_hour: int = 10
    # Every channel, per sender: automatic moves up the queue and takedown alerts.
    sender_escalations_burst: int = 5
    sender_escalations_per_hour: int = 10
    # Every channel, per sender: automatic replies (questions, wait estimates, confirmations).
    sender_replies_burst: int = 30
    sender_replies_per_hour: int = 120

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not 1 <= value <= _MAX:
                raise ConfigError(f"limits.{f.name}: expected 1..{_MAX}, got {value}")

    def rate(self, name: str) -> Rate:
        """The bucket called `name` ("address_cases", "sender_replies", ...)."""
        return Rate(getattr(self, f"{name}_burst"), getattr(self, f"{name}_per_hour"))
