"""Token buckets in Redis for the flood limits: one script call checks and takes every bucket a
decision needs, on the Redis server's clock, so all instances count together (lua/bucket.lua).

Redis being unreachable or slow lets the action through: a limit must never be the reason a
victim's message is lost. See docs/limits.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hotline.config_limits import LimitsConfig
from hotline.stores.live.keys import Keys

log = logging.getLogger(__name__)

# The calm answer to a refused sender goes out at most once in this long.
FLOOD_NOTICE_TTL_S = 600

# A limit check waits this long for Redis, then lets the action through.
CHECK_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class Verdict:
    """A limit's answer: let through, or refused for `retry_after_s` (the calm answer goes out
    with the first refusal only)."""

    allowed: bool
    retry_after_s: int = 0
    first_refusal: bool = False


ALLOWED = Verdict(True)


class Buckets:
    """The flood limits' buckets under one key prefix, sized by the [limits] config."""

    def __init__(self, redis: Redis, keys: Keys, limits: LimitsConfig) -> None:
        self.redis = redis
        self.keys = keys
        self.limits = limits
        source = resources.files("hotline.stores.live").joinpath("lua", "bucket.lua")
        self._script = redis.register_script(source.read_text())

    async def take(self, buckets: Sequence[tuple[str, str]], *, notice: str | None = None
                   ) -> Verdict:
        """Take one token from each (limit name, subject) bucket, all or none. `notice`: a
        subject whose first refusal in a while is marked (Verdict.first_refusal)."""
        keys = [self.keys.flood(name, subject) for name, subject in buckets]
        args: list[int] = [len(buckets), FLOOD_NOTICE_TTL_S * 1000 if notice else 0]
        for name, _subject in buckets:
            rate = self.limits.rate(name)
            args += [rate.burst, rate.interval_ms]
        if notice:
            keys.append(self.keys.flood_notice(notice))
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                wait_ms, first = await self._script(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as e:
            log.warning("flood limit not checked; let through",
                        extra={"limit": buckets[0][0] if buckets else "",
                               "error": type(e).__name__})
            return ALLOWED
        if int(wait_ms) <= 0:
            return ALLOWED
        return Verdict(False, max(1, -(-int(wait_ms) // 1000)), bool(int(first)))

    async def first_notice(self, subject: str) -> bool:
        """Whether a refused subject (a banned sender) is due the calm answer: once in
        FLOOD_NOTICE_TTL_S. Without Redis, yes: an answer too many beats none."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                return bool(await self.redis.set(self.keys.flood_notice(subject), "1", nx=True,
                                                 ex=FLOOD_NOTICE_TTL_S))
        except (RedisError, OSError, TimeoutError):
            return True
