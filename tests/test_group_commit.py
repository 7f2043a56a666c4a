"""Group commit (hotline.stores.sql.group) on SQLite and PostgreSQL: concurrent bodies share a
transaction, one that raises is rolled back alone, nobody hears back before the COMMIT, and a
body alone is its own transaction."""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.cases import conversations as convs
from hotline.cases.tables import conversations
from hotline.domain.conversation import Channel, Urgency
from hotline.stores.sql.direct import DirectTx, Prebuilt
from hotline.stores.sql.engine import migrate, open_engine
from hotline.stores.sql.group import Ahead, GroupCommit
from tests.conftest import Database

NOW = datetime(2026, 12, 5, 1, 2, 3, tzinfo=UTC)


@pytest.fixture
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    eng = open_engine(database.url)
    await migrate(eng)
    yield eng
    await eng.dispose()


class Refused(Exception):
    """A body's own failure."""


async def _add(tx: DirectTx, n: int) -> None:
    await convs.insert_conversation(tx, conversation_id=f"{n:032x}", channel=Channel.SMS,
                                    pseudonym=f"p{n:063x}", language="ko",
                                    urgency=Urgency.NORMAL, at=NOW, contact_sealed=None,
                                    reasons=(), next_seq=1)


async def _ids(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(conversations.c.id))).scalars())


async def test_a_failing_body_is_rolled_back_alone(engine: AsyncEngine) -> None:
    group = GroupCommit(engine, lanes=1)
    log: list[str] = []

    def body(n: int) -> Callable[[DirectTx], Awaitable[int]]:
        async def run(tx: DirectTx) -> int:
            await _add(tx, n)
            log.append(f"ran {n}")
            if n == 2:
                raise Refused
            return n
        return run

    async def call(n: int) -> int | str:
        try:
            got: int | str = await group.run(body(n), key=f"k{n}")
        except Refused:
            got = "refused"
        log.append(f"got {n}")
        return got

    # On one lane the first runs alone at once (PostgreSQL) and the others share the next
    # batch, or all six share the first after one turn of the loop (SQLite).
    results = await asyncio.gather(*(call(n) for n in range(1, 7)))
    assert results == [1, "refused", 3, 4, 5, 6]
    assert await _ids(engine) == {f"{n:032x}" for n in (1, 3, 4, 5, 6)}
    # Within each batch every body ran before any caller heard back (after the COMMIT).
    first_got = log.index(next(e for e in log if e.startswith("got")))
    assert all(e.startswith("ran") for e in log[:first_got])
    # (On PostgreSQL a batch runs without savepoints first: the bodies before the one that
    # raised run again in the second pass.)
    assert {e for e in log if e.startswith("ran")} == {f"ran {n}" for n in range(1, 7)}


class _Request:
    """Stands for what a failing body's frames hold (a webhook's request, its message)."""


async def test_a_failing_body_leaves_no_garbage_for_the_collector(engine: AsyncEngine) -> None:
    """What a body raises reaches its caller without a reference cycle: alone, in a batch
    with savepoints and (PostgreSQL) in a batch first run without them, the failed body's
    frames and what they hold are freed once its caller is done with the error. Kept on its
    item by a frame of its own traceback, each failure waited for the collector, whose passes
    held the server's loop for milliseconds (bench/README.md)."""
    group = GroupCommit(engine, lanes=1)

    def body(n: int) -> Callable[[DirectTx], Awaitable[int]]:
        async def run(tx: DirectTx) -> int:
            request = _Request()
            await _add(tx, n)
            if n % 3 == 0:
                raise Refused(request)
            return n
        return run

    async def call(n: int) -> int | None:
        try:
            return await group.run(body(n), key=f"k{n:03}")
        except Refused:
            return None

    assert await call(1) == 1  # statements compiled outside the count
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        assert await call(3) is None  # alone
        results = await asyncio.gather(*(call(n) for n in range(4, 10)))  # batched
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, (_Request, Refused, FrameType))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert results == [4, 5, None, 7, 8, None]
    assert left == []


async def test_a_body_alone_is_its_own_transaction(engine: AsyncEngine) -> None:
    group = GroupCommit(engine, lanes=1)

    async def failing(tx: DirectTx) -> None:
        await _add(tx, 9)
        raise Refused

    with pytest.raises(Refused):
        await group.run(failing)

    async def kept(tx: DirectTx) -> int:
        await _add(tx, 10)
        return 10

    assert await group.run(kept) == 10
    assert await _ids(engine) == {f"{10:032x}"}


async def test_a_conflict_fails_only_its_own_caller(engine: AsyncEngine) -> None:
    """Two bodies insert the same row in one batch: the second's driver error (a unique
    violation, which on PostgreSQL aborts the transaction unless rolled back to its
    savepoint) reaches its own caller only."""
    group = GroupCommit(engine, lanes=1)

    def add(n: int) -> Callable[[DirectTx], Awaitable[int]]:
        async def run(tx: DirectTx) -> int:
            await _add(tx, n)
            return n
        return run

    results = await asyncio.gather(*(group.run(add(n), key=str(i))
                                     for i, n in enumerate((20, 20, 21))),
                                   return_exceptions=True)
    assert results[0] == 20 and results[2] == 21
    assert isinstance(results[1], Exception)
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(conversations))
                ).scalar_one() == 2


