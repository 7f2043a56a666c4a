"""The router: offers waiting cases to the best counselor, times offers out, watches coverage.

One instance routes at a time (a short Redis lock); every offer itself is an atomic Lua step
that re-checks eligibility, so a stale snapshot can never over-assign. Offer mode only; in pull
mode the router still expires offers and watches coverage. See docs/routing.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from hotline.cases import alerts, casework, floor_queries, paging
from hotline.cases.live import now_ms
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Urgency
from hotline.domain.event_types import EventType
from hotline.domain.routing import (
    Coverage,
    RoutingMode,
    StaffState,
    full,
    rank_staff,
    why_not,
)
from hotline.domain.staff import Staff
from hotline.jobs import pause, release_lease, take_lease
from hotline.staff import exposure

log = logging.getLogger(__name__)

# How often the router looks at the queue when nothing wakes it sooner.
TICK_S = 1.0
# Passes woken by events are at least this far apart: a burst of new conversations (each one
# wakes the router) is routed in one pass instead of one pass per conversation, at the cost of
# a new case waiting up to this much longer for its offer.
WAKE_GAP_S = 0.05


@dataclass
class RouteReport:
    offered: list[tuple[str, int]] = field(default_factory=list)
    expired: list[tuple[str, int]] = field(default_factory=list)
    coverage: dict[str, str] = field(default_factory=dict)


async def expire_offers(deps: Deps, at_ms: int, report: RouteReport) -> None:
    for cid in await deps.live.expired_offers(at_ms):
        res = await deps.live.unoffer(cid)
        if res is None:
            continue
        counselor, misses = res
        report.expired.append((cid, counselor))
        await _after_miss(deps, cid, counselor, misses, EventType.OFFER_EXPIRED)


async def _after_miss(deps: Deps, cid: str, counselor: int, misses: int, kind: str) -> None:
    await deps.publish({"type": kind, "conversation": cid, "counselor": counselor,
                        "misses": misses})
    log.info(kind, extra={"conversation": cid, "counselor": counselor, "misses": misses})
    if misses >= deps.rules.miss_alert_after:
        await alerts.raise_lead_alert(deps, cid, "repeated_misses")


async def make_offers(deps: Deps, at_ms: int, report: RouteReport, staff: list[StaffState]
                      ) -> None:
    """Offer each waiting case, best first, to the best eligible counselor not yet tried
    (`staff`: the state of those who could take a case, read at the start of the pass; the
    rule is applied here again, case by case)."""
    rules = deps.rules
    # Counselors first: with nobody free (the common state of a busy night) the queue is not
    # read at all.
    people = {a.id: a for a in staff
              if why_not(a, None, at_ms, rules, skip_capacity=True) is None and not full(a)}
    if not people:
        return
    waiting = await deps.live.head(rules.scan_limit)
    if not waiting:
        return
    async with deps.redis.pipeline(transaction=False) as p:
        for w in waiting:
            p.smembers(deps.keys.declined(w.conversation_id))
        declined_sets: list[Any] = await p.execute()
    deadline = at_ms + rules.offer_timeout_s * 1000
    # Counselors at an exposure cap get no new critical offers (docs/staff.md).
    capped: frozenset[int] = frozenset()
    if any(w.urgency == Urgency.CRITICAL for w in waiting):
        capped = await exposure.capped(deps)
    for w, declined in zip(waiting, declined_sets, strict=True):
        exclude = frozenset(int(x) for x in declined)
        if w.urgency == Urgency.CRITICAL:
            exclude |= capped
        for person in rank_staff(people.values(), w.item(), at_ms, rules, exclude):
            res = await deps.live.offer(w.conversation_id, person.id, deadline, at_ms=at_ms)
            if res.ok:
                people[person.id] = replace(person, load=person.load + 1)
                report.offered.append((w.conversation_id, person.id))
                await deps.publish({"type": EventType.OFFERED, "conversation": w.conversation_id,
                                    "counselor": person.id, "deadline_ms": deadline,
                                    "urgency": w.urgency.value})
                break


async def watch_coverage(deps: Deps, at_ms: int, report: RouteReport) -> None:
    """Alert the leads when a language/channel with waiting cases loses its cover.

    Which groups have cases waiting comes from SQL's count per group (an index of the waiting
    cases, a few rows whatever the queue's length) less the cases out on offer: before, the
    whole live queue was read and decoded every second (at 10,000 waiting, a stall of the
    loop each time). Their coverage is worked out in Redis (LiveStore.coverage): before, every
    counselor's state was read and decoded here each second."""
    async with deps.reads.connect() as conn:
        counts = Counter[tuple[str, Channel]]()
        for g in await floor_queries.waiting_groups(conn):
            counts[(g.language, g.channel)] += g.count
    # A case out on offer is covered for now.
    counts.subtract((w.language, w.channel) for w in await paging.offered(deps.redis, deps.keys))
    groups = sorted(g for g, n in counts.items() if n > 0)
    states = await deps.live.coverage(groups, at_ms) if groups else {}
    previous: Any = await deps.redis.hgetall(deps.keys.coverage)
    current: dict[FieldT, EncodableT] = {}
    for lang, chan in groups:
        key = f"{lang}|{chan.value}"
        state = states[(lang, chan)][0]
        current[key] = state.value
        if state != Coverage.OK and previous.get(key) != state.value:
            async with deps.reads.connect() as conn:
                oldest = await floor_queries.oldest_waiting(conn, lang, chan)
            if oldest is None:
                continue  # taken meanwhile
            await deps.publish({"type": EventType.COVERAGE, "language": lang, "channel": chan.value,
                                "state": state.value})
            log.warning("coverage", extra={"language": lang, "channel": chan.value,
                                           "state": state.value})
            await alerts.raise_lead_alert(deps, oldest, f"coverage_{state}")
    async with deps.redis.pipeline(transaction=True) as p:
        p.delete(deps.keys.coverage)
        if current:
            p.hset(deps.keys.coverage, mapping=current)
        await p.execute()
    report.coverage = {str(k): str(v) for k, v in current.items()}


