"""SQLite's WAL checkpoints on a worker thread instead of inside a message's COMMIT.

With SQLite's default, the COMMIT that grows the write-ahead log past 1000 pages copies the log
into the database file and syncs it, on the event loop's thread (sqlite_inline): measured, one
commit in about two hundred took 8 ms, and the checkpoints cost a quarter of the inbound
store's SQLite time. The server's engine is opened with `background_checkpoint=True`: its own
connections only checkpoint once the log is very large (a backstop, should this job stall), and
this job runs a PASSIVE checkpoint every `INTERVAL_S` on its own connection, in a thread.
Python's sqlite3 releases the GIL while SQLite works, so the loop keeps serving; PASSIVE never
waits for readers or writers. See docs/stores.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

INTERVAL_S = 0.5
# The engine's own connections checkpoint only past this many pages (4 KiB each): a backstop.
BACKSTOP_PAGES = 20000


class Checkpointer:
    """One connection of its own, used only from the worker thread it runs in."""

    def __init__(self, path: str, *, uri: bool = False) -> None:
        self.path = path
        self.uri = uri
        self._conn: sqlite3.Connection | None = None

    def checkpoint(self) -> tuple[int, int]:
        """One PASSIVE checkpoint: (pages in the log, pages copied into the database)."""
        if self._conn is None:
            # check_same_thread off: the executor may run each call on another of its threads;
            # calls never overlap (run() awaits each one).
            self._conn = sqlite3.connect(self.path, uri=self.uri, isolation_level=None,
                                         check_same_thread=False, timeout=1.0)
        _busy, in_log, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(in_log), int(copied)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def run(self, stop: asyncio.Event, interval_s: float = INTERVAL_S) -> None:
        """Until `stop`: a checkpoint every `interval_s`, off the loop's thread."""
        try:
            while not stop.is_set():
                try:
                    await asyncio.to_thread(self.checkpoint)
                except sqlite3.Error as e:
                    log.warning("wal checkpoint failed", extra={"error": type(e).__name__})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval_s)
        finally:
            await asyncio.to_thread(self.close)


def for_url(url: str) -> Checkpointer | None:
    """A checkpointer for an on-disk SQLite database URL; None for anything else."""
    if not url.startswith("sqlite"):
        return None
    path = make_url(url).database or ":memory:"
    if path == ":memory:" or "mode=memory" in path:
        return None
    return Checkpointer(path, uri=path.startswith("file:"))
