"""What the outbox hands a channel and what the channel answers, and the senders registered by
the channels that are switched on. Kept apart from the outbox so the service container
(hotline/deps.py) can hold the senders without importing the outbox. See docs/outbox.md.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from hotline.domain.conversation import Channel


@dataclass(frozen=True)
class Outgoing:
    """One reply on its way: everything a channel needs, the address decrypted."""

    conversation_id: str
    seq: int
    channel: Channel
    language: str
    address: str
    text: str


@dataclass(frozen=True)
class SendResult:
    ok: bool
    provider_ref: str | None = None
    # The provider asked us to wait this long (e.g. Telegram 429 retry_after).
    retry_after_s: float | None = None
    # Retrying cannot help (blocked the bot, invalid number): fail at once.
    permanent: bool = False
    # A short code, never message text or an address.
    error: str = ""


class Sender(Protocol):
    async def send(self, out: Outgoing) -> SendResult: ...


@dataclass
class Outbox:
    """The senders of the channels that are switched on (set up by each channel at start)."""

    senders: dict[Channel, Sender] = field(default_factory=dict)
    tasks: set[asyncio.Task[str | None]] = field(default_factory=set)

    def register(self, channel: Channel, sender: Sender) -> None:
        self.senders[channel] = sender
