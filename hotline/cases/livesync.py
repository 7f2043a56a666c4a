"""Keeping Redis in step with SQL: a full rebuild at start or after Redis lost its data, and a
periodic repair of what drifted (a case that never reached the queue because Redis was down
when it arrived, or a claim whose SQL half never happened). Losing Redis loses nothing. The
embedded redis-server is watched: started again when it dies, then rebuilt from SQL.
See docs/stores.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from prometheus_client import Counter
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.cases import conversations as convs
from hotline.cases import floor_queries, staffing
from hotline.cases.live_records import Held, Waiting
from hotline.cases.scan import Walk, held_of
from hotline.deps import Deps
from hotline.domain.conversation import Status
from hotline.domain.event_types import EventType
from hotline.domain.routing import needs_for
from hotline.jobs import pause, release_lease, take_lease
from hotline.metrics import REGISTRY
from hotline.staff import accounts as staff_store
from hotline.stores.live.embedded import EmbeddedRedis
from hotline.stores.live.keys import JOB_LOCK_MARGIN_S

log = logging.getLogger(__name__)

EMBEDDED_RESTARTS = Counter("hotline_embedded_redis_restarts",
                            "Times the embedded redis-server died and was started again",
                            registry=REGISTRY)
# How often the embedded redis-server is looked at (a waitpid, no I/O).
WATCH_S = 0.2


def as_waiting(row: convs.ConversationRow) -> Waiting:
    """The queue's view of a conversation row."""
    return Waiting(row.id, row.channel, row.language, row.urgency,
                   int(row.enqueued_at.timestamp() * 1000), needs_for(row.reasons))


async def rebuild(deps: Deps) -> int:
    """Replace queue, offers, ownership, load and counselor windows with SQL's truth; restore
    the statuses counselors chose where Redis lost them (see LiveStore.rebuild)."""
    now = datetime.now(UTC)
    async with deps.engine.connect() as conn:
        rows = await convs.open_conversations(conn)
        profiles = await staffing.profiles(conn, now)
        statuses = await staff_store.presence_statuses(conn)
    waiting = {r.id for r in rows if r.status == Status.WAITING}
    owners = {r.id: r.counselor_id for r in rows
              if r.status == Status.ACTIVE and r.counselor_id is not None}
    await deps.live.rebuild([as_waiting(r) for r in rows], waiting, owners, profiles, statuses)
    log.info("live state rebuilt from sql", extra={"waiting": len(waiting),
                                                  "active": len(owners)})
    await deps.publish({"type": EventType.RESET})
    return len(rows)


# How long a starting instance waits for another one's rebuild before doing its own.
_REBUILD_WAIT_S = 30.0


async def at_start(deps: Deps) -> str:
    """At start-up: rebuild from SQL only when Redis lost its state (no epoch marker), once
    across instances; otherwise refresh the counselors' routing profiles and keep the rest.

    A full rebuild while another instance serves (a rolling restart) could undo a claim it
    made between our SQL read and our Redis write; drift is the reconciler's job, which acts
    only on what two passes in a row see. Returns "rebuilt" or "kept"."""
    lock = deps.keys.job_lock("rebuild")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _REBUILD_WAIT_S
    while not await deps.live.has_epoch():
        if (token := await take_lease(deps.redis, lock, int(_REBUILD_WAIT_S * 1000))) is not None:
            try:
                if not await deps.live.has_epoch():
                    await rebuild(deps)
                    return "rebuilt"
            finally:
                await release_lease(deps.redis, lock, token)
        elif loop.time() > deadline:
            # The instance holding the lock died mid-rebuild: do it ourselves.
            await rebuild(deps)
            return "rebuilt"
        else:
            await asyncio.sleep(0.1)
    await staffing.sync_all(deps)
    return "kept"


async def release_closed(deps: Deps, conversation_id: str, when: str) -> None:
    """After SQL has closed a case: let go of what Redis holds of it (queue entry, offer,
    holder's load and call flag). Redis being down is logged, not raised: the reconciler
    releases it later (closed in SQL, still in Redis, two passes in a row)."""
    try:
        await deps.live.release(conversation_id)
    except (RedisError, OSError) as e:
        log.warning("live state of a closed case not released; reconciler will fix it",
                    extra={"conversation": conversation_id, "when": when,
                           "error": type(e).__name__})


