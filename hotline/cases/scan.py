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

# Ids read per transaction. The reconciler asks about a few thousand at once on a large floor
# (a range of SQL's open cases and a chunk of what Redis holds); their replies parsed in one
# step held the loop for 40-150 ms.
HELD_PART = 250


async def held_of(redis: Redis, keys: Keys, ids: list[str], part_ids: int = HELD_PART) -> Held:
    """LiveStore.held restricted to `ids`: each id's entries read at one instant, in a
    transaction per `part_ids` ids (each reply parsed in a step of its own; the reconciler
    compares one id at a time, so no instant across ids is needed)."""
    queued: set[str] = set()
    offered: set[str] = set()
    owners: dict[str, int] = {}
    anywhere: set[str] = set()
    for start in range(0, len(ids), part_ids):
        part = ids[start:start + part_ids]
        async with redis.pipeline(transaction=True) as p:
            p.zmscore(keys.queue, part)
            p.hmget(keys.queue_meta, part)
            p.hmget(keys.offer, part)
            p.zmscore(keys.offers, part)
            p.hmget(keys.owner, part)
            res: Any = await p.execute()
        queue, meta, offer, offer_time, owner = res
        queued.update(i for i, s, m in zip(part, queue, meta, strict=True)
                      if s is not None and m is not None)
        offered.update(i for i, o in zip(part, offer, strict=True) if o is not None)
        owners.update((i, int(o)) for i, o in zip(part, owner, strict=True) if o is not None)
        anywhere.update(i for i, *vals in zip(part, queue, meta, offer, offer_time, owner,
                                              strict=True)
                        if any(v is not None for v in vals))
    return Held(queued=frozenset(queued), offered=frozenset(offered), owners=owners,
                anywhere=frozenset(anywhere))


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
