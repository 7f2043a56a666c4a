"""Reads of the live store that only tests make: every unassigned case at once (the server
reads the queue a page at a time, cases/paging.py)."""

from __future__ import annotations

from hotline.cases.live import LiveStore
from hotline.cases.live_records import Waiting
from hotline.domain.conversation import queue_score


async def unassigned(live: LiveStore) -> list[tuple[Waiting, int | None]]:
    """Waiting and offered cases, best first, with the counselor an offer is out to: the
    order `LiveStore.place` counts places in."""
    k = live.keys
    async with live.redis.pipeline(transaction=True) as p:
        p.zrange(k.queue, 0, -1)
        p.hgetall(k.offer)
        p.hgetall(k.queue_meta)
        ids, offered, meta = await p.execute()
    items: list[tuple[Waiting, int | None]] = [
        (Waiting.decode(c, meta[c]), None) for c in ids if c in meta]
    items += [(Waiting.decode(c, meta[c]), int(a)) for c, a in offered.items() if c in meta]
    return sorted(items, key=lambda x: queue_score(x[0].urgency, x[0].enqueued_ms))
