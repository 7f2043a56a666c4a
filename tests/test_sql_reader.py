"""The reader (stores/sql/engine.open_reader): on SQLite the floor's large reads run on a worker
thread's connections that may only read and never hold back a writer; elsewhere the server's
one engine serves them."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.cases import conversations as convs
from hotline.cases import floor_queries
from hotline.cases.tables import conversations
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Urgency
from hotline.stores.sql.engine import open_reader
from tests.conftest import Database, RedisProcess, make_config
from tests.service_deps import open_deps

NOW = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)


@pytest.fixture
async def deps(tmp_path: Path, database: Database, redis_server: RedisProcess
               ) -> AsyncIterator[Deps]:
    cfg = make_config(tmp_path / "data", database.url, redis_server.url)
    async with open_deps(cfg) as d:
        yield d


async def _add(deps: Deps, n: int) -> None:
    async with deps.engine.begin() as conn:
        await convs.insert_conversation(conn, conversation_id=f"{n:032x}", channel=Channel.SMS,
                                        pseudonym=f"p{n:063x}", language="ko",
                                        urgency=Urgency.NORMAL, at=NOW, contact_sealed=None,
                                        reasons=(), next_seq=1)


async def _count(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(conversations))).scalar_one())


def test_only_sqlite_on_disk_has_a_reader() -> None:
    assert open_reader("postgresql+asyncpg://127.0.0.1/x") is None
    assert open_reader("sqlite+aiosqlite:///:memory:") is None


async def test_reads_go_to_the_reader_on_sqlite_and_to_the_engine_elsewhere(deps: Deps) -> None:
    if deps.engine.dialect.name == "sqlite":
        assert deps.reader is not None and deps.reads is deps.reader
    else:
        assert deps.reader is None and deps.reads is deps.engine


async def test_the_readers_statements_run_off_the_loops_thread(deps: Deps) -> None:
    if deps.reader is None:
        pytest.skip("PostgreSQL's reads wait on the network, not on the loop's thread")
    async with deps.reads.connect() as conn:
        aio = (await conn.get_raw_connection()).driver_connection
        assert aio is not None
        await aio.create_function("thread_id", 0, threading.get_ident)
        ran_on = (await conn.exec_driver_sql("SELECT thread_id()")).scalar_one()
    assert ran_on != threading.get_ident()


async def test_the_reader_may_not_write(deps: Deps) -> None:
    if deps.reader is None:
        pytest.skip("no reader but the engine itself")
    with pytest.raises(exc.OperationalError, match="readonly"):
        async with deps.reads.begin() as conn:
            await conn.execute(text("DELETE FROM conversations"))


async def test_a_long_read_never_holds_back_a_writer(deps: Deps) -> None:
    """A read transaction open on the reader is one snapshot: the loop's connection still
    writes and commits at once (BEGIN IMMEDIATE), the open read does not see that write, and
    the next read does."""
    if deps.reader is None:
        pytest.skip("no reader but the engine itself")
    await _add(deps, 1)
    async with deps.reads.connect() as reading:
        assert await _count(reading) == 1
        await asyncio.wait_for(_add(deps, 2), 5)
        assert await _count(reading) == 1
    async with deps.reads.connect() as conn:
        assert await _count(conn) == 2
        groups = await floor_queries.waiting_groups(conn)
    assert sum(g.count for g in groups) == 2


async def test_a_one_statement_read_is_one_trip_to_the_worker_thread(deps: Deps) -> None:
    """Through SQLAlchemy's aiosqlite adapter a statement was four trips (cursor, execute,
    fetchall, close) and BEGIN and ROLLBACK five more, each waiting for a turn of a busy loop
    to hear back: a read of one statement, its BEGIN and its end are one trip."""
    if deps.reader is None:
        pytest.skip("no reader but the engine itself")
    await _add(deps, 1)
    await _add(deps, 2)
    trips: list[str] = []
    async with deps.reads.connect() as conn:
        aio: Any = (await conn.get_raw_connection()).driver_connection
        own = aio._execute

        async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
            trips.append(getattr(fn, "__name__", "?"))
            return await own(fn, *args, **kwargs)
        aio._execute = counted
        rows = (await conn.execute(select(conversations.c.id).order_by(conversations.c.id))).all()
    del aio._execute
    assert [r[0] for r in rows] == [f"{n:032x}" for n in (1, 2)]
    assert len(trips) == 1, trips


async def test_a_read_cancelled_mid_statement_leaves_the_reader_sound(deps: Deps) -> None:
    """A caller cancelled while its statement runs on the worker thread (a client gone, a
    stop) leaves the statement running there: SQLAlchemy discards that connection, whose
    close queues behind the statement, and the next reads answer right."""
    if deps.reader is None:
        pytest.skip("no reader but the engine itself")
    await _add(deps, 1)
    slow = text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                "WHERE i < 2000000) SELECT count(*) FROM n")

    async def long_read() -> None:
        async with deps.reads.connect() as conn:
            await conn.execute(slow)

    for _ in range(2):  # each of the reader's two connections, likely
        task = asyncio.create_task(long_read())
        await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for _ in range(4):
        async with deps.reads.connect() as conn:
            assert await _count(conn) == 1
