"""What the live state holds of some conversations, and a walk over everything it holds a
chunk at a time: the reconciler's reads when the floor is too large to read whole each pass.
See docs/stores.md ("Losing Redis loses nothing").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from hotline.cases.live_records import Held
from hotline.stores.live.keys import Keys


async def held_of(redis: Redis, keys: Keys, ids: list[str]) -> Held:
    """LiveStore.held restricted to `ids`, read at one instant in one round trip."""
    if not ids:
        return Held(frozenset(), frozenset(), {}, frozenset())
    async with redis.pipeline(transaction=True) as p:
        p.zmscore(keys.queue, ids)
        p.hmget(keys.queue_meta, ids)
        p.hmget(keys.offer, ids)
        p.zmscore(keys.offers, ids)
        p.hmget(keys.owner, ids)
        res: Any = await p.execute()
    queue, meta, offer, offer_time, owner = res
    queued = {i for i, s, m in zip(ids, queue, meta, strict=True)
              if s is not None and m is not None}
    owners = {i: int(o) for i, o in zip(ids, owner, strict=True) if o is not None}
    anywhere = {i for i, *vals in zip(ids, queue, meta, offer, offer_time, owner, strict=True)
                if any(v is not None for v in vals)}
    return Held(queued=frozenset(queued),
                offered=frozenset(i for i, o in zip(ids, offer, strict=True) if o is not None),
                owners=owners, anywhere=frozenset(anywhere))


@dataclass
class Walk:
    """Cursors of an incremental walk over the ids the live state holds (HSCAN/ZSCAN)."""

    cursors: dict[str, int] = field(default_factory=lambda: {"queue": 0, "meta": 0,
                                                             "owner": 0})

    async def step(self, redis: Redis, keys: Keys, count: int) -> set[str]:
        """About `count` more ids from each of queue, metadata and owners, and every offer
        (offers are few: at most the floor's capacity)."""
        async with redis.pipeline(transaction=False) as p:
            p.zscan(keys.queue, self.cursors["queue"], count=count)
            p.hscan(keys.queue_meta, self.cursors["meta"], count=count)
            p.hscan(keys.owner, self.cursors["owner"], count=count)
            p.hkeys(keys.offer)
            p.zrange(keys.offers, 0, -1)
            res: Any = await p.execute()
        (qc, qitems), (mc, meta), (oc, owner), offer, offer_times = res
        # A finished walk answers cursor 0: the next step starts that one again.
        self.cursors = {"queue": int(qc), "meta": int(mc), "owner": int(oc)}
        return ({str(c) for c, _ in qitems} | {str(c) for c in meta} | {str(c) for c in owner}
                | {str(c) for c in offer} | {str(c) for c in offer_times})
