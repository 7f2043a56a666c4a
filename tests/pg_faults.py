"""PostgreSQL faults for tests: a pool full of idle connections, every session of the test's
own database ended (pg_terminate_backend, as a restart or failover does), and the app's
periodic jobs stopped so that the request under test is the first to meet the dead pool."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from hotline.cases.tables import messages
from tests.floor import stop_task

# The app's periodic jobs: while they run, their own first statements would meet the dead
# connections before the request under test does.
JOBS = ("reconciler", "retention", "router", "shift-edges", "presence", "alerts", "aging",
        "outbox")


async def stop_jobs() -> None:
    for job in JOBS:
        await stop_task(job)


def pool_size(engine: AsyncEngine) -> int:
    pool = engine.sync_engine.pool
    assert isinstance(pool, QueuePool)
    return pool.size()


async def fill_pool(engine: AsyncEngine) -> int:
    """Leave a full pool of connections idle (as after a burst of traffic); how many."""
    n = pool_size(engine)
    gate = asyncio.Event()
    ready = 0

    async def hold() -> None:
        nonlocal ready
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            ready += 1
            if ready == n:
                gate.set()
            await gate.wait()

    await asyncio.gather(*(hold() for _ in range(n)))
    return n


async def end_pool(engine: AsyncEngine) -> None:
    """Fill the pool with idle sessions, then end them all (a restart after a burst)."""
    n = await fill_pool(engine)
    # This only shows the fault really happened. A pooled session may already be gone by the
    # time they are listed: whole-suite runs on loaded hosts saw 29 and 28 of 30 ended.
    assert await end_sessions(engine) >= n // 2


async def outside(engine: AsyncEngine) -> asyncpg.Connection:
    """A connection of the test's own to the app's database, outside the app's pool."""
    url = engine.url.set(drivername="postgresql")
    conn: asyncpg.Connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    return conn


async def end_sessions(engine: AsyncEngine, keep: asyncpg.Connection | None = None,
                       only_idle: bool = False) -> int:
    """End every session of the app's database but the test's own (and `keep`), and wait
    until each has ended; how many were ended. `only_idle`: only those sitting in the pool,
    none in the middle of a transaction."""
    conn = await outside(engine)
    spared = [await keep.fetchval("SELECT pg_backend_pid()")] if keep is not None else []
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND NOT pid = ANY($1::int[]) AND (state = 'idle' OR NOT $2)", spared, only_idle)
    finally:
        await conn.close()
    return sum(1 for r in rows if r[0])


async def inbound_count(engine: AsyncEngine, like: str) -> int:
    """Messages whose provider key matches `like` (SQL LIKE)."""
    async with engine.connect() as conn:
        n: Any = (await conn.execute(select(func.count()).select_from(messages).where(
            messages.c.provider_key.like(like)))).scalar_one()
    return int(n)
