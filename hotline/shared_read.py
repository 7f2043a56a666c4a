"""Reads many callers ask for at once, done once for all of them, never older than the ask.

Under a surge two hundred consoles ask for the same queue page within moments of each other;
each read costs Redis and SQL round trips and a few milliseconds of the loop. `NextRead` lets
callers that ask while a read is on its way wait for the next one, which starts after every one
of them asked and is shared by all: nobody gets an answer read before their question (a
counselor who just took a case never sees it still waiting), and at most one read a key runs,
with one more gathering callers behind it.

A read whose answer may be a moment old (`fresh_s`) also serves callers who ask within that
many seconds of its start: under load they asked back to back, and each read started a new one.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
Owner = TypeVar("Owner")


class NextRead(Generic[K, T]):
    """`get(key)`: the result of a `read(key)` that started after the call, or (`fresh_s`)
    at most that many seconds before it."""

    def __init__(self, read: Callable[[K], Awaitable[T]], fresh_s: float = 0.0) -> None:
        self._read = read
        self._fresh_s = fresh_s
        self._running: dict[K, asyncio.Task[T]] = {}
        self._gathering: dict[K, asyncio.Task[T]] = {}
        # The last read that succeeded, by key: when it started, and its answer.
        self._last: dict[K, tuple[float, T]] = {}

    async def get(self, key: K) -> T:
        if self._fresh_s > 0:
            last = self._last.get(key)
            if last is not None and asyncio.get_running_loop().time() - last[0] <= self._fresh_s:
                return last[1]
        task = self._gathering.get(key)
        if task is None:
            task = self._gathering[key] = asyncio.create_task(self._next(key))
            task.add_done_callback(_retrieved)
        # Shielded: one caller leaving (a client gone) does not cancel the others' read.
        return await asyncio.shield(task)

    async def _next(self, key: K) -> T:
        before = self._running.get(key)
        if before is not None:
            await asyncio.wait([before])  # its outcome is its own callers'
        # From here on, a new caller asked after this read starts: it gathers for the next.
        del self._gathering[key]
        me = asyncio.current_task()
        assert me is not None
        self._running[key] = me
        began = asyncio.get_running_loop().time()
        try:
            found = await self._read(key)
            if self._fresh_s > 0:
                self._last[key] = (began, found)
            return found
        finally:
            if self._running.get(key) is me:
                del self._running[key]


class NextReads(Generic[Owner, K, T]):
    """A NextRead for each owner (an app's Redis client, say), forgotten with it: a module's
    shared reads, for whichever app calls."""

    def __init__(self, fresh_s: float = 0.0) -> None:
        self._fresh_s = fresh_s
        self._of: weakref.WeakKeyDictionary[Owner, NextRead[K, T]] = weakref.WeakKeyDictionary()

    def of(self, owner: Owner, read: Callable[[K], Awaitable[T]]) -> NextRead[K, T]:
        """The owner's NextRead, made with `read` on its first use."""
        found = self._of.get(owner)
        if found is None:
            found = self._of[owner] = NextRead(read, self._fresh_s)
        return found


def _retrieved(task: asyncio.Task[object]) -> None:
    # Every caller may have left (shielded, the read went on): its error is theirs, not a
    # "never retrieved" warning.
    if not task.cancelled():
        task.exception()
