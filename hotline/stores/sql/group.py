"""Group commit: concurrent writers' transactions share one BEGIN and one COMMIT.

Under load most of an inbound message's SQL cost was its own transaction: BEGIN, COMMIT (the
WAL write) and a pooled connection taken and returned. Here a writer hands over the body of its
transaction; bodies handed over while a batch is on its way run together in the next one, and
one that fails (a duplicate, a conflict) is rolled back alone while its batch-mates commit: on
SQLite each body runs inside a savepoint; on PostgreSQL, where a savepoint costs a round trip,
the batch first runs without them and, only if a body raised, is rolled back and run again
without that body, each of the rest inside a savepoint. Nobody learns its outcome before the
COMMIT that makes it durable: a webhook is never acknowledged for a message that is not
stored. A body alone in its batch is a transaction of its own with no savepoint, run in the
caller's own task (as the event Publisher appends to Redis).

On SQLite a leader first yields one turn of the loop, letting writers that are ready hand over
theirs: inline SQLite never suspends inside a transaction, so nobody could join later; and a
batch ends once its bodies have held the loop `_SQLITE_SLICE_S`, the rest going first in the
next one.
PostgreSQL runs `_PG_LANES` batches at once, and up to `_PG_MAX_LANES` while full batches wait
for a lane, so a batch waiting for a row lock does not hold up every inbound message. Bodies
run in the order of their keys (stable): every batch takes row locks in the same order, so two
batches (or two processes) never deadlock on each other. A body may name its first statement
(`Ahead`): on PostgreSQL consecutive bodies of a batch that share it have it run for all of
them in one round trip. See docs/stores.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.stores.sql import direct

T = TypeVar("T")
Body = Callable[[direct.DirectTx], Awaitable[T]]

# PostgreSQL: batches in flight at once, and bodies per batch. A batch's bodies run one after
# another, each statement a round trip that waits a turn of the loop; on a saturated loop an
# unbounded batch made its last message wait for every other's statements (measured: p99 of
# inbound over 40 s in the surge bench). Fewer lanes make fuller batches (SMS bench at c=50:
# 4 lanes 0.2 transactions a message and 0.41x, 16 lanes 0.58 and 0.34x), but on a saturated
# loop every round trip waits for the loop, and a fixed 4 lanes bounded the messages in
# flight: the surge bench took 1,295 of 30,000 in the minute, 16 lanes all 30,000
# (bench/README.md). So _PG_LANES lanes take batches at once, and more, up to _PG_MAX_LANES,
# open only while a full batch waits for one: a surge gets the lanes it needs, a busy but
# keeping-up line gets full batches. SQLite has one writer, inline: one lane.
_PG_LANES = 4
_PG_MAX_LANES = 16
_PG_BATCH = 8
# SQLite: a batch's time on the loop. Inline SQLite runs a whole batch in one step of the
# loop: unbounded, a batch grew with the loop's own backlog (what arrived during the last long
# iteration), and in the surge bench its step held the loop up to 87 ms. A batch ends once its
# bodies have taken this long; the rest wait for the next, the loop turning in between. A
# fixed 8 bodies a batch did as well in the surge but cost a seventh of the rate at 50
# connections (bench/sms_bench.py: 0.52x -> 0.45x), where batches of ~17 took a few ms.
_SQLITE_SLICE_S = 0.005


class Ahead:
    """The statement a body runs first (returning exactly one row), told to `run` ahead: in
    a PostgreSQL batch, consecutive bodies with the same first statement have it run for all
    of them in one round trip before the first of them starts. The body gets its row from
    `first` either way."""

    __slots__ = ("_ready", "_row", "params", "stmt")

    def __init__(self, stmt: direct.Prebuilt, params: Mapping[str, Any]) -> None:
        self.stmt = stmt
        self.params = params
        self._row: direct.Row | None = None
        self._ready = False

    async def first(self, tx: direct.Sql) -> direct.Row | None:
        """The statement's row: the one the batch fetched, or fetched now."""
        if self._ready:
            self._ready = False
            return self._row
        return await direct.first(tx, self.stmt, self.params)

    def _fill(self, row: direct.Row | None) -> None:
        self._row, self._ready = row, True

    def _clear(self) -> None:
        self._row, self._ready = None, False


