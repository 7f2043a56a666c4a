"""The roster's periodic reads on the surge's rostered floor, one at a time: 1,000 counselors
each on five eight-hour weekly shifts (as `surge_bench.py --rostered`), 10,000 waiting. For
each read it prints its time and the event loop's longest stall meanwhile (a ticker waking
every 1 ms), next to the same ticker with nothing else running (the baseline, same process):

- the shift-edge job's re-sync of every counselor's routing window (every minute and edge);
- the cover ahead a lead page reads after queue events (8 hours);
- the shift-edge handover's pass over the case holders;
- the wellbeing upkeep's exposure totals of everyone (every minute);
- the next shift edge worked out from the roster (the floor, after an edit here).

The surge bench measures the same work with everything else on top, on a loaded machine;
this isolates each read, so that two versions of the code compare within a few runs.

    .venv/bin/python bench/roster_bench.py [--database sqlite|postgresql] [--reads N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from _support import bench_servers, make_config, measure_reads, stall_ticker
from _surge_floor import seed

from hotline.app import GC_YOUNG_THRESHOLD
from hotline.cases import cover, handover, staffing
from hotline.deps import Deps
from hotline.staff import exposure
from tests.service_deps import open_deps

COUNSELORS, LEADS, WAITING = 1_000, 5, 10_000


def _reads(deps: Deps) -> dict[str, Callable[[], Awaitable[object]]]:
    async def sleep() -> None:
        await asyncio.sleep(0.02)

    async def cover_ahead() -> None:
        async with deps.reads.connect() as conn:
            await cover.gaps(conn, datetime.now(UTC), 8)

    async def totals() -> None:
        await exposure.totals_of(deps, list(range(1, COUNSELORS + LEADS + 1)), datetime.now(UTC))

    return {
        "baseline: a sleep": sleep,
        "re-sync of windows": lambda: staffing.sync_all(deps),
        "cover ahead, 8 h": cover_ahead,
        "handover pass": lambda: handover.at_shift_edge(deps),
        "exposure totals": totals,
        "next edge": lambda: _next_edge(deps),
    }


async def _next_edge(deps: Deps) -> None:
    staffing.forget_edge(deps)
    await staffing.next_edge(deps, datetime.now(UTC))


async def main(database: str, reads: int) -> None:
    async with bench_servers("roster_bench_", database) as servers:
        await seed(servers.database_url, COUNSELORS, LEADS, WAITING, rostered=True)
        config = make_config(servers.tmp / "data", servers.database_url, servers.redis.url)
        async with open_deps(config) as deps:
            # As the server after start-up (hotline/app.py): without it, the collector's
            # passes over the seeding's leftovers were the longest stalls.
            gc.collect()
            gc.freeze()
            gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 10)
            print(f"{database}, load average {os.getloadavg()[0]:.1f}: {COUNSELORS} counselors "
                  f"on the roster (5 shifts each), {WAITING} waiting; {reads} reads each, "
                  "the whole set twice")
            async with stall_ticker() as worst:
                for _ in range(2):
                    for label, read in _reads(deps).items():
                        await measure_reads(label, read, reads, worst)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--reads", type=int, default=10)
    args = p.parse_args()
    asyncio.run(main(args.database, args.reads))
