"""What the abandon job's read costs as open cases pile up: the due cases through the partial
index on conversations.abandon_at, against a scan of every open case (what the job would do
without it). Prints both per size, from the same run.

    .venv/bin/python bench/abandon_bench.py                      # SQLite
    .venv/bin/python bench/abandon_bench.py --database postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from _support import bench_servers, summarize_ms
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.cases import abandon
from hotline.cases import conversations as convs
from hotline.cases.tables import conversations
from hotline.stores.sql.engine import migrate, open_engine

DUE = 20
ROUNDS = 30


async def _fill(engine: AsyncEngine, n: int, now: datetime, start: int) -> None:
    rows = [{"id": uuid.uuid4().hex, "channel": "telegram", "pseudonym": f"p{start + i}",
             "language": "ko", "status": "waiting", "urgency": "normal",
             "created_at": now, "enqueued_at": now, "last_activity_at": now,
             # Most victims are still there: deadlines a day ahead; DUE of them have passed.
             "abandon_at": now + (timedelta(hours=-1) if i < DUE and start == 0
                                  else timedelta(hours=24))}
            for i in range(n)]
    async with engine.begin() as conn:
        for i in range(0, len(rows), 1000):
            await conn.execute(insert(conversations), rows[i:i + 1000])


async def _time(fn: Callable[[], Awaitable[None]]) -> dict[str, float]:
    laps = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        await fn()
        laps.append(time.perf_counter() - t)
    return summarize_ms(sorted(laps))


async def main(database: str, sizes: list[int]) -> None:
    async with bench_servers("abandon_bench_", database) as servers:
        engine = open_engine(servers.database_url)
        try:
            await migrate(engine)
            now = datetime.now(UTC)
            have = 0
            print(f"{database}: {DUE} due cases, {ROUNDS} rounds each; p50 / p99 ms")
            print(f"{'open cases':>10}  {'due (index)':>18}  {'scan of open cases':>20}")
            for size in sizes:
                await _fill(engine, size - have, now, have)
                have = size

                async def indexed() -> None:
                    async with engine.connect() as conn:
                        assert len(await abandon.due(conn, now, 100)) == DUE

                async def scan(expected: int = have) -> None:
                    async with engine.connect() as conn:
                        assert len(await convs.open_conversations(conn)) == expected

                a, b = await _time(indexed), await _time(scan)
                print(f"{size:>10}  {a['p50']:>8.2f} / {a['p99']:<7.2f}  "
                      f"{b['p50']:>9.2f} / {b['p99']:<8.2f}")
        finally:
            await engine.dispose()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--sizes", default="1000,10000,50000")
    args = p.parse_args()
    asyncio.run(main(args.database, [int(s) for s in args.sizes.split(",")]))
