"""The lead's floor read with a real roster: 1,000 staff, 700 following the roster (five weekly
shifts each) and 150 dated overrides. Prints the read's time and the event loop's longest stall
meanwhile (a ticker waking every 1 ms), with the next shift edge taken from the shift-edge
job's last pass (what the floor does) and worked out from every shift and override (what it
did before, and still does for a minute after this instance's roster edit); next to the same
ticker with nothing else running (the baseline, same process).

    .venv/bin/python bench/floor_bench.py [--database sqlite|postgresql] [--reads N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime, timedelta

from _support import bench_servers, make_config, measure_reads, stall_ticker
from sqlalchemy import insert, select

from hotline.cases import floorview, staffing
from hotline.cases.tables import shift_overrides, shifts
from hotline.deps import Deps
from hotline.staff.tables import counselors
from tests.service_deps import open_deps

STAFF, ROSTERED, OVERRIDES = 1_000, 700, 150


async def _seed(deps: Deps) -> None:
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        await conn.execute(insert(counselors), [
            {"name": f"p{i:04d}", "role": "counselor", "languages": "ko,en",
             "password_hash": "x", "created_at": now, "max_chats": 3, "rostered": i < ROSTERED}
            for i in range(STAFF)])
        ids = [r.id for r in await conn.execute(
            select(counselors.c.id).where(counselors.c.rostered.is_(True)))]
        # Eight-hour shifts starting through the day, five days a week each.
        await conn.execute(insert(shifts), [
            {"counselor_id": cid, "weekday": (k + d) % 7, "start_minute": (k * 37) % 1200,
             "end_minute": ((k * 37) % 1200 + 480) % 1440, "tz": "Asia/Seoul",
             "created_at": now} for k, cid in enumerate(ids) for d in range(5)])
        await conn.execute(insert(shift_overrides), [
            {"counselor_id": cid, "starts_at": now + timedelta(hours=k % 48),
             "ends_at": now + timedelta(hours=k % 48 + 8), "on_shift": False,
             "reason": "holiday", "created_by": ids[0], "created_at": now}
            for k, cid in enumerate(ids[:OVERRIDES])])


async def main(database: str, reads: int) -> None:
    async with bench_servers("floor_bench_", database) as servers:
        config = make_config(servers.tmp / "data", servers.database_url, servers.redis.url)
        async with open_deps(config) as deps:
            await _seed(deps)
            print(f"{database}, load average {os.getloadavg()[0]:.1f}: {STAFF} staff, "
                  f"{ROSTERED} on the roster (5 shifts each), {OVERRIDES} overrides; "
                  f"{reads} floor reads each")
            async with stall_ticker() as worst:
                await _reads(deps, reads, worst)


async def _reads(deps: Deps, reads: int, worst: list[float]) -> None:
    """Each way of reading the floor, `reads` times, twice, alternating. The baseline sleeps
    20 ms instead of reading: its stall is the loop's own."""
    def from_job() -> None:
        now = datetime.now(UTC)
        staffing.edge_found(deps, now, now + timedelta(minutes=30))

    async def sleep() -> None:
        await asyncio.sleep(0.02)

    async def floor() -> None:
        await floorview.floor(deps, 50)

    for _ in range(2):
        await measure_reads("baseline: a sleep", sleep, reads, worst,
                            lambda: staffing.forget_edge(deps))
        await measure_reads("edge worked out", floor, reads, worst,
                            lambda: staffing.forget_edge(deps))
        await measure_reads("edge from the job", floor, reads, worst, from_job)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--reads", type=int, default=15)
    args = p.parse_args()
    asyncio.run(main(args.database, args.reads))
