"""The router's passes on the surge's floor: 1,000 counselors present, each at capacity (3
cases), 5 leads, 10,000 waiting (`_surge_floor.seed`, live state rebuilt from SQL). Any event
wakes the router, so at a surge it runs several passes a second; one a second also checks
coverage. For each, its time and the event loop's longest stall meanwhile (a ticker waking
every 1 ms), next to the same ticker while the loop sleeps 20 ms (the baseline, same process):

- a wake pass (`route_once` without coverage: offers only);
- a pass with its coverage check;
- the read of every counselor that each pass made before (`staff_states()`), and the reads
  they make now: the offers' (`staff_states(free_only=True)`) and the coverage worked out in
  Redis for the floor's six language/channel groups (`coverage`).

Then the same with one counselor in ten given room (a case closed), where the wake pass has
people to offer to: the free read then returns 100 counselors.

    .venv/bin/python bench/router_bench.py [--database sqlite|postgresql] [--reads N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import time
from collections.abc import Awaitable, Callable

from _support import bench_servers, make_config, measure_reads, stall_ticker
from _surge_floor import CHANNELS, MAX_CHATS, seed

from hotline.app import GC_YOUNG_THRESHOLD
from hotline.cases import router
from hotline.cases.livesync import rebuild
from hotline.deps import Deps
from hotline.domain.conversation import Channel
from tests.service_deps import open_deps

COUNSELORS, LEADS, WAITING = 1_000, 5, 10_000
GROUPS = [(lang, Channel(chan)) for lang in ("ko", "en") for chan in sorted(set(CHANNELS))]


def _reads(deps: Deps) -> dict[str, Callable[[], Awaitable[object]]]:
    async def sleep() -> None:
        await asyncio.sleep(0.02)

    return {
        "baseline: a sleep": sleep,
        "wake pass": lambda: router.route_once(deps, with_coverage=False),
        "coverage pass": lambda: router.route_once(deps),
        "every counselor": deps.live.staff_states,
        "the free only": lambda: deps.live.staff_states(free_only=True),
        "coverage in Redis": lambda: deps.live.coverage(GROUPS),
    }


async def _present(deps: Deps) -> None:
    stamp = int(time.time() * 1000)
    await deps.redis.zadd(deps.keys.presence, {str(i): stamp for i in range(1, COUNSELORS + 1)})


async def _room_for_one_in_ten(deps: Deps) -> None:
    """Every tenth counselor holds a case less (as after a close), and no offer is out."""
    for aid in range(1, COUNSELORS + 1, 10):
        await deps.redis.hset(deps.keys.load, str(aid), str(MAX_CHATS - 1))


async def _withdraw_offers(deps: Deps) -> None:
    # A wake pass that offered put cases on offer; back in the queue before the next read.
    for cid, aid in (await deps.live.offers()).items():
        await deps.live.unoffer(cid, aid)


async def main(database: str, reads: int) -> None:
    # The coverage pass warns of the floor's state each time: not the figures.
    logging.getLogger("hotline").addHandler(logging.NullHandler())
    logging.getLogger("hotline").propagate = False
    async with bench_servers("router_bench_", database) as servers:
        await seed(servers.database_url, COUNSELORS, LEADS, WAITING)
        config = make_config(servers.tmp / "data", servers.database_url, servers.redis.url)
        async with open_deps(config) as deps:
            await rebuild(deps)
            # As the server after start-up (hotline/app.py).
            gc.collect()
            gc.freeze()
            gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 10)
            print(f"{database}, load average {os.getloadavg()[0]:.1f}: {COUNSELORS} "
                  f"counselors present at capacity ({MAX_CHATS} cases each), {WAITING} "
                  f"waiting; {reads} passes or reads each")
            async with stall_ticker() as worst:
                for floor in ("everyone at capacity", "one in ten with room"):
                    if floor != "everyone at capacity":
                        await _room_for_one_in_ten(deps)
                    print(f" {floor}:")
                    for label, read in _reads(deps).items():
                        await _present(deps)
                        await measure_reads(label, read, reads, worst)
                        await _withdraw_offers(deps)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--reads", type=int, default=20)
    args = p.parse_args()
    asyncio.run(main(args.database, args.reads))
