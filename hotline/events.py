"""Live events between server instances and out to browsers (Zulip's model).

Every change is appended to one Redis stream; stream ids are event ids. Each process runs one
reader that follows the stream and fans events out to per-client queues; a client that
reconnects sends the last id it saw and gets the gap replayed, a chunk at a time and only
within a window (otherwise a "reset", after which it reloads from the JSON API). Events carry
ids and enumerations only: the text of a message is fetched through the access-checked API,
never sent through Redis. See docs/events.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from hotline.domain.event_ids import id_tuple
from hotline.domain.event_types import EventType
from hotline.stores.live.keys import EVENT_LOG_MAXLEN, Keys
from hotline.subscriptions import Batch, Event, EventFilter, Subscription, offer_to

log = logging.getLogger(__name__)

# The subscriber's side lives in subscriptions.py; its names are the Hub's API too.
__all__ = ["Event", "EventFilter", "Hub", "Publisher", "ReplayGap", "ReplayWindow",
           "Subscription", "publish", "publish_all"]

_READ_BLOCK_MS = 2000
# After a read that found events, the reader waits this long before the next, so events close
# together are read in one call (one read per event cost as much as publishing it).
_BATCH_WINDOW_S = 0.02
# Events fanned out at a time; the loop goes on between chunks once a read's fan-out held it
# this long (a step after each chunk, 10 a read, kept the reader behind on a busy loop).
_FAN_OUT_CHUNK, _FAN_OUT_STEP_S = 50, 0.005
# Streams woken in one step of the loop, at most: each writes in the next step (about 75 us a
# stream; 200 woken at once held a step 15-30 ms). Those an event does not wake cost no step:
# a slice of 40 subscribers a step kept the reader seconds behind the log on a busy loop.
_WAKE_PER_STEP = 40
# Replay reads the log this many entries at a time, at most this many replays at once.
REPLAY_CHUNK = 100
_REPLAY_READERS = 4


async def publish(redis: Redis, keys: Keys, event: Event) -> str | None:
    """Append an event; returns its id, or None if Redis is unreachable (logged, not raised).

    Publishing happens after the SQL commit: a lost event delays a screen update, it never
    loses data, and clients reload state when they reconnect.
    """
    ids = await publish_all(redis, keys, (event,))
    return ids[0] if ids else None


# Several events in one call: a pipeline of N XADDs costs redis-py N packs and N parses (10
# events: 185-195 us of this process's CPU), one script call one of each (70-90 us).
_XADD_ALL = ("local ids = {} for i = 2, #ARGV do ids[i - 1] = redis.call('XADD', KEYS[1], "
             "'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i]) end return ids")
_xadd_all: weakref.WeakKeyDictionary[Redis, AsyncScript] = weakref.WeakKeyDictionary()


async def publish_all(redis: Redis, keys: Keys, events: Sequence[Event]) -> list[str]:
    """Append several events in order, in one round trip; their ids ([] if Redis is
    unreachable, logged, not raised)."""
    try:
        # The command itself: redis-py's xadd() checks its arguments on every call, which
        # cost as much as the round trip.
        if len(events) == 1:
            return [str(await redis.execute_command(  # type: ignore[no-untyped-call]
                *_xadd(keys, events[0])))]
        script = _xadd_all.get(redis)
        if script is None:
            script = _xadd_all[redis] = redis.register_script(_XADD_ALL)
        ids: Any = await script(keys=[keys.events],
                                args=[EVENT_LOG_MAXLEN, *(encode(e) for e in events)])
        return [str(eid) for eid in ids]
    except (RedisError, OSError) as e:
        log.warning("event not published", extra={"event_type": events[0].get("type"),
                                                  "error": type(e).__name__})
        return []


class Publisher:
    """Appends this process's events, coalescing those of concurrent requests: events handed
    over while an append is on its way go together in the next one, so under load one round
    trip carries many requests' events (ioredis's auto-pipelining, for the event log only).
    Order is kept: batches go one after another, events in the order they were handed over.
    An event handed over while nothing is on its way is appended at once in the caller's own
    task, at exactly `publish_all`'s cost."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._pending: list[tuple[Sequence[Event], asyncio.Future[list[str]]]] = []
        self._sender: asyncio.Task[None] | None = None
        # Clear while a caller appends its own events in its own task (see publish_all).
        self._idle = asyncio.Event()
        self._idle.set()

    async def publish_all(self, events: Sequence[Event]) -> list[str]:
        """As `publish_all`: the events' ids, [] if Redis is unreachable (logged, not raised).
        A caller cancelled while it waits behind an append does not take its events back."""
        if not events:
            return []
        if self._sender is None and self._idle.is_set():
            # Nothing on its way: append in the caller's own task, without a task switch (the
            # common case below saturation). Whatever is handed over meanwhile goes next.
            self._idle.clear()
            try:
                return await publish_all(self.redis, self.keys, events)
            finally:
                self._idle.set()
                if self._pending and self._sender is None:
                    self._sender = asyncio.create_task(self._send(), name="event-publisher")
        done: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        self._pending.append((events, done))
        if self._sender is None and self._idle.is_set():
            self._sender = asyncio.create_task(self._send(), name="event-publisher")
        return await done

    async def drain(self) -> None:
        """Wait until everything handed over is appended (at shutdown, before Redis closes)."""
        await self._idle.wait()
        while self._sender is not None:
            # A failure was handed to the waiters already; shutdown goes on.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._sender)

    async def _send(self) -> None:
        batch: list[tuple[Sequence[Event], asyncio.Future[list[str]]]] = []
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                ids = await publish_all(self.redis, self.keys,
                                        [e for events, _ in batch for e in events])
                at = 0
                for events, done in batch:
                    if not done.done():
                        done.set_result(ids[at:at + len(events)])
                    at += len(events)
                batch = []
        except BaseException as e:
            # Nobody is left waiting: a cancel (shutdown) reads as Redis gone, a bug is raised
            # to every waiter.
            for _events, done in (*batch, *self._pending):
                if not done.done():
                    if isinstance(e, Exception):
                        done.set_exception(e)
                    else:
                        done.set_result([])
            self._pending = []
            raise
        finally:
            self._sender = None


