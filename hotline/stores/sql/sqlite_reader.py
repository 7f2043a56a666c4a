"""The reader's SQLite connections (engine.open_reader): aiosqlite's worker thread, one trip to
it a statement.

Through SQLAlchemy's aiosqlite adapter a statement is four trips to the worker thread (cursor,
execute, fetchall, close), and each waits for a turn of the loop to hear back: on a saturated
loop the leads' reads (the floor's ten statements, the cover's six, their BEGINs and
ROLLBACKs) took 1.6-2.8 s at p50 in the surge bench. Here only the statement goes to the
thread, its rows fetched there with it, and a transaction's BEGIN with its first statement;
making and closing the cursor, and ending a transaction that only read, touch nothing SQLite
must work at, and run inline.
Everything else is aiosqlite's own. See docs/stores.md.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager

from hotline.stores.sql.sqlite_inline import BUSY_TIMEOUT_S


class _OneTripCursor(aiosqlite.Cursor):
    """A cursor whose `execute` runs the statement and fetches all its rows in one trip."""

    def __init__(self, conn: aiosqlite.Connection, cursor: sqlite3.Cursor) -> None:
        super().__init__(conn, cursor)
        self._fetched: deque[Any] = deque()

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None
                      ) -> _OneTripCursor:
        cursor = self._cursor
        args = () if parameters is None else parameters
        conn = self._conn
        assert isinstance(conn, ReaderConnection)
        begin, conn.begin_deferred = conn.begin_deferred, False

        def run() -> list[Any]:
            if begin:
                cursor.execute("BEGIN")
            cursor.execute(sql, args)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

        self._fetched = deque(await self._execute(run))  # type: ignore[no-untyped-call]
        return self

    async def fetchone(self) -> Any:
        return self._fetched.popleft() if self._fetched else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        n = self._cursor.arraysize if size is None else size
        return [self._fetched.popleft() for _ in range(min(n, len(self._fetched)))]

    async def fetchall(self) -> list[Any]:
        rows, self._fetched = list(self._fetched), deque()
        return rows

    async def close(self) -> None:
        self._cursor.close()


class ReaderConnection(aiosqlite.Connection):
    """aiosqlite's connection, its cursors made inline (`_OneTripCursor`); a transaction's
    BEGIN goes with its first statement (`begin_with_next`), and its end (a read's: nothing
    to write) runs inline.

    Inline, nothing meets a statement still running on the thread: a connection's statements
    are awaited one at a time, and SQLAlchemy discards a connection whose caller was cancelled
    mid-statement (its close queues behind the statement; tests/test_sql_reader.py)."""

    begin_deferred = False

    def begin_with_next(self) -> None:
        """BEGIN (deferred: the snapshot starts at the first read) in the next statement's
        trip to the thread."""
        self.begin_deferred = True

    async def rollback(self) -> None:
        self.begin_deferred = False
        self._conn.rollback()

    async def commit(self) -> None:
        self.begin_deferred = False
        self._conn.commit()

    @contextmanager  # aiosqlite's: awaitable, and an async context manager
    async def cursor(self) -> _OneTripCursor:  # type: ignore[override]
        return _OneTripCursor(self, self._conn.cursor())


def creator(path: str, *, uri: bool = False) -> Callable[[], Any]:
    """An `async_creator` for create_async_engine: reader connections to `path`."""

    async def connect() -> ReaderConnection:
        # check_same_thread off, as aiosqlite's own: the worker thread runs the statements,
        # the loop's thread makes and closes cursors (never at once: one transaction at a
        # time per connection, each statement awaited).
        conn = ReaderConnection(lambda: sqlite3.connect(
            path, uri=uri, timeout=BUSY_TIMEOUT_S, check_same_thread=False,
            isolation_level=None), iter_chunk_size=64)
        await conn
        return conn

    return connect
