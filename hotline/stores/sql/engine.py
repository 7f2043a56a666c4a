"""Opening the SQL engine and running migrations (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

from hotline import datadir
from hotline.metrics import REGISTRY
from hotline.stores.sql import checkpoint, sqlite_inline, sqlite_reader

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# aiosqlite logs every statement with its parameters (names, chat ids, hashes) at DEBUG; like
# SQLAlchemy's own loggers, keep it at WARNING unless an operator set a level explicitly.
_AIOSQLITE_LOG = logging.getLogger("aiosqlite")
if _AIOSQLITE_LOG.level == logging.NOTSET:
    _AIOSQLITE_LOG.setLevel(logging.WARNING)


def open_engine(url: str, *, background_checkpoint: bool = False,
                pool_size: int = 10) -> AsyncEngine:
    """An async engine; on SQLite with WAL, foreign keys and the write lock taken up front.

    `background_checkpoint`: the caller runs checkpoint.Checkpointer for this database, so
    the engine's connections leave WAL checkpoints to it (the server does; the CLI does not).
    `pool_size`: PostgreSQL connections kept open (storage.sql_pool_size for the server)."""
    if url.startswith("sqlite"):
        path = make_url(url).database or ":memory:"
        if path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(mode=datadir.PRIVATE_DIR, parents=True, exist_ok=True)
            # Created 0600 here, not by SQLite with the umask's 0644: the WAL and
            # shared-memory files take the database's mode.
            datadir.create_private(Path(path))
        # One connection: SQLite has one writer anyway, and the pool's queue hands it out in
        # order, where competing connections would each sleep in SQLite's busy handler (seen:
        # p99 1.3 s at 20 concurrent writers). Other processes (the CLI) still get WAL reads.
        # Statements run on the loop's thread (sqlite_inline: aiosqlite's thread hops cost
        # more than the statements).
        engine = create_async_engine(
            url, async_creator=sqlite_inline.creator(path, uri=path.startswith("file:")),
            hide_parameters=True, pool_size=1, max_overflow=0, pool_timeout=60)
        _sqlite_pragmas(engine, checkpoint.BACKSTOP_PAGES if background_checkpoint else None)
        engine.dialect.statement_compiler = _SqliteWithHints
        return engine
    # No overflow: SQLAlchemy closes an overflow connection when it is returned, so a burst
    # (50 webhooks at once) opened and closed 100-230 connections every 10 s. A request beyond
    # the pool waits for a connection instead (up to pool_timeout).
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=30,
                                 hide_parameters=True)
    _check_on_checkout(engine)
    _count_connections(engine)
    return engine


# The reader's connections: reads overlap (the floor, the cover and the coverage watch), and
# each holds its worker thread while SQLite works.
READER_POOL = 2


def open_reader(url: str) -> AsyncEngine | None:
    """An engine for the floor's large reads, off the loop's thread; None where the server's
    own engine should serve them (PostgreSQL, or SQLite in memory).

    On SQLite the server's engine runs statements on the loop's thread, one connection, the
    write lock taken at every BEGIN: a count of 10,000 waiting cases held the loop 8-10 ms
    (up to 87 ms while inbound messages queued behind it). This one runs each statement on
    aiosqlite's worker thread, in one trip (sqlite_reader; sqlite3 releases the GIL while
    SQLite works), on connections that may only read (`query_only`) and take no lock at
    BEGIN: each transaction one snapshot of the WAL that never holds back a writer."""
    if checkpoint.for_url(url) is None:
        return None
    path = make_url(url).database or ""
    engine = create_async_engine(
        url, async_creator=sqlite_reader.creator(path, uri=path.startswith("file:")),
        hide_parameters=True, pool_size=READER_POOL, max_overflow=0, pool_timeout=60)
    engine.dialect.statement_compiler = _SqliteWithHints

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi: Any, _record: Any) -> None:
        dbapi.isolation_level = None  # the driver's own BEGINs off: ours below
        for pragma in ("query_only=ON", f"busy_timeout={int(sqlite_inline.BUSY_TIMEOUT_S * 1000)}"):
            dbapi.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        # Deferred (a read snapshot, no lock), sent with the first statement.
        raw = conn.connection.driver_connection
        assert isinstance(raw, sqlite_reader.ReaderConnection)
        raw.begin_with_next()

    return engine


SQL_CONNECTS = Counter("hotline_sql_connections_opened",
                       "Database connections opened (a pool that churns opens them all the time)",
                       registry=REGISTRY)


def _count_connections(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine.pool, "connect")
    def _connect(_dbapi: Any, _record: Any) -> None:
        SQL_CONNECTS.inc()


# A pooled PostgreSQL connection unused for this long is pinged before it is handed out.
IDLE_PING_S = 5.0


def _check_on_checkout(engine: AsyncEngine) -> None:
    """Hand out no connection the server has ended, without a round trip per checkout.

    A session the server ended (a restart, a failover, pg_terminate_backend) is one asyncpg
    has already seen close: that check is free. A connection that sat idle is also pinged
    (SQLAlchemy's pool_pre_ping pinged on every checkout, a fifth of an inbound message's
    time on PostgreSQL). Either failure means the server dropped its sessions, so the whole
    pool is invalidated (InvalidatePoolError): every connection older than now is replaced at
    its next checkout, where before each retry of a message took the next dead one."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _checkin(_dbapi: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checkout(dbapi: Any, record: Any, _proxy: Any) -> None:
        if dbapi.driver_connection.is_closed():
            raise InvalidatePoolError("the server ended this session")
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return
        try:
            dbapi.ping()
        except Exception as e:
            # The pool reconnects this one and replaces the others as they are checked out.
            raise InvalidatePoolError("idle connection failed its ping") from e


