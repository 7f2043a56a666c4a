"""How periodic jobs wait, stop and survive errors.

A job cancelled inside a database call can leave a connection checked out (and aiosqlite's
worker thread alive, which keeps the process from exiting); so shutdown sets `stop`, each job
finishes its current pass and returns. A job that fails (a database restarting, a row it did not
expect) is started again by `supervise`: the jobs retry replies, purge data when it is due,
escalate alerts and route victims, so none may end for the life of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.metrics import REGISTRY

log = logging.getLogger(__name__)

JOB_FAILURES = Counter("hotline_job_failures", "Background job passes that ended with an error",
                       ["job"], registry=REGISTRY)
# A failed job starts again after RESTART_MIN_S, doubling while it keeps failing, up to
# RESTART_MAX_S; a job that ran that long before failing starts again after RESTART_MIN_S.
RESTART_MIN_S = 1.0
RESTART_MAX_S = 60.0


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
            where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
            log.error("job failed; starting it again", extra={
                "job": name, "error": type(e).__name__, "retry_in_s": delay,
                "where": f"{where.filename.rsplit('/', 1)[-1]}:{where.lineno}" if where else ""})
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
