"""The event loop's own stalls, measured from inside: a task asks to wake every PERIOD_S and
records how late it woke. Everything on one process's loop (requests, jobs, streams) waits as
long as the longest such lateness; `hotline_loop_lag_seconds` on /metrics is its histogram
(bench/surge_bench.py reads it before and after a phase). See docs/architecture.md.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Histogram

from hotline.metrics import REGISTRY

# How often the probe wakes: 100 wake-ups a second cost about 2 ms of one core.
PERIOD_S = 0.01
# Fine buckets up to 200 ms (a stall of 20 ms is the target), coarser above.
BUCKETS_S = (0.00025, 0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01,
             0.0125, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2,
             0.3, 0.5, 1.0, 2.0, 5.0)
LOOP_LAG = Histogram("hotline_loop_lag_seconds",
                     "How late the event loop woke a task that sleeps 10 ms (its stalls)",
                     buckets=BUCKETS_S, registry=REGISTRY)


async def run(stop: asyncio.Event) -> None:
    """Until `stop`: sleep PERIOD_S, record the lateness."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        asked = loop.time() + PERIOD_S
        await asyncio.sleep(PERIOD_S)
        LOOP_LAG.observe(max(0.0, loop.time() - asked))