class _SqliteWithHints(SQLiteCompiler):
    """SQLite's compiler, rendering a query's table hint after its table (`with_hint(table,
    "INDEXED BY ix", "sqlite")`): SQLAlchemy's own drops them without a word. Without one,
    SQLite's planner (no statistics) counted the open cases by scanning the status index,
    closed history and all, on every reconciler pass."""

    def get_from_hint_text(self, table: Any, text: str | None) -> str | None:
        return text


def _sqlite_pragmas(engine: AsyncEngine, autocheckpoint_pages: int | None) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself; the driver's legacy mode skips it for SELECTs.
        dbapi.isolation_level = None
        busy_ms = int(sqlite_inline.BUSY_TIMEOUT_S * 1000)
        pragmas = ["journal_mode=WAL", "foreign_keys=ON", f"busy_timeout={busy_ms}",
                   "synchronous=NORMAL"]
        if autocheckpoint_pages is not None:
            pragmas.append(f"wal_autocheckpoint={autocheckpoint_pages}")
        for pragma in pragmas:
            dbapi.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        # Taking the write lock at BEGIN avoids SQLITE_BUSY deadlocks on lock upgrade. While
        # another process holds it, wait with asyncio sleeps: the loop keeps serving (the
        # statement runs on the loop's thread, sqlite_inline).
        raw = conn.connection.driver_connection
        if isinstance(raw, sqlite_inline.InlineConnection):
            try:
                await_only(sqlite_inline.begin(raw.sqlite))  # the direct path's own wait
                return
            except sqlite3.OperationalError:
                pass  # out of time, or not a lock: SQLAlchemy's BEGIN below reports it
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


@functools.cache
def _script_heads() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(_alembic_config()).get_heads())


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (idempotent; safe on every start)."""
    cfg = _alembic_config()

    def _upgrade(sync_conn: Connection) -> None:
        # Already current (every start but the first): skip Alembic's script loading.
        current = MigrationContext.configure(sync_conn).get_current_heads()
        if frozenset(current) == _script_heads():
            return
        cfg.attributes["connection"] = sync_conn
        # "heads": channel migrations may branch from a common parent.
        command.upgrade(cfg, "heads")

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The schema revision the database is at (None before the first migration).

    Channel migrations branch, so a database can be at several heads: they are joined by ",".
    """
    def _rev(sync_conn: Connection) -> str | None:
        heads = MigrationContext.configure(sync_conn).get_current_heads()
        return ",".join(sorted(heads)) or None

    async with engine.connect() as conn:
        return await conn.run_sync(_rev)
