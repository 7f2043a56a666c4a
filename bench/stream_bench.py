"""Event streams of a real `hotline serve` process: replay from an old id, and logout.

    .venv/bin/python bench/stream_bench.py [--events N] [--clients C]

Starts a private redis-server and two `hotline serve` processes (SQLite, one Redis prefix),
fills the event log with N events (default 10,000, what the log keeps) and logs a lead in.
  - baseline: C console streams at once reconnecting with a recent Last-Event-ID (10 events
    missed); each reads its 10 events and leaves.
  - old id:   C streams at once reconnecting with the oldest id in the log; each reads until
    its "reset" and leaves (the window lets at most streams.replay_max_events through first).
Both report /healthz latency, polled while the streams run, and the server's resident memory
(VmRSS of the process) before, at its peak while they run, and 2 s after they left.
  - logout:   a lead's stream open on instance B, logout on instance A; the time until B's
    stream ends (C times).
Figures only: nothing here asserts on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import bench_servers, make_config, summarize_ms

from hotline.domain.staff import Role
from hotline.stores.live.keys import Keys
from tests.helpers import PASSWORD, add_staff
from tests.serve import Instance

RECENT = 10


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def login(session: aiohttp.ClientSession, base: str, name: str) -> str:
    token = secrets.token_urlsafe(24)
    async with session.post(f"{base}/console/login", allow_redirects=False,
                            headers={"Cookie": f"hl_login={token}"},
                            data={"name": name, "password": PASSWORD, "csrf": token}) as resp:
        assert resp.status == 303, resp.status
        return str(resp.cookies["hl_staff"].value)


async def fill(redis: Redis, keys: Keys, n: int) -> list[str]:
    """N events like the floor's (message events of 200 cases), in pipelined batches."""
    ids: list[str] = []
    for start in range(0, n, 1000):
        async with redis.pipeline(transaction=False) as p:
            for i in range(start, min(n, start + 1000)):
                ev = {"type": "message", "conversation": f"{i % 200:032x}", "seq": i,
                      "direction": "in"}
                p.xadd(keys.events, {"e": json.dumps(ev, separators=(",", ":"))})
            ids += [str(x) for x in await p.execute()]
    return ids


async def read_until(resp: aiohttp.ClientResponse, want: str, count: int) -> int:
    """Events read until `count` of type `want` arrived (or a "reset"); how many events."""
    seen = matched = 0
    async for raw in resp.content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("event: "):
            seen += 1
            kind = line[7:]
            if kind == "reset":
                return seen
            matched += kind == want
            if matched >= count:
                return seen
    return seen


async def phase(session: aiohttp.ClientSession, inst: Instance, cookies: list[str],
                last_id: str, want: str, count: int) -> dict[str, Any]:
    assert inst.proc is not None
    pid = inst.proc.pid
    before = rss_mb(pid)
    peak = before
    done = asyncio.Event()
    health: list[float] = []

    async def poll() -> None:
        nonlocal peak
        while not done.is_set():
            t = time.perf_counter()
            async with session.get(f"{inst.url}/healthz") as r:
                await r.read()
            health.append(time.perf_counter() - t)
            peak = max(peak, rss_mb(pid))
            await asyncio.sleep(0.01)

    async def client(cookie: str) -> int:
        async with session.get(f"{inst.url}/api/v1/events",
                               headers={"Cookie": f"hl_staff={cookie}",
                                        "Last-Event-ID": last_id}) as resp:
            return await read_until(resp, want, count)

    poller = asyncio.create_task(poll())
    t0 = time.perf_counter()
    seen = await asyncio.gather(*(client(c) for c in cookies))
    wall = time.perf_counter() - t0
    done.set()
    await poller
    await asyncio.sleep(2.0)
    return {"wall_s": wall, "events_each": max(seen), "healthz": summarize_ms(health),
            "rss_before": before, "rss_peak": peak, "rss_after": rss_mb(pid)}


async def logout_latency(session: aiohttp.ClientSession, a: Instance, b: Instance,
                         rounds: int) -> dict[str, float]:
    out = []
    for _ in range(rounds):
        cookie = await login(session, a.url, "lee")
        async with session.get(f"{b.url}/api/v1/events",
                               headers={"Cookie": f"hl_staff={cookie}"}) as stream:
            async with session.get(f"{a.url}/console",
                                   headers={"Cookie": f"hl_staff={cookie}"}) as page:
                html = await page.text()
            csrf = html.split('name="csrf-token" content="')[1].split('"')[0]
            t = time.perf_counter()
            async with session.post(f"{a.url}/console/logout", allow_redirects=False,
                                    headers={"Cookie": f"hl_staff={cookie}"},
                                    data={"csrf": csrf}) as resp:
                assert resp.status == 303
            async for _line in stream.content:
                pass
            out.append(time.perf_counter() - t)
    return summarize_ms(out)


def show(name: str, r: dict[str, Any]) -> None:
    h = r["healthz"]
    print(f"{name:9} {r['events_each']:>7} {r['wall_s']:>7.2f} {h['n']:>6.0f} "
          f"{h['p50']:>7.1f} {h['max']:>7.1f} {r['rss_before']:>8.1f} {r['rss_peak']:>8.1f} "
          f"{r['rss_after']:>8.1f}")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=20)
    args = ap.parse_args()
    async with bench_servers("stream-bench-", "sqlite") as servers:
        cfg = make_config(servers.tmp / "staff", servers.database_url, servers.redis.url)
        await add_staff(cfg, "lee", Role.LEAD)
        prefix = f"b{secrets.token_hex(5)}"
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        a, b = (Instance(servers.tmp, name, servers.database_url, servers.redis.url, prefix,
                         secret) for name in ("a", "b"))
        redis = Redis.from_url(servers.redis.url, decode_responses=True)
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                        cookie_jar=aiohttp.DummyCookieJar())
        try:
            for inst in (a, b):
                inst.start()
                await inst.wait_ready(session)
            ids = await fill(redis, Keys(prefix), args.events)
            # A session each: a staff session may hold only a few streams at once.
            cookies = [await login(session, a.url, "lee") for _ in range(args.clients)]
            print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
                  f"{len(ids)} events in the log, {args.clients} clients at once")
            print(f"{'phase':9} {'events':>7} {'wall s':>7} {'polls':>6} {'hz p50':>7} "
                  f"{'hz max':>7} {'RSS MB':>8} {'peak':>8} {'after':>8}")
            show("baseline", await phase(session, a, cookies, ids[-RECENT - 1], "message",
                                         RECENT))
            show("old id", await phase(session, a, cookies, ids[0], "reset", 1))
            lat = await logout_latency(session, a, b, args.clients)
            print(f"logout on A -> stream on B ended: p50 {lat['p50']:.1f} ms, "
                  f"max {lat['max']:.1f} ms over {lat['n']:.0f}")
        finally:
            await session.close()
            await redis.aclose()
            for inst in (a, b):
                inst.kill()


if __name__ == "__main__":
    asyncio.run(main())
