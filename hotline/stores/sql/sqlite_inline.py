"""SQLite on the event loop's own thread, behind SQLAlchemy's aiosqlite dialect.

aiosqlite runs every call (cursor, execute, fetch, close: four per statement through
SQLAlchemy) on a worker thread and wakes the loop through its self-pipe each time; measured
here, a trivial SELECT cost 0.9 ms that way, most of an inbound message's time. SQLite itself
answers our small indexed statements in microseconds, so this connection runs them inline: same
API as aiosqlite.Connection (SQLAlchemy's adapter and aiosqlite's Cursor use it unchanged),
no thread. What must not block the loop is waiting for a lock another process holds (the CLI);
the engine's BEGIN hook waits for that with asyncio sleeps (hotline.stores.sql.engine), and
busy_timeout stays short. See docs/stores.md.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite


class _InlineQueue:
    """Stands in for aiosqlite's queue to its worker thread: runs each job at once.

    SQLAlchemy's adapter puts one job straight on the queue (setting isolation_level)."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as e:  # handed to the waiting future, as aiosqlite does
            if future is not None and not future.done():
                future.set_exception(e)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite.Connection that never starts its thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _InlineQueue()  # type: ignore[assignment]

    @property
    def is_open(self) -> bool:
        return self._running and self._connection is not None

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection itself (for statements run without SQLAlchemy: direct.py)."""
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return self._connection

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._connect().__await__()

    def stop(self) -> asyncio.Future[Any] | None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        return None

    async def close(self) -> None:
        self.stop()


def creator(path: str, *, uri: bool = False) -> Callable[[], Any]:
    """An `async_creator` for create_async_engine: inline connections to `path`."""

    async def connect() -> InlineConnection:
        # check_same_thread off: the pool may close a connection from a finalizer; every use
        # is on the loop thread and the engine's pool serializes them.
        return await InlineConnection(lambda: sqlite3.connect(
            path, uri=uri, timeout=BUSY_TIMEOUT_S, check_same_thread=False,
            isolation_level=None))

    return connect


# How long BEGIN IMMEDIATE keeps trying while another process (the CLI) holds the write lock,
# and how long it sleeps between tries.
LOCK_WAIT_S = 30.0
LOCK_RETRY_S = 0.01


def try_begin_immediate(sq: sqlite3.Connection) -> bool:
    """Take the write lock now; False while another process holds it."""
    try:
        sq.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.OperationalError as e:
        if "locked" not in str(e) and "busy" not in str(e):
            raise
        return False


async def begin(sq: sqlite3.Connection, *, immediate: bool = True) -> None:
    """BEGIN, and for a writer the write lock up front: waited for with asyncio sleeps so the
    loop keeps serving while another process writes; "database is locked" after LOCK_WAIT_S."""
    if not immediate:
        sq.execute("BEGIN")
        return
    deadline = time.monotonic() + LOCK_WAIT_S
    while not try_begin_immediate(sq):
        if time.monotonic() >= deadline:
            sq.execute("BEGIN IMMEDIATE")  # raises "database is locked"
        await asyncio.sleep(LOCK_RETRY_S)


# How long a statement may block the loop waiting for another process's lock before SQLite
# gives up with "database is locked". Only BEGIN IMMEDIATE waits for the write lock, and the
# engine retries that with asyncio sleeps; in WAL mode nothing else waits on other processes.
BUSY_TIMEOUT_S = 0.02
