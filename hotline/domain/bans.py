"""The ban list's vocabulary and the pure checks on it (docs/limits.md).

A ban names a sender (the pseudonym of a chat session, phone number or Telegram chat) or a
client address (the keyed tag of an IPv4 address or an IPv6 /64): never the address itself.
Pure values; no I/O.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    SENDER = "sender"
    ADDRESS = "address"


# Why a lead bans (reason codes: the words are the console's).
REASONS = ("flooding", "spam", "abuse_of_staff", "threats", "other")
# The longest ban a lead may set; a longer one is a decision to take again later.
LONGEST = timedelta(days=365)


@functools.lru_cache(maxsize=4096)
def client_network(remote: str | None) -> str | None:
    """The unit an address is counted and banned by: an IPv4 address, or the /64 an IPv6
    address belongs to (one subscriber's devices share it and may rotate within it); None
    when there is no IP address (a Unix socket, a value that is not one)."""
    if not remote:
        return None
    try:
        ip = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True)
class Ban:
    """One ban as the console shows it: the subject (a keyed HMAC) is never shown."""

    id: int
    kind: Kind
    channel: str | None
    reason: str
    created_at: datetime
    created_by: int | None
    expires_at: datetime
    conversation_id: str | None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind.value, "channel": self.channel,
                "reason": self.reason, "created_at": self.created_at.isoformat(),
                "created_by": self.created_by, "expires_at": self.expires_at.isoformat(),
                "case": self.conversation_id}


@dataclass(frozen=True)
class BanList:
    """The bans in force, by (kind, subject): when each ends."""

    ends: Mapping[tuple[Kind, str], datetime] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Iterable[tuple[Kind, str, datetime]]) -> BanList:
        ends: dict[tuple[Kind, str], datetime] = {}
        for kind, subject, end in entries:
            key = (kind, subject)
            ends[key] = max(end, ends.get(key, end))
        return cls(ends)

    def banned(self, kind: Kind, subject: str | None, now: datetime) -> bool:
        """Whether `subject` is banned at `now` (an expired ban no longer counts)."""
        if subject is None:
            return False
        end = self.ends.get((kind, subject))
        return end is not None and now < end
