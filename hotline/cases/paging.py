"""Bounded reads of the live queue: one page of unassigned cases (waiting and offered, in queue
order) and the counts per urgency, in one round trip whatever the queue's length.

Before, the floor, /api/v1/queue and /metrics read the whole queue and decoded every entry
(10,000 waiting: 1.5 MB of JSON, a 100 ms stall of the loop). A page reads `limit` entries by
score from the sorted set, plus the offers (at most the floor's capacity). See docs/routing.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from hotline.cases.live_records import Waiting, staff_state
from hotline.domain.conversation import RANK_SPAN_MS, Urgency, queue_score
from hotline.domain.routing import StaffState
from hotline.stores.live.keys import Keys

# Entries read past the cursor's score: ties (one millisecond, one level) are skipped by id.
_TIE_SLACK = 32
MAX_LIMIT = 200


class BadCursor(ValueError):
    """A cursor this module did not write."""


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last entry's queue score and id (Redis orders ties by id)."""

    score: int
    conversation_id: str

    def encode(self) -> str:
        return f"{self.score}.{self.conversation_id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        score, _, cid = text.partition(".")
        if not (score.isascii() and score.isdigit() and len(score) <= 16
                and 0 < len(cid) <= 64 and cid.isascii() and cid.isalnum()):
            raise BadCursor(text)
        return cls(int(score), cid)


@dataclass(frozen=True)
class QueuePage:
    items: list[tuple[Waiting, int | None]]  # (case, counselor an offer is out to)
    total: int  # waiting and offered
    by_urgency: dict[str, int]
    next: Cursor | None  # None: this was the last page

    def oldest_ms(self) -> int | None:
        return min((w.enqueued_ms for w, _ in self.items), default=None)


def _key(w: Waiting) -> tuple[int, str]:
    return queue_score(w.urgency, w.enqueued_ms), w.conversation_id


async def page(redis: Redis, keys: Keys, limit: int, after: Cursor | None = None) -> QueuePage:
    """Up to `limit` unassigned cases after `after`, best first, with the totals."""
    low = after.score if after else 0
    async with redis.pipeline(transaction=True) as p:
        p.zrangebyscore(keys.queue, low, "+inf", start=0, num=limit + _TIE_SLACK,
                        withscores=True)
        p.hgetall(keys.offer)
        for u in Urgency:
            p.zcount(keys.queue, u.rank * RANK_SPAN_MS, (u.rank + 1) * RANK_SPAN_MS - 1)
        raw: Any = await p.execute()
    head, offers, counts = raw[0], raw[1], raw[2:]
    cut = (after.score, after.conversation_id) if after else (-1, "")
    ids = [str(c) for c, s in head if (int(s), str(c)) > cut]
    offered = {str(c): int(a) for c, a in offers.items()}
    wanted = ids[:limit + 1] + list(offered)
    metas: Any = await redis.hmget(keys.queue_meta, wanted) if wanted else []
    meta = {c: m for c, m in zip(wanted, metas, strict=True) if m is not None}
    items: list[tuple[Waiting, int | None]] = [
        (Waiting.decode(c, meta[c]), None) for c in ids[:limit + 1] if c in meta]
    by_urgency = {u.value: int(n) for u, n in zip(Urgency, counts, strict=True)}
    for c, counselor in offered.items():
        if c in meta:
            w = Waiting.decode(c, meta[c])
            by_urgency[w.urgency.value] += 1
            if _key(w) > cut:
                items.append((w, counselor))
    items.sort(key=lambda x: _key(x[0]))
    more = len(items) > limit
    items = items[:limit]
    last = _key(items[-1][0]) if more and items else None
    return QueuePage(items, sum(by_urgency.values()), by_urgency,
                     Cursor(*last) if last else None)


@dataclass(frozen=True)
class StaffPage:
    people: list[StaffState]
    total: int
    present: int  # heartbeat within the presence TTL
    next: int | None  # the last id of this page when there are more


async def people(redis: Redis, keys: Keys, limit: int, after: int, present_since_ms: int
                 ) -> StaffPage:
    """Up to `limit` counselors with ids above `after`, by id, with the floor's totals: the
    routing state of a page only, not of every counselor."""
    async with redis.pipeline(transaction=True) as p:
        p.smembers(keys.staff_ids)
        p.zcount(keys.presence, present_since_ms, "+inf")
        members, present = await p.execute()
    ids = sorted(i for i in (int(m) for m in members) if i > after)
    page_ids = [str(i) for i in ids[:limit]]
    if not page_ids:
        return StaffPage([], len(members), int(present), None)
    async with redis.pipeline(transaction=True) as p:
        for aid in page_ids:
            p.hgetall(keys.staff_hash(aid))
        p.zmscore(keys.presence, page_ids)
        p.hmget(keys.load, page_ids)
        res: Any = await p.execute()
    beats, loads = res[-2], res[-1]
    found = [staff_state(int(aid), h, int(b or 0), int(n or 0))
             for aid, h, b, n in zip(page_ids, res[:-2], beats, loads, strict=True)]
    return StaffPage(found, len(members), int(present),
                     int(page_ids[-1]) if len(ids) > limit else None)


async def offers_to(redis: Redis, keys: Keys, counselor_id: int
                    ) -> list[tuple[Waiting, int | None]]:
    """The cases offered to one counselor, best first, with each offer's deadline (ms)."""
    offers: Any = await redis.hgetall(keys.offer)
    ids = [str(c) for c, a in offers.items() if int(a) == counselor_id]
    if not ids:
        return []
    async with redis.pipeline(transaction=True) as p:
        p.hmget(keys.queue_meta, ids)
        p.zmscore(keys.offers, ids)
        metas, deadlines = await p.execute()
    found = [(Waiting.decode(c, m), int(d) if d is not None else None)
             for c, m, d in zip(ids, metas, deadlines, strict=True) if m is not None]
    return sorted(found, key=lambda x: _key(x[0]))


async def offered(redis: Redis, keys: Keys) -> list[Waiting]:
    """Every case out on offer now (at most the floor's capacity)."""
    ids: Any = await redis.hkeys(keys.offer)
    if not ids:
        return []
    metas: Any = await redis.hmget(keys.queue_meta, ids)
    return [Waiting.decode(str(c), m) for c, m in zip(ids, metas, strict=True) if m is not None]
