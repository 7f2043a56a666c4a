"""Throttle counts (hotline/domain/throttle.py) in Redis, shared by every instance; while Redis
does not answer, in this process.

Redis applies each reservation atomically with a Lua script. When a call fails the counts move
to this process for RETRY_S (then one call tries Redis again): a Redis outage never stops the
login limiter, it only makes it per process. The local counts are bounded in number, so a flood
of new addresses cannot grow the process without limit. See docs/console.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hotline.domain import throttle as rule
from hotline.domain.throttle import Policy, Slot

log = logging.getLogger(__name__)

T = TypeVar("T")

# After Redis failed, counts stay in this process this long before one call tries Redis again.
RETRY_S = 5.0
# Most keys (and marks) this process holds while Redis is away; the oldest make room.
MAX_LOCAL_KEYS = 100_000
# A full local table is swept for forgotten keys at most this often.
_SWEEP_EVERY_S = 60.0


def _lua(name: str) -> str:
    return resources.files("hotline.stores.live").joinpath("lua", name).read_text()


class LocalThrottle:
    """The same counts in one process's memory (the fallback)."""

    def __init__(self, policy: Policy, max_keys: int = MAX_LOCAL_KEYS) -> None:
        self.policy = policy
        self._slots: dict[str, Slot] = {}
        self._marks: dict[str, int] = {}
        self._max = max_keys
        self._swept = 0.0

    def reserve(self, keys: Sequence[str], now_ms: int, gate: str | None = None,
                fresh: str | None = None) -> tuple[int, tuple[str, ...]]:
        gate_slot = self.slot(gate) if gate is not None else Slot()
        chosen = rule.pick(tuple(keys), fresh, gate_slot, now_ms)
        wait, after = rule.reserve_all(tuple(self.slot(k) for k in chosen), now_ms,
                                       self.policy, gate_slot)
        if not wait:
            for k, s in zip(chosen, after, strict=True):
                self._put(self._slots, k, s, now_ms)
        return wait, chosen

    def count(self, keys: Sequence[str], now_ms: int) -> None:
        for k in keys:
            self._put(self._slots, k, rule.reserve(self.slot(k), now_ms, self.policy), now_ms)

    def refund(self, keys: Sequence[str], now_ms: int) -> None:
        for k in keys:
            if k in self._slots:
                self._slots[k] = rule.refund(self._slots[k], now_ms)

    def forget(self, keys: Sequence[str]) -> None:
        for k in keys:
            self._slots.pop(k, None)

    def slot(self, key: str) -> Slot:
        """The state held for `key` (empty if none)."""
        return self._slots.get(key, Slot())

    def __len__(self) -> int:
        return len(self._slots) + len(self._marks)

    def mark(self, key: str, ttl_ms: int, now_ms: int) -> None:
        self._put(self._marks, key, now_ms + ttl_ms, now_ms)

    def marked(self, key: str, now_ms: int) -> bool:
        return self._marks.get(key, 0) > now_ms

    def _put(self, table: dict[str, T], key: str, value: T, now_ms: int) -> None:
        table.pop(key, None)  # re-inserted last: the oldest entries come first
        if len(self) >= self._max:
            self._sweep(now_ms)
        while len(self) >= self._max:
            victim = self._slots if len(self._slots) >= len(self._marks) else self._marks
            del victim[next(iter(victim))]
        table[key] = value

    def _sweep(self, now_ms: int) -> None:
        if time.monotonic() - self._swept < _SWEEP_EVERY_S:
            return
        self._swept = time.monotonic()
        # In place: a caller may hold one of the tables.
        for k in [k for k, s in self._slots.items() if now_ms >= s.forget_ms]:
            del self._slots[k]
        for k in [k for k, t in self._marks.items() if now_ms >= t]:
            del self._marks[k]


class Throttle:
    """Reserve, refund and forget attempts on throttle keys; mark and test "known" keys."""

    def __init__(self, redis: Redis, policy: Policy) -> None:
        self.policy = policy
        self.local = LocalThrottle(policy)
        self._redis = redis
        self._script = redis.register_script(_lua("throttle_reserve.lua"))
        self._refund = redis.register_script(_lua("throttle_refund.lua"))
        self._forget_ms = round(policy.forget_s * 1000)
        self._schedule = policy.schedule_ms()
        # 0: Redis is in use; otherwise the monotonic time until which counts stay local.
        self._down_until = 0.0

    async def reserve(self, keys: Sequence[str], now_ms: int, gate: str | None = None,
                      fresh: str | None = None) -> tuple[int, tuple[str, ...]]:
        """Count an attempt on every key, or on none if any key or the gate must still be
        waited for (domain/throttle.py pick, reserve_all): the wait (ms; 0 when counted) and
        the keys it counts on. `fresh` needs a gate."""
        if fresh is not None and gate is None:
            raise ValueError("a fresh key needs a gate")
        flags = ("g" if gate else "") + ("f" if fresh else "")
        all_keys = [*([gate] if gate else []), *keys, *([fresh] if fresh else [])]

        async def on_redis() -> tuple[int, tuple[str, ...]]:
            wait, used_fresh = await self._script(
                keys=all_keys, args=[now_ms, self._forget_ms, flags, *self._schedule])
            return int(wait), ((*keys[:-1], fresh) if fresh and used_fresh else tuple(keys))
        return await self._either(on_redis,
                                  lambda: self.local.reserve(keys, now_ms, gate, fresh))

    async def count(self, keys: Sequence[str], now_ms: int) -> None:
        """Count a failure on every key, whatever its wait (a gate's failure, once known)."""
        async def on_redis() -> None:
            await self._script(keys=list(keys),
                               args=[now_ms, self._forget_ms, "c", *self._schedule])
        await self._either(on_redis, lambda: self.local.count(keys, now_ms))

    async def refund(self, keys: Sequence[str], now_ms: int) -> None:
        """A counted attempt succeeded."""
        async def on_redis() -> None:
            await self._refund(keys=list(keys), args=[])
        await self._either(on_redis, lambda: self.local.refund(keys, now_ms))

    async def forget(self, keys: Sequence[str]) -> None:
        """Drop every count of these keys."""
        async def on_redis() -> None:
            await self._redis.delete(*keys)
        await self._either(on_redis, lambda: self.local.forget(keys))

    async def mark(self, key: str, ttl_ms: int, now_ms: int) -> None:
        async def on_redis() -> None:
            await self._redis.set(key, "1", px=ttl_ms)
        await self._either(on_redis, lambda: self.local.mark(key, ttl_ms, now_ms))

    async def marked(self, key: str, now_ms: int) -> bool:
        async def on_redis() -> bool:
            return bool(await self._redis.exists(key))
        return await self._either(on_redis, lambda: self.local.marked(key, now_ms))

    async def _either(self, on_redis: Callable[[], Awaitable[T]], on_local: Callable[[], T]
                      ) -> T:
        now = time.monotonic()
        if now < self._down_until:
            return on_local()
        was_down = self._down_until > 0
        if was_down:
            # This call tries Redis again; calls meanwhile stay local rather than all waiting.
            self._down_until = now + RETRY_S
        try:
            result = await on_redis()
        except (RedisError, OSError) as e:
            if not was_down:
                log.warning("login throttle counts in this process: Redis does not answer",
                            extra={"error": type(e).__name__})
            self._down_until = time.monotonic() + RETRY_S
            return on_local()
        if was_down:
            log.info("login throttle counts in Redis again")
        self._down_until = 0.0
        return result
