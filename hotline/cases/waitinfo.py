"""What a waiting victim is told, the same on every channel: their place in line, a wait
estimate from recent handling times, whether anyone suitable is on duty at all, and emergency
numbers when the case is critical. The words are the `wait_status` prompt. See docs/routing.md.

With Redis unreachable the place and the estimate cannot be read: the wait is "unknown"
(position None), which the prompt turns into a plain acknowledgement (the message is saved, a
counselor will answer), still with the emergency numbers for a critical case (read from SQL).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy import select

from hotline.cases.live import LiveStore
from hotline.cases.tables import conversations, intake_records
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Urgency
from hotline.domain.routing import Coverage, StaffState, wait_estimate_s
from hotline.shared_read import NextReads

log = logging.getLogger(__name__)

# Recent handling times are read from SQL at most this often per process.
_HANDLING_CACHE_S = 60.0
_RECENT = 50
_cache: dict[int, tuple[float, list[int]]] = {}
# The staff reads, shared by the callers asking together, per live store (see staff_now), and
# the coverage of every language and channel the estimates use (see _coverage_now). An
# estimate may use who was on the floor a second ago: under a surge every SMS answered with
# its wait asked, and the reads of 1,000 counselors' states ran back to back (in the surge
# bench 3% of the server's samples, 6% of its loop's), then at most one a second, now worked
# out in Redis (LiveStore.coverage): no counselor read or decoded on the loop.
STAFF_FRESH_S = 1.0
Covered = dict[tuple[str, Channel], tuple[Coverage, int]]
_coverage_reads: NextReads[LiveStore, None, Covered] = NextReads(STAFF_FRESH_S)
_staff_reads: NextReads[LiveStore, None, list[StaffState]] = NextReads(STAFF_FRESH_S)


@dataclass(frozen=True)
class WaitInfo:
    position: int | None  # None: unknown (the live queue could not be read)
    minutes: int | None
    coverage: Coverage
    critical: bool

    def prompt_values(self, callback: bool = False) -> dict[str, object]:
        """Values for the wait_status prompt; `callback`: the channel can take a call-back
        request from here (SMS and phone, when the phone channel is on)."""
        return {"position": self.position, "minutes": self.minutes,
                "coverage": self.coverage.value, "critical": self.critical,
                "callback": callback}


async def _recent_handling(deps: Deps) -> list[int]:
    key = id(deps.engine)
    hit = _cache.get(key)
    if hit and time.monotonic() - hit[0] < _HANDLING_CACHE_S:
        return hit[1]
    async with deps.engine.connect() as conn:
        # A case closed because the victim left was never really handled.
        rows = await conn.execute(select(intake_records.c.handling_seconds)
                                  .where(intake_records.c.outcome != "abandoned")
                                  .order_by(intake_records.c.id.desc()).limit(_RECENT))
        found = [int(r[0]) for r in rows if r[0] > 0]
    _cache[key] = (time.monotonic(), found)
    return found


async def wait_info(deps: Deps, conversation_id: str) -> WaitInfo | None:
    """The wait of one waiting (or offered) case; None if it is not waiting. An unknown wait
    (position None) when Redis cannot be read: callers ask only about a case SQL has waiting."""
    try:
        # Both reads at once: on a quiet line every round trip is the victim's wait.
        found, covered = await asyncio.gather(deps.live.place(conversation_id),
                                              _coverage_now(deps))
    except (RedisError, OSError) as e:
        log.warning("wait not readable; plain acknowledgement",
                    extra={"conversation": conversation_id, "error": type(e).__name__})
        return await _unknown(deps, conversation_id)
    if found is None:
        return None
    mine, position = found
    group = (mine.language, mine.channel)
    if group not in covered:  # a language no longer among languages.supported
        covered = await deps.live.coverage([group])
    cov, servers = covered[group]
    est = wait_estimate_s(position, await _recent_handling(deps), servers)
    minutes = None if est is None or cov == Coverage.GAP else max(1, round(est / 60))
    return WaitInfo(position, minutes, cov, mine.urgency == Urgency.CRITICAL)


async def _coverage_now(deps: Deps) -> Covered:
    """routing.serving of every supported language and channel, one read (in Redis) shared by
    the estimates asked together or within STAFF_FRESH_S of its start."""
    return await _coverage_reads.of(deps.live, lambda _: deps.live.coverage(
        [(lang, chan) for lang in deps.config.languages.supported for chan in Channel])
    ).get(None)


async def staff_now(live: LiveStore) -> list[StaffState]:
    """Every counselor's state, one read at a time, shared by the callers that asked for it
    together or within STAFF_FRESH_S of its start (shared_read.NextRead): the case page's
    colleagues (a hundred reads of 1,000 hashes at once held 200 MB and most of the loop)."""
    return await _staff_reads.of(live, lambda _: live.staff_states()).get(None)


async def _unknown(deps: Deps, conversation_id: str) -> WaitInfo | None:
    async with deps.engine.connect() as conn:
        level = (await conn.execute(select(conversations.c.urgency).where(
            conversations.c.id == conversation_id))).scalar_one_or_none()
    if level is None:
        return None
    return WaitInfo(None, None, Coverage.OK, level == Urgency.CRITICAL.value)
