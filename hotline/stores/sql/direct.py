"""Prebuilt statements run on the database driver's own connection, for the per-message path.

SQLAlchemy's execution layer (connection and transaction objects, execution context, result
proxy, a greenlet switch per call) cost about 120 us per statement here, four times what SQLite
takes to run our small indexed statements: measured, the inbound store took 601 us through it
and 137 us this way (bench/README.md). So the statements an inbound message runs are written
once as SQLAlchemy Core, compiled once per dialect, and executed on the pooled connection's
driver (sqlite3 or asyncpg) with SQLAlchemy's own bind and result processors. The connection
still comes from and goes back to the engine's pool; driver errors are raised as SQLAlchemy's
exceptions (parameters hidden), so callers catch one family. See docs/stores.md.

Store functions that run on this path take `Sql`: either a `DirectTx` or an AsyncConnection,
so the rest of the service calls them as before.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from asyncpg.transaction import Transaction
from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.pool.base import _ConnectionFairy
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import greenlet_spawn

from hotline.stores.sql import sqlite_inline

Row = Sequence[Any]
_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Per positional parameter: its name, its value when the caller gives none (a literal in
    # the statement), whether the caller must give it, and its converter.
    binds: tuple[tuple[str, Any, bool, _Processor], ...]
    # Result columns that need converting (SQLite's datetime strings, booleans): index, how.
    results: tuple[tuple[int, Callable[[Any], Any]], ...]

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional parameters, converted, from the caller's named ones."""
        out = []
        for name, constant, required, proc in self.binds:
            if name in params:
                value = params[name]
            elif required:
                raise KeyError(f"parameter {name!r} missing")
            else:
                value = constant
            out.append(proc(value) if proc is not None and value is not None else value)
        return out

    def row(self, raw: Sequence[Any] | None) -> Row | None:
        """A driver row with the columns that need it converted (as SQLAlchemy would)."""
        if raw is None:
            return None
        if not self.results:
            return tuple(raw)
        row = list(raw)
        for i, proc in self.results:
            if row[i] is not None:
                row[i] = proc(row[i])
        return tuple(row)


