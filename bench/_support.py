"""Bench helpers: a private redis-server and a throwaway PostgreSQL database (the tests' own
tests/local_servers.py, which needs no pytest), a config, and stats. Never touches a shared
Redis: the server is started on a free loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The repository root, so the tests' server helpers can be imported as tests.local_servers.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotline.config import Config, config_from_mapping
from tests import local_servers
from tests.local_servers import (
    PG_HOST,
    PG_PORT,
    RedisProcess,
    free_port,
    pg_admin,
    pg_reachable,
    pg_url,
)

__all__ = ["PG_HOST", "PG_PORT", "BenchServers", "NoDatabase", "RedisProcess", "bench_servers",
           "free_port", "make_config", "percentile", "pg_admin", "pg_database_name",
           "pg_reachable", "pg_url", "summarize_ms"]


def pg_database_name() -> str:
    return local_servers.pg_database_name("hotline_bench")


class NoDatabase(RuntimeError):
    """--database postgresql, and no server answers."""


@dataclass(frozen=True)
class BenchServers:
    tmp: Path
    redis: RedisProcess
    database_url: str


@contextlib.asynccontextmanager
async def bench_servers(prefix: str, database: str) -> AsyncIterator[BenchServers]:
    """A temporary folder, a private redis-server in it, and a database: a SQLite file there
    or a fresh PostgreSQL database; all removed at the end, also after an error."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp_name:
        tmp = Path(tmp_name)
        pg_name = None
        if database == "postgresql":
            if not pg_reachable():
                raise NoDatabase(f"no PostgreSQL at {PG_HOST}:{PG_PORT} "
                                 "(set HOTLINE_TEST_PG_HOST/PORT)")
            pg_name = pg_database_name()
            await pg_admin(f'CREATE DATABASE "{pg_name}"')
            url = pg_url(pg_name)
        else:
            url = f"sqlite+aiosqlite:///{tmp / 'hotline.db'}"
        redis = RedisProcess(tmp / "redis")
        try:
            redis.start()
            yield BenchServers(tmp, redis, url)
        finally:
            redis.stop()
            if pg_name is not None:
                await pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def make_config(data_dir: Path, database_url: str, redis_url: str) -> Config:
    """Like tests.conftest.make_config, but with the production reconcile period (5 s)."""
    raw: dict[str, dict[str, Any]] = {
        "server": {"host": "127.0.0.1", "port": 0, "public_url": "http://127.0.0.1:8080",
                   "shutdown_timeout": 1.0},
        "storage": {"data_dir": str(data_dir), "database_url": database_url,
                    "redis_url": redis_url, "redis_prefix": f"b{secrets.token_hex(5)}",
                    "reconcile_seconds": 5.0},
    }
    return config_from_mapping(raw)


@contextlib.asynccontextmanager
async def stall_ticker() -> AsyncIterator[list[float]]:
    """A task waking every 1 ms while the block runs. Yields a one-item list: the loop's
    longest stall so far, in seconds (set it to 0 to start over)."""
    loop = asyncio.get_running_loop()
    worst, stop = [0.0], asyncio.Event()

    async def tick() -> None:
        while not stop.is_set():
            asked = loop.time() + 0.001
            await asyncio.sleep(0.001)
            worst[0] = max(worst[0], loop.time() - asked)

    ticker = asyncio.create_task(tick())
    try:
        yield worst
    finally:
        stop.set()
        await ticker


async def measure_reads(label: str, read: Callable[[], Awaitable[object]], reads: int,
                        worst: list[float], before: Callable[[], object] | None = None
                        ) -> None:
    """Run `read` `reads` times beside stall_ticker's `worst` (`before` each time, untimed)
    and print its time and the loop's longest stall meanwhile: p50 and max."""
    took, stalls = [], []
    for _ in range(reads):
        if before is not None:
            before()
        await asyncio.sleep(0.01)
        worst[0] = 0.0
        began = time.perf_counter()
        await read()
        took.append((time.perf_counter() - began) * 1000)
        stalls.append(worst[0] * 1000)
    took.sort()
    stalls.sort()
    print(f"  {label:19} p50 {percentile(took, 50):6.1f} ms  max {took[-1]:6.1f} ms   "
          f"loop's longest stall p50 {percentile(stalls, 50):5.1f} ms  "
          f"max {stalls[-1]:5.1f} ms")


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize_ms(seconds: list[float]) -> dict[str, float]:
    """p50, p99 and max of durations given in seconds, in milliseconds."""
    s = sorted(seconds)
    return {"n": float(len(s)), "p50": percentile(s, 50) * 1000, "p99": percentile(s, 99) * 1000,
            "max": (s[-1] * 1000) if s else math.nan}
