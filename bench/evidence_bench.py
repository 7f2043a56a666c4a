"""PDQ scan of a new image against every stored hash, and what it does to inbound messages.

    .venv/bin/python bench/evidence_bench.py [--stored N] [--database sqlite|postgresql]

Stores N evidence rows with random PDQ hashes (a few of them close to the probe), then compares
one probe hash with all of them three ways, in the same run:
  - before: what record() did until migration 0008, inside the recording write transaction,
    one Python XOR and popcount per row (the baseline);
  - now:    services/pdq_scan.scan: after the commit, read-only chunks of SCAN_CHUNK ids,
            numpy per chunk, the event loop free between chunks, pairs in a short write;
  - idle:   no scan at all.
Meanwhile inbound messages go through the real inbox (inbox.receive: SQL store, queue, event),
one every 2 ms, and a 1 ms ticker measures how long the event loop was held at a stretch.
Printed: scan time; inbound messages' latency p50 / p99 / max while it ran; the longest
event-loop stall. Figures only: nothing here asserts on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import NoDatabase, bench_servers, make_config, summarize_ms

from hotline.cases import inbox
from hotline.cases.live import LiveStore
from hotline.cases.tables import conversations
from hotline.crypto import Keyring
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Inbound
from hotline.evidence import pdq_scan
from hotline.evidence.tables import evidence
from hotline.stores.live.client import open_client
from hotline.stores.live.keys import Keys
from hotline.stores.sql.engine import migrate, open_engine

PROBE = secrets.token_hex(32)


def _near(h: str, bits: int) -> str:
    return f"{int(h, 16) ^ ((1 << bits) - 1):064x}"


async def fill(deps: Deps, n: int) -> tuple[str, int]:
    """n evidence rows in one conversation (every 10,000th close to the probe); the probe's
    own row, recorded last and not yet scanned."""
    now = datetime.now(UTC)
    cid = secrets.token_hex(16)
    async with deps.engine.begin() as conn:
        await conn.execute(insert(conversations).values(
            id=cid, channel="telegram", pseudonym="bench", language="ko", status="waiting",
            urgency="normal", created_at=now, enqueued_at=now, last_activity_at=now))
        for at in range(0, n, 10_000):
            await conn.execute(insert(evidence), [{
                "conversation_id": cid, "kind": "photo", "mime": "image/jpeg", "size_bytes": 1,
                "sha256": "0" * 64, "consent": "pending", "created_at": now,
                "pdq": _near(PROBE, 8) if i % 10_000 == 0 else secrets.token_hex(32),
                "pdq_quality": 100, "pdq_scanned_at": now} for i in range(at, min(n, at + 10_000))])
        probe = int((await conn.execute(insert(evidence).values(
            conversation_id=cid, kind="photo", mime="image/jpeg", size_bytes=1, sha256="0" * 64,
            consent="pending", created_at=now, pdq=PROBE, pdq_quality=100)
            .returning(evidence.c.id))).scalar_one())
    return cid, probe


async def scan_before(deps: Deps, probe: int) -> int:
    """The baseline: the scan as it ran inside the recording transaction until 0008."""
    found = 0
    async with deps.engine.begin() as conn:
        rows = await conn.execute(select(evidence.c.id, evidence.c.pdq).where(
            evidence.c.id != probe, evidence.c.pdq.is_not(None)))
        target = int(PROBE, 16)
        for r in rows:
            if (target ^ int(r.pdq, 16)).bit_count() <= pdq_scan.STORE_MAX_DISTANCE:
                found += 1
    return found


async def measured(deps: Deps, label: str, work: Callable[[], Awaitable[int]] | None) -> None:
    stop = asyncio.Event()
    stalls: list[float] = []
    latencies: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            stalls.append(now - last)
            last = now

    async def inbound() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            msg = Inbound(channel=Channel.SMS, address=f"+8210{secrets.randbelow(10**8):08d}",
                          text="hello", provider_id=secrets.token_hex(12), language="ko",
                          received_at=datetime.now(UTC), keep_contact=False)
            t0 = time.perf_counter()
            await inbox.receive(deps, msg)
            latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(0.002)

    tasks = [asyncio.create_task(ticker()), asyncio.create_task(inbound())]
    await asyncio.sleep(0.2)  # both running
    t0 = time.perf_counter()
    found = 0
    if work is None:
        await asyncio.sleep(1.0)
    else:
        found = await work()
    took = time.perf_counter() - t0
    stop.set()
    await asyncio.gather(*tasks)
    s = summarize_ms(latencies)
    print(f"  {label:7} scan {took * 1000:8.1f} ms  pairs {found:3}   inbound during it: "
          f"p50 {s['p50']:6.2f} ms  p99 {s['p99']:7.2f} ms  max {s['max']:7.2f} ms "
          f"(n={int(s['n'])})   longest loop stall {max(stalls) * 1000:7.2f} ms")


async def run(args: argparse.Namespace) -> int:
    try:
        async with bench_servers("evidence-bench-", args.database) as servers:
            cfg = make_config(servers.tmp / "data", servers.database_url, servers.redis.url)
            engine = open_engine(servers.database_url)
            redis = open_client(servers.redis.url)
            keys = Keys(cfg.storage.redis_prefix)
            deps = Deps(config=cfg, engine=engine, redis=redis, keys=keys,
                        live=LiveStore(redis, keys, cfg.routing.rules()),
                        keyring=Keyring.from_master(secrets.token_bytes(32)))
            try:
                await migrate(engine)
                t0 = time.perf_counter()
                _cid, probe = await fill(deps, args.stored)
                print(f"evidence bench: {args.database}, {args.stored} stored hashes (filled "
                      f"in {time.perf_counter() - t0:.1f} s), chunk {pdq_scan.SCAN_CHUNK}")
                await measured(deps, "idle", None)
                await measured(deps, "before", lambda: scan_before(deps, probe))
                await measured(deps, "now", lambda: pdq_scan.scan(deps, probe, PROBE))
            finally:
                await deps.publisher.drain()
                await redis.aclose()
                await engine.dispose()
    except NoDatabase as e:
        print(e, file=sys.stderr)
        return 2
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--stored", type=int, default=200_000)
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    return asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
