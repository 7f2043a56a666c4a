"""Prebuilt statements on the driver connection (hotline.stores.sql.direct), on SQLite and
PostgreSQL: the same rows and types as SQLAlchemy's own execution, commit and rollback, driver
errors raised as SQLAlchemy's (parameters hidden), a cancelled PostgreSQL statement never
leaves a broken connection in the pool, and on SQLite another process's write lock is waited
for without blocking the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from hotline.cases import conversations as convs
from hotline.cases import inbox
from hotline.cases.tables import conversations
from hotline.config import Config
from hotline.domain.conversation import Channel, Urgency
from hotline.stores.sql import direct, sqlite_inline
from hotline.stores.sql.engine import migrate, open_engine
from tests.conftest import Database
from tests.service_deps import inbound, open_deps

CID = "a" * 32
NOW = datetime(2026, 11, 26, 1, 2, 3, 456789, tzinfo=UTC)

# Every column kind the inbound path reads: text, integers, aware datetimes (one NULL), a
# boolean expression, and a literal in the statement itself.
_ROW = direct.Prebuilt(
    select(conversations.c.id, conversations.c.next_seq + 1, conversations.c.created_at,
           conversations.c.closed_at, conversations.c.contact_sealed.is_not(None),
           conversations.c.urgency_reasons)
    .where(conversations.c.id == bindparam("b_id")))


@pytest.fixture
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    eng = open_engine(database.url)
    await migrate(eng)
    yield eng
    await eng.dispose()


async def _add(engine: AsyncEngine, cid: str = CID) -> None:
    async with direct.begin(engine) as tx:
        await convs.insert_conversation(tx, conversation_id=cid, channel=Channel.SMS,
                                        pseudonym="p" + cid[:63], language="ko",
                                        urgency=Urgency.HIGH, at=NOW, contact_sealed=b"sealed",
                                        reasons=("minor",), next_seq=4)


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(conversations)))
                   .scalar_one())


async def test_same_rows_and_types_as_sqlalchemy(engine: AsyncEngine) -> None:
    await _add(engine)
    async with direct.begin(engine, write=False) as tx:
        fast = await direct.first(tx, _ROW, {"b_id": CID})
        missing = await direct.first(tx, _ROW, {"b_id": "b" * 32})
    async with engine.connect() as conn:
        slow = await direct.first(conn, _ROW, {"b_id": CID})
        row = await convs.get(conn, CID)
    assert fast is not None and slow is not None and missing is None
    assert tuple(fast) == tuple(slow) == (CID, 5, NOW, None, True, "minor")
    assert fast[2].tzinfo is not None
    assert row is not None and row.created_at == NOW and row.urgency == Urgency.HIGH


def test_sqlite_datetime_text_is_sqlalchemys() -> None:
    # The direct path's own bind processor for UTC datetimes on SQLite writes what
    # SQLAlchemy's would, so both paths compare and sort stored times alike.
    from sqlalchemy.dialects import sqlite

    from hotline.stores.sql.schema import UTCDateTime, sqlite_utc_text

    dialect = sqlite.dialect()
    theirs = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    ours = _ROW.compiled(dialect).binds[0][3]  # b_id: plain text, no processor
    assert ours is None and theirs is not None
    seoul = timezone(timedelta(hours=9))
    for when in (NOW, NOW.replace(microsecond=0), NOW.astimezone(seoul),
                 datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=UTC), datetime(2026, 12, 31, 23, 59,
                                                                     59, 999999, tzinfo=seoul)):
        assert sqlite_utc_text(when) == theirs(when)
    with pytest.raises(ValueError):
        sqlite_utc_text(NOW.replace(tzinfo=None))
    stmt = direct.Prebuilt(select(conversations.c.id)
                           .where(conversations.c.created_at == bindparam("b_at")))
    assert stmt.compiled(dialect).binds[0][3] is sqlite_utc_text


async def test_open_case_found_on_either_connection(engine: AsyncEngine) -> None:
    await _add(engine)
    async with direct.begin(engine) as tx:
        fast = await convs.bump_open(tx, Channel.SMS, "p" + CID[:63], NOW)
    async with engine.begin() as conn:
        slow = await convs.bump_open(conn, Channel.SMS, "p" + CID[:63], NOW)
    assert fast == (convs.OpenCase(CID, Urgency.HIGH, ("minor",)), 5, None)
    assert slow == (convs.OpenCase(CID, Urgency.HIGH, ("minor",)), 6, None)


def _reads(cid: ColumnElement[str]) -> tuple[ColumnElement[Any], ...]:
    """A channel's reads: of a row by the case's id, and of the statement's pseudonym."""
    return (select(conversations.c.urgency_reasons).where(conversations.c.id == cid)
            .scalar_subquery(), bindparam("b_pseudonym") == "p" + CID[:63])


async def test_the_bump_returns_the_channels_reads(engine: AsyncEngine) -> None:
    """SQLite's inbound path reads the channel's state with the bump (one statement less a
    message)."""
    await _add(engine)
    async with direct.begin(engine) as tx:
        bumped = await convs.bump_open(tx, Channel.SMS, "p" + CID[:63], NOW, reads=_reads)
        again = await convs.bump_open(tx, Channel.SMS, "p" + CID[:63], NOW, victim=True,
                                      deadline=NOW, reads=_reads)
        none = await convs.bump_open(tx, Channel.SMS, "nobody", NOW, reads=_reads)
    assert bumped is not None and again is not None and none is None
    assert bumped[1:] == (5, ("waiting", "ko", "minor", True))
    assert again[1:] == (6, ("waiting", "ko", "minor", True))