def _xadd(keys: Keys, event: Event) -> tuple[Any, ...]:
    return ("XADD", keys.events, "MAXLEN", "~", EVENT_LOG_MAXLEN, "*", "e", encode(event))


def encode(event: Event) -> str:
    """An event as the stream keeps it (its field "e")."""
    return json.dumps(event, separators=(",", ":"))


def _decode(entry: Any) -> Event:
    # The client is opened with decode_responses=True: ids and fields are str.
    eid, fields = entry
    event: Event = json.loads(fields["e"])
    event["id"] = str(eid)
    return event


class ReplayGap(Exception):
    """The events a client missed cannot be replayed: it must get "reset" and reload."""


@dataclass(frozen=True)
class ReplayWindow:
    """How much a reconnecting client may be replayed."""

    max_events: int
    max_age_ms: int
    chunk: int = REPLAY_CHUNK


class Hub:
    """One stream reader per process, fanning out to every connected client in it."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self.subs: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._last_id = "$"
        self.closed = False
        # Replays decoding a chunk at once; the rest wait their turn (bounded memory when
        # every console reconnects together after a restart).
        self._reading = asyncio.Semaphore(_REPLAY_READERS)

    @property
    def last_id(self) -> str:
        """The id up to which every event has been offered to every subscriber ("" before
        the first)."""
        return "" if self._last_id in ("$", "0-0") else self._last_id

    async def start(self) -> None:
        try:
            info: Any = await self.redis.xinfo_stream(self.keys.events)
            self._last_id = str(info["last-generated-id"])
        except RedisError:
            self._last_id = "0-0"
        self._task = asyncio.create_task(self._run(), name="event-hub")

    async def stop(self) -> None:
        """Close every client stream at once (graceful shutdown must not wait for them)."""
        self.closed = True
        for sub in list(self.subs):
            sub.close()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def subscribe(self, accept: EventFilter) -> Subscription:
        sub = Subscription(accept)
        if self.closed:
            sub.close()
        self.subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.subs.discard(sub)

    async def follow(self, accept: EventFilter, handle: Callable[[Event], Awaitable[None]],
                     on_gap: Callable[[], Awaitable[None]] | None = None) -> None:
        """Until the hub closes: hand each accepted event to `handle`, in order. A follower
        whose queue overflowed (it fell behind) is closed like any client; instead of ending
        for good it follows again at once, after `on_gap` (what it must do about the events it
        missed, e.g. a full pass)."""
        while not self.closed:
            sub = self.subscribe(accept)
            try:
                while (ev := await sub.queue.get()) is not None:
                    await handle(ev)
            finally:
                self.unsubscribe(sub)
            if self.closed:
                return
            log.warning("event follower fell behind; following again")
            if on_gap is not None:
                await on_gap()

    async def replay(self, after: str, window: ReplayWindow) -> AsyncIterator[list[Event]]:
        """The events after `after`, oldest first, in chunks of at most `window.chunk`.

        Raises ReplayGap, possibly after some chunks, when the gap cannot be replayed: trimmed
        from the log, older than the window, longer than it, or Redis lost or unreachable. The
        log is read a chunk at a time (never whole), and no more than a few replays decode at
        once, so reconnecting clients cost bounded memory and never hold the loop long."""
        try:
            async with self.redis.pipeline(transaction=False) as p:
                p.xrange(self.keys.events, "-", "+", count=1)
                p.xrevrange(self.keys.events, "+", "-", count=1)
                first, newest = await p.execute()
        except (RedisError, OSError) as e:
            raise ReplayGap("redis") from e
        if not newest:
            if after == "0-0":
                return
            raise ReplayGap("lost")  # Redis lost its log: the client must reload
        start, end = id_tuple(str(first[0][0])), id_tuple(str(newest[0][0]))
        cursor = id_tuple(after)
        if cursor < start:
            raise ReplayGap("trimmed")  # the client missed events we no longer have
        if cursor > end:
            raise ReplayGap("unknown")  # an id this log never issued (Redis lost its data)
        if end[0] - cursor[0] > window.max_age_ms:
            raise ReplayGap("too old")
        sent = 0
        last = str(newest[0][0])
        while cursor < end:
            try:
                async with self._reading:
                    # One more than the window allows tells a gap that is too long.
                    entries: Any = await self.redis.xrange(
                        self.keys.events, f"({cursor[0]}-{cursor[1]}", last,
                        count=min(window.chunk, window.max_events - sent + 1))
                    chunk = [_decode(e) for e in entries]
            except (RedisError, OSError) as e:
                raise ReplayGap("redis") from e
            if not chunk:
                return
            sent += len(chunk)
            if sent > window.max_events:
                raise ReplayGap("too long")
            cursor = id_tuple(chunk[-1]["id"])
            yield chunk

    async def _run(self) -> None:
        # Not `while True`: on Python 3.11 asyncio.wait_for (used by redis-py for socket writes)
        # can swallow a cancel that lands as the write completes; `closed` still ends the loop.
        loop = asyncio.get_running_loop()
        while not self.closed:
            try:
                resp: Any = await self.redis.xread({self.keys.events: self._last_id},
                                                   block=_READ_BLOCK_MS, count=500)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as e:
                log.warning("event reader lost redis", extra={"error": type(e).__name__})
                await asyncio.sleep(0.5)
                continue
            for _stream, entries in resp or []:
                since = loop.time()
                for at in range(0, len(entries), _FAN_OUT_CHUNK):
                    if at and loop.time() - since > _FAN_OUT_STEP_S:
                        await asyncio.sleep(0)
                        since = loop.time()
                    events = [_decode(entry) for entry in entries[at:at + _FAN_OUT_CHUNK]]
                    await self.offer(events)
                    self._last_id = events[-1]["id"]
            if resp is None or not resp:
                await self._detect_reset()
            else:
                await asyncio.sleep(_BATCH_WINDOW_S)

    async def offer(self, events: list[Event]) -> None:
        """Offer `events` to every subscriber, each in order, letting the loop go after every
        _WAKE_PER_STEP streams woken. Besides the log's, a process offers views of its own
        this way (cases/queue_feed.py): never logged, never replayed."""
        batch = Batch.of(events)
        woken = 0
        for sub in list(self.subs):
            if woken >= _WAKE_PER_STEP:
                await asyncio.sleep(0)
                woken = 0
            woken += offer_to(batch, sub)

    async def _detect_reset(self) -> None:
        # A restarted Redis without our stream starts ids from scratch; follow it from 0.
        if self._last_id in ("$", "0-0"):
            return
        try:
            info: Any = await self.redis.xinfo_stream(self.keys.events)
            if id_tuple(str(info["last-generated-id"])) < id_tuple(self._last_id):
                self._last_id = "0-0"
                self._broadcast_reset()
        except RedisError:
            self._last_id = "0-0"
            self._broadcast_reset()

    def _broadcast_reset(self) -> None:
        for sub in list(self.subs):
            sub.offer({"type": EventType.RESET, "id": "0-0"})