# Up to this many open cases a pass reads them all; above, one range of ids of about this
# many, and a chunk of what Redis holds (a full turn takes open/SLICE_ROWS passes).
SLICE_ROWS = 1000
_MAX_SLICES = 256
# A range is read in this many parts (id_range's ranges nest: the parts are its k*P..k*P+P-1
# of n*P).
_PARTS = 8
_PART_ROWS = SLICE_ROWS // _PARTS


def id_range(k: int, n: int) -> tuple[str, str | None]:
    """The k-th of n ranges of conversation ids (hex uuids; other ids fall in the ends)."""
    low = "" if k == 0 else f"{k * 65536 // n:04x}"
    return low, None if k == n - 1 else f"{(k + 1) * 65536 // n:04x}"


class Reconciler:
    """Finds where Redis and SQL disagree and makes Redis agree.

    A disagreement is only acted on when two passes in a row see it: a claim or reassignment is
    written to Redis a moment before SQL, and that moment must not count as drift; nor must a
    case that opened between a pass's SQL read and its Redis read, which is in Redis only.

    Bounded per pass: on a large floor a pass reads one range of open ids from SQL and a chunk
    of what Redis holds (scan.Walk), plus, by id, whatever the pass before suspected, so a
    suspect is still acted on at the next pass. Before, every pass read every open case from
    SQL and the whole live queue (10,000 waiting: a stall of the loop every 5 s).
    """

    def __init__(self, deps: Deps, slice_rows: int = SLICE_ROWS) -> None:
        self.deps = deps
        self.slice_rows = slice_rows
        self.suspects: set[str] = set()
        # Ids in Redis that were not open in SQL on the last pass (see `once`).
        self.strays: set[str] = set()
        self.walk = Walk()
        self.turn = 0  # passes so far: which range of ids the next one reads

    def _forget(self) -> None:
        self.suspects.clear()
        self.strays.clear()

    async def once(self) -> str:
        """One check: 'rebuilt' if Redis lost its state or ownership drifted, 'repaired:N'
        (cases re-queued plus closed cases released), or 'ok'."""
        deps = self.deps
        lock = deps.keys.job_lock("reconcile")
        period = max(1, int(deps.config.storage.reconcile_seconds) - JOB_LOCK_MARGIN_S)
        if not await deps.redis.set(lock, "1", nx=True, ex=period):
            return "ok"
        if not await deps.live.has_epoch():
            await rebuild(deps)
            self._forget()
            return "rebuilt"
        rows, in_redis, held = await self._read()
        queued, offered, owners = held.queued, held.offered, held.owners
        lost: list[convs.ConversationRow] = []
        drifted = False
        seen: set[str] = set()
        for r in rows.values():
            if r.status == Status.WAITING and r.id not in queued and r.id not in offered:
                seen.add(r.id)
                if r.id in self.suspects:
                    lost.append(r)
            elif r.status == Status.ACTIVE and owners.get(r.id) != r.counselor_id:
                seen.add(r.id)
                drifted = drifted or r.id in self.suspects
        self.suspects = seen
        # Queued, offered or held in Redis but closed (or erased) in SQL: the release after the
        # SQL commit failed, and the case would keep its place in the queue, or its holder's
        # load and call flag, for ever. Read after SQL, so a case opened in between is here too,
        # for one pass only.
        strays = (in_redis & set(held.anywhere)) - set(rows)
        closed = sorted(strays & self.strays)
        self.strays = strays
        if drifted:
            # SQL says someone holds a case and Redis disagrees: SQL wins, wholesale.
            await rebuild(deps)
            self._forget()
            return "rebuilt"
        return await self._repair(lost, closed, owners)

    async def _read(self) -> tuple[dict[str, convs.ConversationRow], set[str], Held]:
        """The open cases this pass looks at (SQL, first), the ids Redis holds among those it
        looks at, and what Redis holds of all of them."""
        deps = self.deps
        async with deps.reads.connect() as conn:
            slices = min(_MAX_SLICES, -(-await floor_queries.count_open(conn) // self.slice_rows))
            if slices <= 1:
                found = await convs.open_conversations(conn)
        if slices > 1:
            ranges = [id_range(self.turn % slices * _PARTS + part, slices * _PARTS)
                      for part in range(_PARTS)]
            found = await _apart(deps.reads, [
                functools.partial(floor_queries.open_in_range, low=low, high=high)
                for low, high in ranges])
        rows = {r.id: r for r in found}
        again = sorted((self.suspects | self.strays) - set(rows))
        rows.update((r.id, r) for r in await _by_ids(deps.reads, again)
                    if r.status != Status.CLOSED)
        self.turn += 1
        if slices <= 1:
            held = await deps.live.held()
            return rows, set(held.anywhere), held
        in_redis = await self.walk.step(deps.redis, deps.keys, self.slice_rows)
        in_redis |= self.strays
        # Redis holds them, the range did not cover them: open or not, SQL says (read after
        # Redis, like the full pass).
        extra = sorted(in_redis - set(rows))
        rows.update((r.id, r) for r in await _by_ids(deps.reads, extra)
                    if r.status != Status.CLOSED)
        return rows, in_redis, await held_of(deps.redis, deps.keys, sorted(in_redis | set(rows)))

    async def _repair(self, lost: list[convs.ConversationRow], closed: list[str],
                      owners: dict[str, int]) -> str:
        deps = self.deps
        for cid in closed:
            await deps.live.release(cid)
        if closed:
            log.warning("closed cases released from live state", extra={"fixed": len(closed)})
        for r in lost:
            # Never reached the queue, or a claim whose SQL half failed: queue it again.
            if r.id in owners:
                await deps.live.release(r.id, requeue=True)
            else:
                await deps.live.enqueue(as_waiting(r))
        if lost:
            log.warning("queue repaired from sql", extra={"fixed": len(lost)})
        if lost or closed:
            return f"repaired:{len(lost) + len(closed)}"
        return "ok"


async def _by_ids(engine: AsyncEngine, ids: list[str]) -> list[convs.ConversationRow]:
    """floor_queries.by_ids a part at a time (what Redis holds outside the pass's range of ids
    is about 1,000 rows a pass on a large floor), see _apart."""
    return await _apart(engine, [
        functools.partial(floor_queries.by_ids, ids=ids[start:start + _PART_ROWS])
        for start in range(0, len(ids), _PART_ROWS)])


_Read = Callable[[AsyncConnection], Awaitable[list[convs.ConversationRow]]]


async def _apart(engine: AsyncEngine, reads: list[_Read]) -> list[convs.ConversationRow]:
    """The reads one after another, each on a connection of its own, the loop let go between
    them: on SQLite each read runs on the loop's thread (1,000 rows at once stalled it for tens
    of ms), and its one connection, held across the pauses, kept every inbound message
    waiting for them all."""
    out: list[convs.ConversationRow] = []
    for at, read in enumerate(reads):
        if at:
            await asyncio.sleep(0)
        async with engine.connect() as conn:
            out += await read(conn)
    return out


async def run_reconciler(deps: Deps, stop: asyncio.Event) -> None:
    """Forever: reconcile every storage.reconcile_seconds; Redis outages are waited out."""
    reconciler = Reconciler(deps)
    while not stop.is_set():
        with contextlib.suppress(RedisError, OSError):
            await reconciler.once()
        await pause(stop, deps.config.storage.reconcile_seconds)


class EmbeddedWatch:
    """Watches the embedded redis-server: when it has died, starts it again (it loads its
    append-only file) and rebuilds the live state from SQL. The file may lack the last second
    of writes, so SQL's truth replaces it wholesale; there is one server per data folder (a
    lock), so no other instance is claiming meanwhile. `stale` is true from the death until
    the rebuild is done (/readyz answers 503 meanwhile)."""

    def __init__(self, server: EmbeddedRedis) -> None:
        self.server = server
        self.stale = False

    async def run(self, deps: Deps, stop: asyncio.Event) -> None:
        """Forever, until `stop`. A restart that fails raises: jobs.supervise tries again with
        a growing delay (the server is still found dead)."""
        while not stop.is_set():
            code = self.server.exited()
            if code is not None:
                self.stale = True
                log.error("embedded redis-server died; starting it again",
                          extra={"code": code})
                EMBEDDED_RESTARTS.inc()
                await self.server.restart()
                log.warning("embedded redis-server started again")
            if self.stale:
                try:
                    await rebuild(deps)
                    self.stale = False
                except (RedisError, OSError, SQLAlchemyError) as e:
                    log.warning("live state not rebuilt yet; trying again",
                                extra={"error": type(e).__name__})
            await pause(stop, 1.0 if self.stale else WATCH_S)