async def test_a_batch_shares_its_bodies_first_statement(engine: AsyncEngine,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Bodies with the same first statement (Ahead) each get their own row; on PostgreSQL a
    batch runs it for all of them at once. A batch rolled back and run again (a body raised)
    never hands out a row of the rolled-back transaction."""
    group = GroupCommit(engine, lanes=1)
    shared = Prebuilt(select(bindparam("b_n", type_=Integer).label("n")))
    at_once: list[int] = []
    fetchmany = asyncpg.Connection.fetchmany

    async def counted(self: asyncpg.Connection, query: str, args: Any, **kw: Any) -> Any:
        at_once.append(len(args))
        return await fetchmany(self, query, args, **kw)
    monkeypatch.setattr(asyncpg.Connection, "fetchmany", counted)

    def body(n: int, ahead: Ahead) -> Callable[[DirectTx], Awaitable[int]]:
        async def run(tx: DirectTx) -> int:
            row = await ahead.first(tx)
            assert row is not None
            await _add(tx, 100 + n)
            if n == 3:
                raise Refused
            return int(row[0])
        return run

    async def call(n: int) -> int | str:
        ahead = Ahead(shared, {"b_n": n})
        try:
            return await group.run(body(n, ahead), key=f"k{n}", ahead=ahead)
        except Refused:
            return "refused"

    results = await asyncio.gather(*(call(n) for n in range(1, 7)))
    assert results == [1, 2, "refused", 4, 5, 6]
    assert await _ids(engine) == {f"{100 + n:032x}" for n in (1, 2, 4, 5, 6)}
    if engine.dialect.name == "postgresql":
        # The first body ran alone; the other five shared one round trip.
        assert at_once == [5]


async def test_more_lanes_open_only_while_a_full_batch_waits(engine: AsyncEngine) -> None:
    """PostgreSQL: four lanes take batches at once; a fifth opens only once a full batch (8)
    waits for a lane, and commits it while the four are still busy."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one lane (one writer)")
    group = GroupCommit(engine)
    gate = asyncio.Event()

    async def held(tx: DirectTx, n: int) -> int:
        await _add(tx, n)
        await gate.wait()  # its lane stays busy, transaction open
        return n

    async def quick(tx: DirectTx, n: int) -> int:
        await _add(tx, n)
        return n

    def call(body: Callable[[DirectTx, int], Awaitable[int]], n: int) -> asyncio.Task[int]:
        async def run(tx: DirectTx) -> int:
            return await body(tx, n)
        return asyncio.create_task(group.run(run, key=f"k{n:03}"))

    busy = [call(held, n) for n in range(1, 5)]
    await asyncio.sleep(0.2)
    waiting = [call(quick, n) for n in range(11, 18)]  # seven: not yet a full batch
    await asyncio.sleep(0.2)
    assert not any(t.done() for t in busy + waiting)
    assert await _ids(engine) == set()
    waiting.append(call(quick, 18))  # the eighth: a lane opens for the batch
    assert await asyncio.wait_for(asyncio.gather(*waiting), 10) == list(range(11, 19))
    assert await _ids(engine) == {f"{n:032x}" for n in range(11, 19)}
    assert not any(t.done() for t in busy)
    gate.set()
    assert await asyncio.gather(*busy) == [1, 2, 3, 4]


async def test_a_sqlite_batch_ends_when_its_time_is_up_and_the_loop_turns_between(
        engine: AsyncEngine) -> None:
    """Inline SQLite runs a batch in one step of the loop: a batch whose bodies have taken
    _SQLITE_SLICE_S (5 ms) ends there, the rest go first in the next, the loop turning between
    (a ticker counts its turns). Bodies of 2 ms each: at most 3 a batch; all stored, each
    caller answered with its own result."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's bodies suspend at every statement")
    group = GroupCommit(engine)
    turns = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal turns
        while not stop.is_set():
            turns += 1
            await asyncio.sleep(0)

    seen: list[int] = []

    async def body(tx: DirectTx, n: int) -> int:
        await _add(tx, n)
        time.sleep(0.002)  # the loop held, as by a body's own work
        seen.append(turns)
        return n

    def call(n: int) -> Awaitable[int]:
        async def run(tx: DirectTx) -> int:
            return await body(tx, n)
        return group.run(run, key=f"k{n:03}")

    tick = asyncio.create_task(ticker())
    assert await asyncio.gather(*(call(n) for n in range(1, 21))) == list(range(1, 21))
    stop.set()
    await tick
    batches = Counter(seen)
    assert sum(batches.values()) == 20
    assert max(batches.values()) <= 3
    assert len(batches) >= 7
    assert await _ids(engine) == {f"{n:032x}" for n in range(1, 21)}