async def route_once(deps: Deps, at_ms: int | None = None,
                     with_coverage: bool = True) -> RouteReport:
    """One routing pass; the caller holds the router lock."""
    at = now_ms() if at_ms is None else at_ms
    report = RouteReport()
    await expire_offers(deps, at, report)
    if deps.rules.mode == RoutingMode.OFFER:
        # Only who could take a case is read (at a surge, with everyone at capacity, nobody):
        # every counselor's state was read and decoded on each pass, several a second when
        # new cases wake the router (1,000 counselors: a stall of the loop each time).
        await make_offers(deps, at, report,
                          await deps.live.staff_states(free_only=True, at_ms=at))
    if with_coverage:
        # After the offers: their counselors' loads count.
        await watch_coverage(deps, at, report)
    return report


async def run_router(deps: Deps, stop: asyncio.Event, wake: asyncio.Event) -> None:
    """Forever: a routing pass every TICK_S, or sooner when `wake` is set.

    Coverage is checked once per TICK_S, not on every wake (a burst of new conversations
    wakes the router once each)."""
    last_coverage = 0.0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        with contextlib.suppress(RedisError, OSError):
            lock = deps.keys.job_lock("router")
            if (token := await take_lease(deps.redis, lock, int(TICK_S * 3000))) is not None:
                try:
                    due = loop.time() - last_coverage >= TICK_S
                    await route_once(deps, with_coverage=due)
                    if due:
                        last_coverage = loop.time()
                finally:
                    await release_lease(deps.redis, lock, token)
        await pause(stop, WAKE_GAP_S)  # a wake meanwhile stays set for the next pause
        await pause(stop, TICK_S - WAKE_GAP_S, wake)


async def accept(deps: Deps, staff: Staff, conversation_id: str) -> None:
    """The counselor accepts an offer made to them; CaseConflict if it is gone."""
    res = await deps.live.accept(conversation_id, staff.id)
    if not res.ok:
        raise casework.CaseConflict("offer no longer open")
    if not await casework.commit_assignment(deps, staff.id, conversation_id, how="offer",
                                            actor_id=staff.id):
        raise casework.CaseConflict("no longer waiting")


async def decline(deps: Deps, staff: Staff, conversation_id: str) -> None:
    """The counselor declines an offer; the case goes to the next counselor."""
    res = await deps.live.unoffer(conversation_id, staff.id)
    if res is None:
        raise casework.CaseConflict("offer no longer open")
    await _after_miss(deps, conversation_id, staff.id, res[1], EventType.OFFER_DECLINED)