class Prebuilt:
    """A Core statement compiled once per dialect. `keys` name an INSERT's columns when the
    statement has no explicit values (they are the parameter names, as with conn.execute)."""

    def __init__(self, statement: Executable, keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.keys = tuple(keys) if keys is not None else None
        self._by_dialect: dict[tuple[str, str], _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        found = self._by_dialect.get(key)
        if found is None:
            found = self._by_dialect[key] = self._compile(dialect)
        return found

    def _compile(self, dialect: Dialect) -> _Compiled:
        element = cast(ClauseElement, self.statement)
        c = element.compile(dialect=dialect, column_keys=list(self.keys or ()) or None)
        if not isinstance(c, SQLCompiler) or c.positiontup is None:
            raise TypeError(f"{dialect.name}: direct execution needs positional parameters")
        binds = []
        for name in c.positiontup:
            bind = c.binds[name]
            binds.append((name, bind.value, bind.required,
                          bind.type.dialect_impl(dialect).bind_processor(dialect)))
        columns = getattr(self.statement, "exported_columns", None) or ()
        results = tuple((i, proc) for i, col in enumerate(columns) if (
            proc := col.type.dialect_impl(dialect).result_processor(dialect, None)) is not None)
        return _Compiled(c.string, tuple(binds), results)


class DirectTx:
    """One transaction on a driver connection; see the subclasses."""

    dialect: Dialect

    async def first(self, stmt: Prebuilt, params: Mapping[str, Any]) -> Row | None:
        """The statement's first row (converted as SQLAlchemy would), or None."""
        raise NotImplementedError

    async def run(self, stmt: Prebuilt, params: Mapping[str, Any]) -> int:
        """Execute; the number of rows changed."""
        raise NotImplementedError

    async def command(self, *sql: str) -> None:
        """Statements without parameters or rows (SAVEPOINT and its kin: group.py), in one
        round trip where the database has round trips."""
        raise NotImplementedError

    async def each_first(self, stmt: Prebuilt, params: Sequence[Mapping[str, Any]]
                         ) -> list[Row | None]:
        """`first` for each set of parameters, in order (PostgreSQL: one round trip; the
        statement must return exactly one row per set)."""
        return [await self.first(stmt, p) for p in params]


class _SqliteTx(DirectTx):
    def __init__(self, conn: sqlite3.Connection, dialect: Dialect) -> None:
        self.conn = conn
        self.dialect = dialect

    def _cursor(self, stmt: Prebuilt, params: Mapping[str, Any]) -> tuple[sqlite3.Cursor,
                                                                          _Compiled]:
        c = stmt.compiled(self.dialect)
        try:
            return self.conn.execute(c.sql, c.args(params)), c
        except sqlite3.Error as e:
            raise _sqlite_error(c.sql, e) from e

    async def first(self, stmt: Prebuilt, params: Mapping[str, Any]) -> Row | None:
        cur, c = self._cursor(stmt, params)
        try:
            return c.row(cur.fetchone())
        except sqlite3.Error as e:
            raise _sqlite_error(c.sql, e) from e
        finally:
            cur.close()  # a RETURNING statement left open would block COMMIT

    async def run(self, stmt: Prebuilt, params: Mapping[str, Any]) -> int:
        cur, _c = self._cursor(stmt, params)
        try:
            return cur.rowcount
        finally:
            cur.close()

    async def command(self, *sql: str) -> None:
        for one in sql:
            try:
                self.conn.execute(one).close()
            except sqlite3.Error as e:
                raise _sqlite_error(one, e) from e


class _PgTx(DirectTx):
    def __init__(self, conn: asyncpg.Connection, dialect: Dialect) -> None:
        self.conn = conn
        self.dialect = dialect

    async def first(self, stmt: Prebuilt, params: Mapping[str, Any]) -> Row | None:
        c = stmt.compiled(self.dialect)
        try:
            return c.row(await self.conn.fetchrow(c.sql, *c.args(params)))
        except asyncpg.PostgresError as e:
            raise _pg_error(c.sql, e) from e

    async def run(self, stmt: Prebuilt, params: Mapping[str, Any]) -> int:
        c = stmt.compiled(self.dialect)
        try:
            status = await self.conn.execute(c.sql, *c.args(params))
        except asyncpg.PostgresError as e:
            raise _pg_error(c.sql, e) from e
        last = status.rpartition(" ")[2]  # "UPDATE 1", "INSERT 0 1"
        return int(last) if last.isdigit() else 0

    async def each_first(self, stmt: Prebuilt, params: Sequence[Mapping[str, Any]]
                         ) -> list[Row | None]:
        c = stmt.compiled(self.dialect)
        try:
            rows = await self.conn.fetchmany(c.sql, [c.args(p) for p in params])
        except asyncpg.PostgresError as e:
            raise _pg_error(c.sql, e) from e
        if len(rows) != len(params):
            raise TypeError("each_first: a statement must return one row per execution")
        return [c.row(r) for r in rows]

    async def command(self, *sql: str) -> None:
        query = "; ".join(sql)  # no arguments: the simple protocol, one query
        try:
            await self.conn.execute(query)
        except asyncpg.PostgresError as e:
            raise _pg_error(query, e) from e


def _sqlite_error(sql: str, e: sqlite3.Error) -> exc.StatementError:
    return exc.DBAPIError.instance(sql, None, e, sqlite3.Error, hide_parameters=True)


def _pg_error(sql: str, e: asyncpg.PostgresError) -> exc.DBAPIError:
    if isinstance(e, asyncpg.IntegrityConstraintViolationError):
        return exc.IntegrityError(sql, None, e, hide_parameters=True)
    if isinstance(e, _PG_GONE):
        return exc.OperationalError(sql, None, e, hide_parameters=True,
                                    connection_invalidated=True)
    return exc.DBAPIError(sql, None, e, hide_parameters=True)


# The server closed or is shutting down the session (SQLSTATE classes 08 and 57).
_PG_GONE = (asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError)
# Errors after which a PostgreSQL connection cannot be trusted: the pool must drop it.
# (InternalClientError: the protocol was left mid-operation, as when the server ended the
# session while the connection sat in the pool.)
_PG_BROKEN = (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, TimeoutError)


@asynccontextmanager
async def begin(engine: AsyncEngine, *, write: bool = True) -> AsyncIterator[DirectTx]:
    """A transaction on a pooled connection's driver: committed when the block ends, rolled
    back if it raises. On SQLite a writing transaction takes the write lock up front (waiting
    for another process's lock with asyncio sleeps, as the engine's own transactions do). On
    PostgreSQL a connection that fails at BEGIN is replaced once (`_pg_begin`)."""
    raw = await engine.raw_connection()
    started: Transaction | None = None
    if isinstance(raw.driver_connection, asyncpg.Connection):
        raw, started = await _pg_begin(engine, raw)  # on failure it let go of the connection
    try:
        driver = raw.driver_connection
        if isinstance(driver, sqlite_inline.InlineConnection):
            async with _sqlite_tx(driver.sqlite, engine.dialect, write) as tx:
                yield tx
        elif started is not None:
            async with _pg_tx(raw, started, engine.dialect) as tx:
                yield tx
        else:
            raise TypeError(f"no direct execution for {type(driver).__name__}")
    finally:
        await _release(raw)


async def _release(raw: PoolProxiedConnection) -> None:
    driver = raw.driver_connection
    if (isinstance(driver, sqlite_inline.InlineConnection) and driver.is_open
            and not driver.sqlite.in_transaction and isinstance(raw, _ConnectionFairy)):
        # Our COMMIT or ROLLBACK already ended the transaction: skip the pool's
        # rollback-on-return, the one step that needs a greenlet (measured with it: 50 us of
        # every inbound message). SQLAlchemy's own Connection returns connections this way
        # after it has rolled back.
        raw._checkin(transaction_was_reset=True)
        return
    if isinstance(driver, asyncpg.Connection) and driver.is_in_transaction():
        # SQLAlchemy's rollback-on-return does not see a transaction it did not start: never
        # hand the next user a connection still inside ours.
        raw.invalidate()
    await greenlet_spawn(raw.close)


@asynccontextmanager
async def _sqlite_tx(sq: sqlite3.Connection, dialect: Dialect, write: bool
                     ) -> AsyncIterator[DirectTx]:
    try:
        await sqlite_inline.begin(sq, immediate=write)
    except sqlite3.Error as e:
        raise _sqlite_error("BEGIN", e) from e
    try:
        yield _SqliteTx(sq, dialect)
    except BaseException:
        _rollback(sq)
        raise
    try:
        sq.execute("COMMIT")
    except sqlite3.Error as e:
        _rollback(sq)
        raise _sqlite_error("COMMIT", e) from e


def _rollback(sq: sqlite3.Connection) -> None:
    # After some errors (a full disk, an I/O error) SQLite has already rolled back; a second
    # ROLLBACK would raise and hide the error that matters.
    if sq.in_transaction:
        sq.execute("ROLLBACK")


async def _pg_begin(engine: AsyncEngine, raw: PoolProxiedConnection
                    ) -> tuple[PoolProxiedConnection, Transaction]:
    """`raw` (or its replacement) with a transaction begun.

    A session the server ended a moment ago (a restart, pg_terminate_backend) can look alive
    until its first statement: BEGIN then fails before the caller's block has run anything, so
    the connection (and the pool's others of its age) is dropped and BEGIN tried once more on
    a fresh one. Only a session that breaks later fails the caller, whose retry then also
    gets a fresh connection."""
    for attempt in (1, 2):
        pg = cast(asyncpg.Connection, raw.driver_connection)
        started = pg.transaction()
        try:
            await started.start()
            return raw, started
        except BaseException as e:
            error = _pg_failed(raw, e, "BEGIN")
            await _release(raw)
            if error is None:
                raise
            if attempt == 2 or not error.connection_invalidated:
                raise error from e
        raw = await engine.raw_connection()
    raise AssertionError("unreachable")


@asynccontextmanager
async def _pg_tx(raw: PoolProxiedConnection, started: Transaction, dialect: Dialect
                 ) -> AsyncIterator[DirectTx]:
    pg = cast(asyncpg.Connection, raw.driver_connection)
    try:
        try:
            yield _PgTx(pg, dialect)
        except BaseException:
            if not pg.is_closed():  # else the server has ended the transaction with the session
                await started.rollback()
            raise
        await started.commit()
    except BaseException as e:
        error = _pg_failed(raw, e, "COMMIT")
        if error is None:
            raise
        raise error from e


def _pg_failed(raw: PoolProxiedConnection, e: BaseException, step: str
               ) -> exc.DBAPIError | None:
    """What to raise for `e` (None: `e` itself), after dropping a connection that can no
    longer be trusted; when the server ended the session, the pool's other connections of
    its age go too, as SQLAlchemy's own Connection does on a disconnect."""
    error: exc.DBAPIError | None = None
    if isinstance(e, exc.DBAPIError):
        drop = e.connection_invalidated
    elif isinstance(e, asyncpg.PostgresError):
        error = _pg_error(step, e)
        drop = error.connection_invalidated
    elif isinstance(e, _PG_BROKEN):
        error = exc.OperationalError("direct transaction", None, e, hide_parameters=True,
                                     connection_invalidated=True)
        drop = True
    else:
        # Cancelled mid-statement, the connection may be left mid-protocol: never reuse it.
        drop = isinstance(e, asyncio.CancelledError)
    if drop:
        if cast(asyncpg.Connection, raw.driver_connection).is_closed() \
                and isinstance(raw, _ConnectionFairy):
            raw._pool._invalidate(raw, e if isinstance(e, Exception) else None,
                                  _checkin=False)
        raw.invalidate()
    return error


Sql = AsyncConnection | DirectTx


async def first(conn: Sql, stmt: Prebuilt, params: Mapping[str, Any]) -> Row | None:
    """The first row of a prebuilt statement, on either kind of connection."""
    if isinstance(conn, DirectTx):
        return await conn.first(stmt, params)
    row: Row | None = (await conn.execute(stmt.statement, dict(params))).first()
    return row


async def run(conn: Sql, stmt: Prebuilt, params: Mapping[str, Any]) -> int:
    """Execute a prebuilt statement on either kind of connection; rows changed."""
    if isinstance(conn, DirectTx):
        return await conn.run(stmt, params)
    return int((await conn.execute(stmt.statement, dict(params))).rowcount)

