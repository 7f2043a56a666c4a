"""One connected client of the event Hub (hotline/events.py): its filter, its queue, and
what the Hub tests before it calls the filter. See docs/events.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]
EventFilter = Callable[[Event], bool]

# Per-client buffer: a browser this far behind is cut off and reconnects with replay.
CLIENT_QUEUE_SIZE = 1000


@dataclass(eq=False)
class Subscription:
    """One connected client: its filter and its queue (None in the queue means: close)."""

    accept: EventFilter
    queue: asyncio.Queue[Event | None] = field(
        default_factory=lambda: asyncio.Queue(CLIENT_QUEUE_SIZE))
    # A client that hears of a case only while it may read it: an event of a kind not in
    # `heard` is offered only if its case is in `cases` (None: offer all) or it names this
    # `counselor`. On a busy floor most consoles are skipped without calling `accept`.
    cases: Collection[str] | None = None
    heard: frozenset[str] = frozenset()
    counselor: int | None = None

    def offer(self, event: Event) -> bool:
        """Queue `event` if the filter takes it; whether that woke the client."""
        if not self.accept(event):
            return False
        woke = self.queue.empty()
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.close()
        return woke

    def close(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)
        if self.queue.full():
            # Make room for the close marker: the client reconnects and replays anyway.
            self.queue.get_nowait()
            self.queue.put_nowait(None)


@dataclass(frozen=True)
class Batch:
    """Events offered together, with what the quick test looks at in them, gathered once for
    every subscriber."""

    events: list[Event]
    types: frozenset[object]
    cases: frozenset[object]
    named: frozenset[object]

    @classmethod
    def of(cls, events: list[Event]) -> Batch:
        return cls(events, frozenset(e.get("type") for e in events),
                   frozenset(e.get("conversation") for e in events),
                   frozenset(e.get("counselor") for e in events))


def offer_to(batch: Batch, sub: Subscription) -> bool:
    """Offer the batch's events to one subscriber, in order; whether that woke it. A
    subscriber none of them is for costs a few set operations: a surge's events are mostly
    messages, each tested against every console before."""
    cases, heard, me = sub.cases, sub.heard, sub.counselor
    if (cases is not None and heard.isdisjoint(batch.types) and batch.cases.isdisjoint(cases)
            and (me is None or me not in batch.named)):
        return False
    woke = False
    for event in batch.events:
        if (cases is None or event.get("type") in heard or event.get("conversation") in cases
                or (me is not None and event.get("counselor") == me)):
            woke = sub.offer(event) or woke
    return woke
