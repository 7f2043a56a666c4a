"""The live store: queue order, who holds what, counselor load and presence, in Redis.

Atomic steps are Lua scripts (hotline/stores/live/lua), so two server instances sharing one
Redis never hand one conversation to two counselors. SQL stays the truth; `rebuild` restores
this state from it. See docs/stores.md.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from hotline.domain.conversation import Channel, Urgency, queue_score
from hotline.stores.live.keys import PRESENCE_TTL_S, Keys


def _lua(name: str) -> str:
    return resources.files("hotline.stores.live").joinpath("lua", name).read_text()


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Waiting:
    """One waiting conversation as the queue knows it (no text, no address)."""

    conversation_id: str
    channel: Channel
    language: str
    urgency: Urgency
    enqueued_ms: int

    def encode(self) -> str:
        return f"{self.channel}|{self.language}|{self.urgency}|{self.enqueued_ms}"

    @classmethod
    def decode(cls, conversation_id: str, meta: str) -> Waiting:
        channel, language, urgency, enqueued = meta.split("|")
        return cls(conversation_id, Channel(channel), language, Urgency(urgency), int(enqueued))


@dataclass(frozen=True)
class ClaimResult:
    status: str  # ok | full | empty | gone
    waiting: Waiting | None = None


class LiveStore:
    """Queue, ownership, load and presence operations over one Redis client."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._take_next = redis.register_script(_lua("take_next.lua"))
        self._claim = redis.register_script(_lua("claim.lua"))
        self._release = redis.register_script(_lua("release.lua"))

    async def enqueue(self, item: Waiting) -> None:
        """Put a conversation in the queue (idempotent: re-adding keeps one entry)."""
        k = self.keys
        async with self.redis.pipeline(transaction=True) as p:
            p.zadd(k.queue, {item.conversation_id: queue_score(item.urgency, item.enqueued_ms)})
            p.hset(k.queue_meta, item.conversation_id, item.encode())
            await p.execute()

    async def remove(self, conversation_id: str) -> None:
        """Take a conversation out of the queue (closed while waiting)."""
        k = self.keys
        async with self.redis.pipeline(transaction=True) as p:
            p.zrem(k.queue, conversation_id)
            p.hdel(k.queue_meta, conversation_id)
            await p.execute()

    async def take_next(self, counselor_id: int, languages: tuple[str, ...], capacity: int,
                        scan_limit: int = 500) -> ClaimResult:
        """Atomically claim the best waiting conversation in one of `languages`."""
        k = self.keys
        langs = "|" + "|".join(languages) + "|"
        res: list[Any] = await self._take_next(
            keys=[k.queue, k.queue_meta, k.owner, k.load],
            args=[counselor_id, capacity, scan_limit, langs],
        )
        status = _s(res[0])
        if status != "ok":
            return ClaimResult(status)
        return ClaimResult("ok", Waiting.decode(_s(res[1]), _s(res[2])))

    async def claim(self, conversation_id: str, counselor_id: int, capacity: int) -> ClaimResult:
        """Atomically claim one named waiting conversation."""
        k = self.keys
        res: list[Any] = await self._claim(
            keys=[k.queue, k.queue_meta, k.owner, k.load],
            args=[conversation_id, counselor_id, capacity],
        )
        status = _s(res[0])
        if status != "ok":
            return ClaimResult(status)
        meta = _s(res[1])
        return ClaimResult("ok", Waiting.decode(conversation_id, meta) if meta else None)

    async def release(self, conversation_id: str) -> int | None:
        """Free the holder's capacity for a conversation; returns who held it."""
        k = self.keys
        holder = await self._release(keys=[k.owner, k.load], args=[conversation_id])
        return int(holder) if holder else None

    async def set_owner(self, conversation_id: str, counselor_id: int) -> None:
        """Record an owner without capacity checks (used to undo a failed release)."""
        k = self.keys
        async with self.redis.pipeline(transaction=True) as p:
            p.hset(k.owner, conversation_id, str(counselor_id))
            p.hincrby(k.load, str(counselor_id), 1)
            await p.execute()

    async def waiting(self) -> list[Waiting]:
        """Every waiting conversation, best first."""
        k = self.keys
        async with self.redis.pipeline(transaction=True) as p:
            p.zrange(k.queue, 0, -1)
            p.hgetall(k.queue_meta)
            ids, meta = await p.execute()
        out = []
        for raw in ids:
            cid = _s(raw)
            m = meta.get(raw) or meta.get(cid)
            if m:
                out.append(Waiting.decode(cid, _s(m)))
        return out

    async def load_of(self, counselor_id: int) -> int:
        return int(await self.redis.hget(self.keys.load, str(counselor_id)) or 0)

    async def heartbeat(self, counselor_id: int) -> None:
        """Mark a counselor present now (the console calls this while a tab is open)."""
        await self.redis.zadd(self.keys.presence, {str(counselor_id): now_ms()})

    async def present(self) -> set[int]:
        """Counselors whose console sent a heartbeat within PRESENCE_TTL_S."""
        cutoff = now_ms() - PRESENCE_TTL_S * 1000
        await self.redis.zremrangebyscore(self.keys.presence, "-inf", cutoff)
        return {int(_s(m)) for m in await self.redis.zrange(self.keys.presence, 0, -1)}

    async def has_epoch(self) -> bool:
        return bool(await self.redis.exists(self.keys.epoch))

    async def rebuild(self, waiting: list[Waiting], owners: dict[str, int]) -> None:
        """Replace queue, ownership and load with the given truth from SQL, atomically."""
        k = self.keys
        loads: dict[FieldT, EncodableT] = dict(Counter(str(c) for c in owners.values()))
        async with self.redis.pipeline(transaction=True) as p:
            p.delete(k.queue, k.queue_meta, k.owner, k.load)
            if waiting:
                p.zadd(k.queue, {w.conversation_id: queue_score(w.urgency, w.enqueued_ms)
                                 for w in waiting})
                p.hset(k.queue_meta, mapping={w.conversation_id: w.encode() for w in waiting})
            if owners:
                p.hset(k.owner, mapping={c: str(o) for c, o in owners.items()})
                p.hset(k.load, mapping=loads)
            p.set(k.epoch, str(now_ms()))
            await p.execute()


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
