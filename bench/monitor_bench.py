"""Re-checking 10,000 takedown locations against a loopback site: the monitoring job's rate and
memory, and proof (counted by the site) that no host ever has more requests in flight than
`[takedown.monitor] per_host`.

Baseline, in the same run: plain aiohttp GETs of the same URLs, at the same concurrency and the
same connections per host, with nothing recorded. The job then checks the same locations
through the real application (create_app; the job's passes are called directly with the
desk's own HTTP session), writing every check, watch and due time to SQL.

    .venv/bin/python bench/monitor_bench.py                    # SQLite, 10,000 locations
    .venv/bin/python bench/monitor_bench.py --database postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _support import NoDatabase, bench_servers

from hotline.app import create_app
from hotline.config import config_from_mapping
from hotline.domain.locations import parse_location
from hotline.domain.takedown import ItemKind, Reporter
from hotline.takedown import fetch, queries
from hotline.takedown.api import DESK
from hotline.takedown.desk import Desk
from hotline.takedown.monitor import monitor_pass


@dataclass
class Site:
    """The loopback site: one aiohttp app on many ports (a port is a host to the job);
    counts requests in flight per port and the most ever seen at once."""

    latency_s: float
    hits: int = 0
    in_flight: dict[int, int] = field(default_factory=dict)
    most: dict[int, int] = field(default_factory=dict)

    def reset(self) -> None:
        self.hits, self.in_flight, self.most = 0, {}, {}

    async def handle(self, request: web.Request) -> web.Response:
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        port = int(sock[1]) if sock else 0
        self.hits += 1
        self.in_flight[port] = self.in_flight.get(port, 0) + 1
        self.most[port] = max(self.most.get(port, 0), self.in_flight[port])
        try:
            await asyncio.sleep(self.latency_s)
            # Every other path is gone: both answers are exercised.
            gone = request.path.endswith(("0", "2", "4", "6", "8"))
            return web.Response(status=404 if gone else 200, text="x")
        finally:
            self.in_flight[port] -= 1


def _rss_kb(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


async def _baseline(urls: list[str], concurrency: int, per_host: int, timeout: float
                    ) -> float:
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=per_host)
    sem = asyncio.Semaphore(concurrency)

    async def one(url: str) -> None:
        async with sem, http.get(url, allow_redirects=False) as resp:
            resp.release()

    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        start = time.perf_counter()
        await asyncio.gather(*(one(u) for u in urls))
        return time.perf_counter() - start


async def _seed(desk: Desk, urls: list[str]) -> None:
    now = datetime.now(UTC)
    for at in range(0, len(urls), 1000):
        async with desk.deps.engine.begin() as conn:
            for url in urls[at:at + 1000]:
                item = await queries.insert_item(
                    conn, kind=ItemKind.SYNTHETIC, minor=False, conversation_id=None,
                    reporter=Reporter.STAFF, fingerprint=None, evidence_id=None, at=now,
                    created_by=None)
                await queries.add_location(conn, item, parse_location(url), now)


async def run(args: argparse.Namespace) -> int:
    site = Site(latency_s=args.latency_ms / 1000)
    site_app = web.Application()
    site_app.router.add_route("GET", "/{tail:.*}", site.handle)
    site_runner = web.AppRunner(site_app, access_log=None)
    await site_runner.setup()
    ports = []
    for _ in range(args.hosts):
        s = web.TCPSite(site_runner, "127.0.0.1", 0)
        await s.start()
        ports.append(int(s._server.sockets[0].getsockname()[1]))  # type: ignore[union-attr]
    urls = [f"http://127.0.0.1:{ports[i % args.hosts]}/c/{i}" for i in range(args.locations)]
    monitor = {"enabled": False, "allow_private": True, "concurrency": args.concurrency,
               "per_host": args.per_host, "per_host_per_second": args.per_host_per_second,
               "batch": args.batch, "timeout_seconds": 10.0}
    try:
        async with bench_servers("monitor-bench-", args.database) as servers:
            cfg = config_from_mapping({
                "server": {"host": "127.0.0.1", "port": 0,
                           "public_url": "http://127.0.0.1:8080", "shutdown_timeout": 1.0},
                "storage": {"data_dir": str(servers.tmp / "data"),
                            "database_url": servers.database_url,
                            "redis_url": servers.redis.url,
                            "redis_prefix": f"b{secrets.token_hex(5)}"},
                "takedown": {"monitor": monitor}})
            app_runner = web.AppRunner(create_app(cfg))
            await app_runner.setup()
            try:
                desk: Desk = app_runner.app[DESK]
                rss0 = _rss_kb("VmRSS")
                base_s = await _baseline(urls, args.concurrency, args.per_host, 10.0)
                base_most = max(site.most.values())
                base_hwm = _rss_kb("VmHWM")
                site.reset()
                t0 = time.perf_counter()
                await _seed(desk, urls)
                seed_s = time.perf_counter() - t0
                clock = datetime.now(UTC) + timedelta(seconds=1)
                rss_before = _rss_kb("VmRSS")
                passes, checked = 0, 0
                async with fetch.session(cfg.takedown.monitor) as http:
                    start = time.perf_counter()
                    while True:
                        done = await monitor_pass(Desk(desk.deps, desk.prompts,
                                                       clock=lambda: clock), http)
                        if not done.checked:
                            break
                        passes += 1
                        checked += len(done.checked)
                    job_s = time.perf_counter() - start
                rss_after, hwm = _rss_kb("VmRSS"), _rss_kb("VmHWM")
            finally:
                await app_runner.cleanup()
    except NoDatabase as e:
        print(e, file=sys.stderr)
        return 2
    finally:
        await site_runner.cleanup()
    job_most = max(site.most.values())
    print(f"locations {args.locations} on {args.hosts} hosts; site latency {args.latency_ms} ms;"
          f" concurrency {args.concurrency}, per_host {args.per_host}, "
          f"per_host_per_second {args.per_host_per_second:g}, batch {args.batch}; "
          f"database {args.database}")
    print(f"baseline  plain aiohttp GETs: {args.locations / base_s:8.0f} checks/s "
          f"({base_s:.2f} s); most in flight on one host: {base_most}")
    print(f"job       monitor passes:     {checked / job_s:8.0f} checks/s ({job_s:.2f} s, "
          f"{passes} passes, {checked} checked, all recorded); most in flight on one host: "
          f"{job_most} (limit {args.per_host}); site saw {site.hits} requests")
    print(f"memory    RSS before the job {rss_before / 1024:.0f} MiB, after "
          f"{rss_after / 1024:.0f} MiB; peak (VmHWM) {hwm / 1024:.0f} MiB "
          f"(after the baseline {base_hwm / 1024:.0f} MiB; at start {rss0 / 1024:.0f} MiB)")
    print(f"seeding   {args.locations} items+locations: {seed_s:.1f} s (not timed above)")
    print(f"loadavg   {_loadavg()}  (pid {os.getpid()})")
    ok = job_most <= args.per_host and checked == args.locations
    print("per-host limit held" if ok else "LIMIT BROKEN or locations missed")
    return 0 if ok else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--locations", type=int, default=10_000)
    p.add_argument("--hosts", type=int, default=50)
    p.add_argument("--latency-ms", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--per-host", type=int, default=2)
    p.add_argument("--per-host-per-second", type=float, default=200.0)
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args: Any = p.parse_args()
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
