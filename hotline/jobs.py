"""How periodic jobs start, wait, stop, survive errors and share work between instances.

A job cancelled inside a database call can leave a connection checked out (and aiosqlite's
worker thread alive, which keeps the process from exiting); so shutdown sets `stop`, each job
finishes its current pass and returns. A job that fails (a database restarting, a row it did not
expect) is started again by `supervise`: the jobs retry replies, purge data when it is due,
escalate alerts and route victims, so none may end for the life of the process. A `JobSet` starts
a named set of supervised jobs and stops them together; `run_leased` is the loop of a job that
one instance at a time runs, under a Redis lease released only by its holder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.logs import error_place
from hotline.metrics import REGISTRY

log = logging.getLogger(__name__)

JOB_FAILURES = Counter("hotline_job_failures", "Background job passes that ended with an error",
                       ["job"], registry=REGISTRY)
# A failed job starts again after RESTART_MIN_S, doubling while it keeps failing, up to
# RESTART_MAX_S; a job that ran that long before failing starts again after RESTART_MIN_S.
RESTART_MIN_S = 1.0
RESTART_MAX_S = 60.0
# A job stuck past the grace is cancelled this many times, half a second apart, at most.
_CANCEL_ROUNDS = 10


# One transaction of a batched purge: (rows handled, rows counted for the log).
BatchStep = Callable[[AsyncConnection], Awaitable[tuple[int, int]]]


async def in_batches(engine: AsyncEngine, step: BatchStep, batch: int) -> tuple[int, int]:
    """Run `step` in one short transaction after another until it handles fewer than `batch`
    rows; the sums of its two figures. A backlog then neither holds SQLite's write lock (every
    inbound message waits for it) for all of it, nor passes more ids in one statement than
    asyncpg takes (32,767), and waiting requests run between the transactions."""
    handled = counted = 0
    while True:
        async with engine.begin() as conn:
            done, count = await step(conn)
        handled, counted = handled + done, counted + count
        if done < batch:
            return handled, counted
        await asyncio.sleep(0)


async def supervise(name: str, start: Callable[[], Awaitable[None]], stop: asyncio.Event,
                    restart_min_s: float = RESTART_MIN_S,
                    restart_max_s: float = RESTART_MAX_S) -> None:
    """Run a job until it returns (it does when `stop` is set, or when its source ends),
    starting it again whenever it raises. The log names the job, the error's type and where
    it was raised, never the error's text (which may quote data)."""
    loop = asyncio.get_running_loop()
    delay = restart_min_s
    while True:
        started = loop.time()
        try:
            await start()
            return
        except Exception as e:
            JOB_FAILURES.labels(name).inc()
            log.error("job failed; starting it again", extra={
                "job": name, "error": type(e).__name__, "retry_in_s": delay,
                "where": error_place(e)})
        if loop.time() - started >= restart_max_s:
            delay = restart_min_s
        await pause(stop, delay)
        if stop.is_set():
            return
        delay = min(delay * 2, restart_max_s)


async def pause(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> None:
    """Wait up to `seconds`; return early when `stop` (or `wake`) is set."""
    waits = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waits.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waits, timeout=max(0.0, seconds),
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await w
    if wake is not None:
        wake.clear()


# Deletes the lease only while it still holds this holder's token: a pass that outlived its
# lease must not free the lease another instance has taken since.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


async def take_lease(redis: Redis, key: str, ttl_ms: int) -> str | None:
    """The lease's token if this caller now holds `key` for `ttl_ms`, else None."""
    token = secrets.token_hex(8)
    got = await redis.set(key, token, nx=True, px=max(1, ttl_ms))
    return token if got else None


async def release_lease(redis: Redis, key: str, token: str) -> bool:
    """Free `key` if it still holds `token` (True), else leave it to its new holder."""
    return bool(await redis.eval(_RELEASE, 1, key, token))


async def run_leased(redis: Redis, key: str, every_s: float, work: Callable[[], Awaitable[Any]],
                     stop: asyncio.Event, *, lease_ms: int | None = None,
                     release: bool = False, wake: asyncio.Event | None = None) -> None:
    """Until `stop`: every `every_s` (or sooner on `wake`), run `work` if this instance takes
    the lease `key`. The lease lasts a little under the period (or `lease_ms`), so a crashed
    holder frees it by itself; with `release` it is freed (token-checked) after each pass, for
    jobs any instance may run next. Redis unreachable skips the pass; the job goes on."""
    ttl_ms = lease_ms if lease_ms is not None else int(every_s * 900)
    while not stop.is_set():
        with contextlib.suppress(RedisError, OSError):
            token = await take_lease(redis, key, ttl_ms)
            if token is not None:
                try:
                    await work()
                finally:
                    if release:
                        with contextlib.suppress(RedisError, OSError):
                            await release_lease(redis, key, token)
        await pause(stop, every_s, wake)


class JobSet:
    """A named set of supervised jobs started together and stopped together.

    Jobs stop between passes (they watch `stop`): a cancel in the middle of a database call
    could leave a connection checked out. Only a job still running after `grace_s` is
    cancelled (repeatedly: a cancel can be swallowed)."""

    def __init__(self, grace_s: float = 10.0) -> None:
        self.stop = asyncio.Event()
        self.grace_s = grace_s
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        self.tasks.append(asyncio.create_task(supervise(name, job, self.stop), name=name))

    async def close(self, also: Iterable[asyncio.Task[Any]] = ()) -> None:
        """Stop every job (and wait for `also`, e.g. sends in flight) within the grace."""
        self.stop.set()
        pending: set[asyncio.Task[Any]] = {*self.tasks, *also}
        if not pending:
            return
        _done, pending = await asyncio.wait(pending, timeout=self.grace_s)
        for _ in range(_CANCEL_ROUNDS):
            if not pending:
                break
            for task in pending:
                task.cancel()
            _done, pending = await asyncio.wait(pending, timeout=0.5)
        for task in self.tasks:
            if not task.cancelled() and task.exception() is not None:
                log.error("job ended with an error", extra={
                    "job": task.get_name(), "error": type(task.exception()).__name__})
