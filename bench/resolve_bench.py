"""A centre's network back after a minute: the alerts job closes every lost-console alert at
once (alerts.resolve_ended). Prints how long that took and the event loop's longest stall
meanwhile (a ticker waking every 1 ms), next to the same ticker's longest stall over as long
with nothing else running (the baseline, same process).

    .venv/bin/python bench/resolve_bench.py                          # SQLite, 3,000 alerts
    .venv/bin/python bench/resolve_bench.py --database postgresql --alerts 1000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable
from datetime import UTC, datetime

from _support import bench_servers, make_config, stall_ticker
from sqlalchemy import insert

from hotline.cases import alerts as alert_service
from hotline.cases.tables import alerts, conversations
from hotline.staff.tables import counselors
from tests.service_deps import open_deps


async def _longest_stall(work: Awaitable[object] | None, seconds: float) -> tuple[float, float]:
    """(seconds the work took, the loop's longest stall meanwhile); without work, a sleep of
    `seconds`."""
    async with stall_ticker() as worst:
        await asyncio.sleep(0.05)
        began = time.perf_counter()
        await (work if work is not None else asyncio.sleep(seconds))
        took = time.perf_counter() - began
    return took, worst[0]


async def main(database: str, n: int) -> None:
    async with bench_servers("resolve_bench_", database) as servers:
        config = make_config(servers.tmp / "data", servers.database_url, servers.redis.url)
        async with open_deps(config) as deps:
            now = datetime.now(UTC)
            async with deps.engine.begin() as conn:
                mina = (await conn.execute(insert(counselors).values(
                    name="mina", role="counselor", languages="ko", password_hash="x",
                    created_at=now, max_chats=3).returning(counselors.c.id))).scalar_one()
                ids = [f"{i:032x}" for i in range(n)]
                await conn.execute(insert(conversations), [dict(
                    id=cid, channel="webchat", pseudonym=cid, language="ko", status="active",
                    urgency="normal", created_at=now, enqueued_at=now, last_activity_at=now,
                    assigned_at=now, counselor_id=mina) for cid in ids])
                await conn.execute(insert(alerts), [dict(
                    conversation_id=cid, kind="lead", reasons="presence_lost", created_at=now)
                    for cid in ids])
            await deps.live.heartbeat(mina)
            closed: list[int] = []

            async def resolve() -> None:
                closed.append(await alert_service.resolve_ended(deps))

            took, stall = await _longest_stall(resolve(), 0)
            _, idle = await _longest_stall(None, took)
            print(f"{database}, load average {os.getloadavg()[0]:.1f}: closed {closed[0]} "
                  f"lost-console alerts in {took * 1000:.0f} ms; the loop's longest stall "
                  f"meanwhile {stall * 1000:.1f} ms (idle baseline over as long: "
                  f"{idle * 1000:.1f} ms)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--alerts", type=int, default=3000)
    args = ap.parse_args()
    asyncio.run(main(args.database, args.alerts))
