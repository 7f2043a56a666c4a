"""Channel-neutral conversation vocabulary: channels, states, urgency, the inbound message.

Pure values; no I/O. See docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Channel(StrEnum):
    WEBCHAT = "webchat"
    SMS = "sms"
    VOICE = "voice"
    TELEGRAM = "telegram"


class Status(StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"
    CLOSED = "closed"


class Urgency(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"

    @property
    def rank(self) -> int:
        """0 is served first."""
        return _RANK[self]


_RANK = {Urgency.CRITICAL: 0, Urgency.HIGH: 1, Urgency.NORMAL: 2}

# Queue scores are rank * this + enqueue time in ms: every critical case sorts before every high
# one, and within a level the longest wait comes first. 1e13 ms is ~300 years, and scores stay
# below 2**53, so doubles hold them exactly.
RANK_SPAN_MS = 10**13


def queue_score(urgency: Urgency, enqueued_ms: int) -> int:
    """The Redis sort key for a waiting conversation."""
    return urgency.rank * RANK_SPAN_MS + enqueued_ms


class Direction(StrEnum):
    IN = "in"
    OUT = "out"
    SYSTEM = "system"


@dataclass(frozen=True)
class Inbound:
    """One message from a victim as a channel adapter hands it to the inbox.

    `address` is what the channel needs to reply (a phone number, a chat id); for the web chat,
    where the reply goes through the chat session itself, it is the chat session's token.
    """

    channel: Channel
    address: str
    text: str
    provider_id: str
    language: str
    received_at: datetime
    # Whether replies need the address kept (sealed) until retention ends.
    keep_contact: bool = False
    # A note the service writes on the victim's behalf (a phone call's menu choice, a call-back
    # coming due): stored as direction "system", never as something the victim typed, and not
    # searched for triage phrases (channels pass what it means as intake answers instead).
    system: bool = False
    # The keyed tag of the client's address (web chat): counted against the address's flood
    # limits, and kept with a new case for a while so a lead can ban the address by the case.
    origin: str | None = None


@dataclass(frozen=True)
class Stored:
    """What the inbox did with an Inbound: which conversation, which message, whether new."""

    conversation_id: str
    seq: int
    new_conversation: bool
    duplicate: bool
    # A new case held back by its sender's flood limit: stored, closed at once, never queued.
    held: bool = False
    # Whether the sender is due the calm answer now (the first refusal of a flood, not each).
    calm_due: bool = False
    # PostgreSQL, a message in an open conversation: the conversation's status and language,
    # then the columns of the caller's `reads`, read with the message's own statement
    # (cases/inbound_sql.py). None: not read; the channel reads them itself.
    read: tuple[object, ...] | None = None
