"""The stores a service works with, grouped once so services take one argument."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.cases.inbound_sql import Guesses
from hotline.cases.live import LiveStore
from hotline.cases.senders import Outbox
from hotline.config import Config
from hotline.crypto import Keyring
from hotline.domain.routing import RoutingRules
from hotline.events import Event, Publisher
from hotline.limits.bancache import BanCache
from hotline.limits.buckets import Buckets
from hotline.stores.live.keys import Keys
from hotline.stores.sql.group import GroupCommit


@dataclass(frozen=True)
class Deps:
    config: Config
    engine: AsyncEngine
    redis: Redis
    keys: Keys
    live: LiveStore
    keyring: Keyring
    # SQLite: an engine for the floor's large reads, off the loop's thread (see `reads`).
    reader: AsyncEngine | None = None
    outbox: Outbox = field(default_factory=Outbox)
    bans: BanCache = field(default_factory=BanCache)
    # PostgreSQL: each recent sender's next message number, guessed (cases/inbound_sql.py).
    guesses: Guesses = field(init=False)
    publisher: Publisher = field(init=False)
    flood: Buckets = field(init=False)
    commits: GroupCommit = field(init=False)

    def __post_init__(self) -> None:
        # Every service of the process shares one publisher, so concurrent requests' events
        # share round trips.
        object.__setattr__(self, "publisher", Publisher(self.redis, self.keys))
        object.__setattr__(self, "flood", Buckets(self.redis, self.keys, self.config.limits))
        # Likewise inbound messages' SQL transactions share commits (group commit).
        object.__setattr__(self, "commits", GroupCommit(self.engine))
        object.__setattr__(self, "guesses",
                           Guesses(on=self.engine.dialect.name == "postgresql"))

    @property
    def reads(self) -> AsyncEngine:
        """The engine for reads that scan many rows (counts of the waiting, the roster, the
        active cases): on SQLite the reader, whose statements run on a worker thread
        (stores/sql/engine.open_reader); elsewhere the one engine."""
        return self.reader or self.engine

    @property
    def rules(self) -> RoutingRules:
        return self.live.rules

    async def publish(self, event: Event) -> str | None:
        ids = await self.publisher.publish_all((event,))
        return ids[0] if ids else None

    async def publish_all(self, events: Sequence[Event]) -> list[str]:
        """Several events in order, in one round trip."""
        return await self.publisher.publish_all(events)