class _Item:
    __slots__ = ("ahead", "body", "done", "error", "key", "result")

    def __init__(self, body: Body[Any], key: str, done: asyncio.Future[None],
                 ahead: Ahead | None) -> None:
        self.body = body
        self.key = key
        self.done = done
        self.ahead = ahead
        self.result: Any = None
        self.error: BaseException | None = None


class GroupCommit:
    """One per engine and process (Deps holds it)."""

    def __init__(self, engine: AsyncEngine, lanes: int | None = None) -> None:
        self.engine = engine
        sqlite = engine.dialect.name == "sqlite"
        self._lanes = 1 if sqlite else lanes or _PG_LANES
        # Lanes beyond _lanes open only while a full batch waits (see _PG_MAX_LANES).
        self._max_lanes = self._lanes if sqlite or lanes else _PG_MAX_LANES
        self._most = 1 << 30 if sqlite else _PG_BATCH
        # SQLite's savepoints are in-process and cheap; PostgreSQL first tries a batch without
        # them and falls back to them only when a body raises.
        self._savepoints = sqlite
        self._gather = sqlite
        self._pending: list[_Item] = []
        self._running = 0
        self._drains: set[asyncio.Task[None]] = set()

    async def run(self, body: Body[T], key: str = "", ahead: Ahead | None = None) -> T:
        """Run `body` in a transaction shared with concurrent writers; its result once the
        transaction is committed. What it raises rolls back its own work only and is raised
        here; if the COMMIT (or the connection) fails, every body's caller gets that error.
        `ahead`: the body's first statement (see Ahead)."""
        item = _Item(body, key, asyncio.get_running_loop().create_future(), ahead)
        self._pending.append(item)
        if self._lane_free():
            self._running += 1
            try:
                if self._gather:
                    # One turn of the loop first, so writers that are ready join this batch
                    # (inline SQLite never suspends inside a transaction: nobody could join it
                    # later). PostgreSQL's batches form while statements are on their way; the
                    # turn cost a lone message there a third of its rate (measured at c=1).
                    await asyncio.sleep(0)
                batch = self._take()
                self._spread()
                await self._commit(batch)
            finally:
                self._running -= 1
                self._spread()
        await item.done
        return cast(T, _outcome_of(item))

    def _lane_free(self) -> bool:
        return self._running < self._lanes or (
            self._running < self._max_lanes and len(self._pending) >= self._most)

    def _take(self) -> list[_Item]:
        batch, self._pending = self._pending[:self._most], self._pending[self._most:]
        return batch

    def _spread(self) -> None:
        """Free lanes take what is left waiting, each in a task of its own."""
        while self._pending and self._lane_free():
            self._running += 1
            task = asyncio.get_running_loop().create_task(self._drain(), name="group-commit")
            # The loop keeps only a weak reference to a task.
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)

    async def _drain(self) -> None:
        try:
            while self._pending:
                await self._commit(self._take())
                if self._gather:
                    # Inline SQLite never suspends in a batch: without this turn the rest
                    # would run back to back in one step of the loop.
                    await asyncio.sleep(0)
        finally:
            self._running -= 1
            self._spread()

    async def _commit(self, batch: list[_Item]) -> None:
        if not batch:
            return
        batch.sort(key=lambda i: i.key)
        try:
            if len(batch) == 1:
                batch[0].result, batch[0].error = await _outcome(
                    _own_transaction(self.engine, batch[0].body))
            elif self._savepoints or not await self._at_once(batch):
                rest = [i for i in batch if i.error is None]
                began = time.perf_counter()
                async with direct.begin(self.engine) as tx:
                    await tx.command(_SAVEPOINT)
                    for at, item in enumerate(rest):
                        item.result, item.error = await _isolated(
                            tx, item.body, last=at == len(rest) - 1)
                        if self._gather and time.perf_counter() - began >= _SQLITE_SLICE_S \
                                and at < len(rest) - 1:
                            # Out of time: the bodies not run go first in the next batch (the
                            # savepoint left open is empty; COMMIT ends it).
                            later = rest[at + 1:]
                            self._pending[:0] = later
                            batch[:] = [i for i in batch if i not in later]
                            break
        except BaseException as e:
            failed = e if isinstance(e, Exception) else exc.OperationalError(
                "group commit", None, e, hide_parameters=True, connection_invalidated=True)
            for item in batch:
                if item.error is None:
                    item.error = failed
            _hand_over(batch)
            if failed is not e:
                raise
            return
        _hand_over(batch)

    async def _at_once(self, batch: list[_Item]) -> bool:
        """Every body in one transaction, without savepoints (each costs PostgreSQL a round
        trip); False, all rolled back and the body that raised given its error, if one did
        (none, if a shared first statement did: the rest then runs each on its own)."""
        try:
            async with direct.begin(self.engine) as tx:
                for at, item in enumerate(batch):
                    await _fetch_ahead(tx, batch, at)
                    item.result, error = await _outcome(item.body(tx))
                    if error is None:
                        continue
                    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
                        raise error  # the batch's connection is gone: every caller tries again
                    item.error = error
                    raise _OneFailed
        except _OneFailed:
            return False
        finally:
            for item in batch:
                if item.ahead is not None:
                    item.ahead._clear()  # rows of a transaction that may be rolled back
        return True


