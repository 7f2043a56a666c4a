"""How updates are processed: concurrently across chats, strictly in order within one chat,
and each update id once.

PTB's own concurrency (`concurrent_updates`) loses per-chat order; this processor takes a
per-chat lock around each update (asyncio locks are FIFO, and PTB creates one task per update
in arrival order, so a chat's updates run in the order they arrived). Inside the lock it claims
the update id in Redis (SET NX): a re-sent or duplicated update is skipped, on any instance.
There is no "highest id seen" watermark, so an update that arrives late (out of order) is still
handled. When a handler fails, the claim is released and the webhook answers 500, so Telegram
re-sends it. The webhook waits briefly for the outcome (`expect`), which keeps the message
stored in SQL before Telegram is answered in the normal case, and answers anyway if it is slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger("bots")

DONE, FAILED, DUPLICATE = "done", "failed", "duplicate"

Claim = Callable[[int], Awaitable[bool]]
Release = Callable[[int], Awaitable[None]]


def chat_key(update: object) -> int | None:
    """The chat an update belongs to (or its user, for updates without a chat)."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Per-chat serial, cross-chat concurrent, once per update id."""

    def __init__(self, max_concurrent: int, claim: Claim, release: Release) -> None:
        super().__init__(max_concurrent)
        self._claim = claim
        self._release = release
        self._locks: dict[int, tuple[asyncio.Lock, list[int]]] = {}
        self._failed: set[int] = set()
        self._waiters: dict[int, list[asyncio.Future[str]]] = {}

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        # Anyone still waiting for an outcome is told the update was not finished.
        for uid in list(self._waiters):
            self._settle(uid, FAILED)

    @contextlib.asynccontextmanager
    async def _chat_lock(self, key: int | None) -> AsyncIterator[None]:
        if key is None:
            yield
            return
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = (asyncio.Lock(), [0])
        entry[1][0] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1][0] -= 1
            if entry[1][0] == 0:
                # Locks of quiet chats are dropped: memory stays bounded by active chats.
                del self._locks[key]

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        uid = update.update_id if isinstance(update, Update) else None
        async with self._chat_lock(chat_key(update)):
            if uid is not None and not await self._claim(uid):
                if inspect.iscoroutine(coroutine):
                    coroutine.close()
                log.info("duplicate telegram update skipped", extra={"update": uid})
                self._settle(uid, DUPLICATE)
                return
            try:
                await coroutine
            finally:
                failed = uid is not None and uid in self._failed
                if uid is not None:
                    self._failed.discard(uid)
                    if failed:
                        await self._release(uid)
                    self._settle(uid, FAILED if failed else DONE)

    def mark_failed(self, update: object) -> None:
        """Called by the error handler: the update's handling raised."""
        if isinstance(update, Update):
            self._failed.add(update.update_id)

    def expect(self, update_id: int) -> asyncio.Future[str]:
        """A future resolved with DONE, FAILED or DUPLICATE when this update has run."""
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(update_id, []).append(fut)
        return fut

    def forget(self, update_id: int, fut: asyncio.Future[str]) -> None:
        """Stop waiting (the webhook answered before the update finished)."""
        waiting = self._waiters.get(update_id)
        if waiting and fut in waiting:
            waiting.remove(fut)
            if not waiting:
                del self._waiters[update_id]

    def _settle(self, update_id: int, outcome: str) -> None:
        for fut in self._waiters.pop(update_id, []):
            if not fut.done():
                fut.set_result(outcome)