async def test_rolled_back_when_the_block_raises(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        async with direct.begin(engine) as tx:
            await convs.insert_conversation(tx, conversation_id=CID, channel=Channel.SMS,
                                            pseudonym="p", language="ko",
                                            urgency=Urgency.NORMAL, at=NOW)
            raise RuntimeError("after the insert")
    assert await _count(engine) == 0
    await _add(engine)  # the pooled connection is clean and usable
    assert await _count(engine) == 1


async def test_driver_errors_are_sqlalchemy_errors_without_parameters(
        engine: AsyncEngine) -> None:
    await _add(engine)
    with pytest.raises(IntegrityError) as caught:
        await _add(engine)
    assert "p" + CID[:63] not in str(caught.value)  # parameters are hidden
    bad = direct.Prebuilt(text("SELECT no_such_column FROM conversations"))
    with pytest.raises(DBAPIError):
        async with direct.begin(engine, write=False) as tx:
            await tx.first(bad, {})
    assert await _count(engine) == 1


async def test_a_missing_parameter_is_named(engine: AsyncEngine) -> None:
    with pytest.raises(KeyError, match="b_id"):
        async with direct.begin(engine, write=False) as tx:
            await tx.first(_ROW, {})


async def test_cancelled_statement_leaves_no_broken_connection(
        engine: AsyncEngine, database: Database) -> None:
    sleep = direct.Prebuilt(text("SELECT pg_sleep(5)") if database.kind == "postgresql"
                            else text("SELECT 1"))

    async def slow() -> None:
        async with direct.begin(engine, write=False) as tx:
            await tx.first(sleep, {})
            await asyncio.sleep(5)  # SQLite: cancelled here instead

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Every pooled connection still works (a PostgreSQL one cut mid-statement was dropped).
    for _ in range(3):
        await _add(engine, cid=f"{_:032d}")
    assert await _count(engine) == 3


async def test_sqlite_waits_for_another_process_lock_without_blocking(
        engine: AsyncEngine, database: Database) -> None:
    if database.kind != "sqlite":
        pytest.skip("SQLite's file lock")
    path = make_url(database.url).database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)  # as the CLI would, in its process
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    tick_task = asyncio.create_task(ticker())
    write = asyncio.create_task(_add(engine))
    try:
        await asyncio.sleep(0.2)
        before = ticks
        await asyncio.sleep(0.2)
        assert not write.done()  # still waiting for the lock
        assert ticks > before  # ... while other tasks kept running on the loop
        other.execute("COMMIT")
        await asyncio.wait_for(write, 5)
    finally:
        tick_task.cancel()
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        if not write.done():
            write.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await write
    assert await _count(engine) == 1


async def test_sqlite_lock_wait_gives_up(monkeypatch: pytest.MonkeyPatch,
                                         engine: AsyncEngine, database: Database) -> None:
    if database.kind != "sqlite":
        pytest.skip("SQLite's file lock")
    monkeypatch.setattr(sqlite_inline, "LOCK_WAIT_S", 0.1)
    path = make_url(database.url).database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = datetime.now(UTC)
        with pytest.raises(DBAPIError, match="locked"):
            await _add(engine)
        assert datetime.now(UTC) - started < timedelta(seconds=10)  # not the 30 s default
    finally:
        other.execute("ROLLBACK")
        other.close()
    await _add(engine)  # the connection went back to the pool clean
    assert await _count(engine) == 1


async def _terminate_sessions(engine: AsyncEngine) -> None:
    """What a PostgreSQL restart does to this pool: every session of the database ends. The
    order comes from a connection outside the pool."""
    url = engine.url.set(drivername="postgresql")
    outside = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await outside.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    finally:
        await outside.close()


async def _fill_pool(engine: AsyncEngine) -> None:
    async with engine.connect() as a, engine.connect() as b:
        await a.execute(text("SELECT 1"))
        await b.execute(text("SELECT 1"))


async def test_a_message_survives_its_connection_dying(config: Config) -> None:
    """The pool's connections die (a restart) between two messages: the inbox stores the
    message on a new connection, once."""
    if not config.database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL sessions")
    async with open_deps(config) as deps:
        first = await inbox.receive(deps, inbound(text="first", provider_id="SM1"))
        # Several pooled connections, all idle a moment ago, then all killed.
        await _fill_pool(deps.engine)
        await _terminate_sessions(deps.engine)
        second = await inbox.receive(deps, inbound(text="second", provider_id="SM2"))
        assert (second.conversation_id, second.seq) == (first.conversation_id, 2)
        async with deps.engine.connect() as conn:
            n = (await conn.execute(text(
                "SELECT count(*) FROM messages WHERE provider_key LIKE 'sms:SM%'"))).scalar_one()
        assert n == 2


async def test_an_idle_connection_is_pinged_before_use(
        monkeypatch: pytest.MonkeyPatch, engine: AsyncEngine, database: Database) -> None:
    if database.kind != "postgresql":
        pytest.skip("PostgreSQL sessions")
    from hotline.stores.sql import engine as engine_module

    await _fill_pool(engine)
    await _terminate_sessions(engine)
    monkeypatch.setattr(engine_module, "IDLE_PING_S", 0.0)  # every pooled one counts as idle
    async with engine.connect() as conn:  # no error: the dead one failed its ping and went
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