async def _fetch_ahead(tx: direct.DirectTx, batch: list[_Item], at: int) -> None:
    """Before batch[at] runs: the first statement of it and of the bodies right after it
    that share it, in one round trip. Only consecutive bodies, so row locks are still taken
    in the order of the keys."""
    ahead = batch[at].ahead
    if ahead is None or ahead._ready:  # none, or fetched with a body before it
        return
    run = [ahead]
    for item in batch[at + 1:]:
        if item.ahead is None or item.ahead.stmt is not ahead.stmt:
            break
        run.append(item.ahead)
    if len(run) < 2:
        return
    try:
        rows = await tx.each_first(ahead.stmt, [a.params for a in run])
    except exc.DBAPIError as e:
        if e.connection_invalidated:
            raise
        raise _OneFailed from e  # which body's statement failed is not known
    for a, row in zip(run, rows, strict=True):
        a._fill(row)


class _OneFailed(Exception):
    """A body of a batch run without savepoints raised: roll back, run the rest with them."""


# A savepoint before each body of a batch. After a body that ran, one round trip both keeps
# its work and marks the next body's start (PostgreSQL takes the two statements as one
# query; SQLite runs them one by one, in-process); after one that raised, its savepoint
# stays, rolled back, for the next body.
_SAVEPOINT = "SAVEPOINT hl_item"
_NEXT = ("RELEASE SAVEPOINT hl_item", _SAVEPOINT)


async def _isolated(tx: direct.DirectTx, body: Body[Any], *, last: bool
                    ) -> tuple[Any, Exception | None]:
    """One body of a batch, inside the savepoint: rolled back alone if it raises."""
    result, error = await _outcome(body(tx))
    if error is not None:
        await tx.command("ROLLBACK TO SAVEPOINT hl_item")
    elif not last:  # the COMMIT keeps the last one's work
        await tx.command(*_NEXT)
    return result, error


async def _own_transaction(engine: AsyncEngine, body: Body[T]) -> T:
    """A body in a transaction of its own."""
    async with direct.begin(engine) as tx:
        return await body(tx)


async def _outcome(work: Awaitable[Any]) -> tuple[Any, Exception | None]:
    """What `work` returned, or what it raised. Handed back, never kept on the item by a
    function the error passed through: its traceback holds that function's frame, and the
    frame the item, a reference cycle that kept the failed message's whole request (every
    frame's locals) until the collector's next pass, each pass then holding the loop for
    milliseconds (bench/README.md)."""
    try:
        return await work, None
    except Exception as e:
        return None, e


def _hand_over(batch: list[_Item]) -> None:
    for item in batch:
        if not item.done.done():  # else its caller was cancelled while it waited
            item.done.set_result(None)


def _outcome_of(item: _Item) -> Any:
    """A committed item's result, or its error raised. The error is taken off the item and,
    once raised, out of this frame (as concurrent.futures does): the frames it passes
    through are in its traceback, and any of them still holding it would make a cycle. A
    future's exception would do the same: its waiter's frame holds the future."""
    error, item.error = item.error, None
    if error is None:
        return item.result
    try:
        raise error
    finally:
        del error
