"""Claim latency of the live store's Lua scripts on a busy floor, in units of a Redis round trip.

    .venv/bin/python bench/claim_bench.py [--waiting 10000] [--counselors 1000]
                                          [--claims 2000] [--offers 1000] [--seed 1]

Starts a private redis-server, fills it through hotline.cases.live.LiveStore with W
waiting conversations (ko/en, web chat/SMS, mixed urgency) and C counselors on shift, available
and present (ko, en or both; max_chats 3), then times, one call at a time:

- take_next by a random counselor with room (the queue is refilled and cases closed as it goes,
  so it stays at about W waiting and the floor stays about two-thirds busy);
- take_next by a counselor at capacity (refused);
- offer + accept of a waiting case the counselor can take;
- the worst case for the scan: the first 199 (then 200) waiting cases are in a language the
  claiming counselor lacks, so take_next reads all of them before it claims the 200th (or is
  refused at the scan limit).

Every timed call is preceded by a timed PING on the same client, so the round-trip unit is
measured in the same run under the same conditions. Figures only: nothing here asserts on time.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Connection, Redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import RedisProcess, percentile, summarize_ms

from hotline.cases.live import LiveStore, now_ms
from hotline.cases.live_records import ClaimResult, StaffProfile, Waiting
from hotline.domain.conversation import Channel, Urgency
from hotline.domain.routing import Presence, RoutingRules
from hotline.stores.live.keys import Keys

TARGET_ROUND_TRIPS = 5
HOUR_MS = 3_600_000
LANG_MIXES = (("ko",), ("ko",), ("ko",), ("ko",), ("en",), ("en",), ("en",),
              ("ko", "en"), ("ko", "en"), ("ko", "en"))
CHANNELS = ("webchat", "sms", "telegram")
MAX_CHATS = 3


@dataclass
class Timings:
    """Latencies (s) of one kind of call, the PING just before each, and how calls ended."""

    calls: list[float] = field(default_factory=list)
    pings: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    # Time Redis itself spent running the script (SLOWLOG, microseconds).
    server_us: list[float] = field(default_factory=list)
    # Round trips each call made: requests the client wrote (a pipeline is one).
    trips: list[int] = field(default_factory=list)


class CountingConnection(Connection):
    """A redis-py connection that counts the requests it writes: one per round trip (a
    pipeline's commands go in one write), for the whole client."""

    sent = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        await super().send_packed_command(command, check_health)


@dataclass
class Floor:
    """What the bench knows of the floor, to pick counselors and cases without asking Redis."""

    langs: dict[int, tuple[str, ...]]
    held: dict[int, list[str]]
    waiting: dict[str, str]  # conversation id -> language
    rng: random.Random
    seq: int = 0
    # Older than any case the bench makes otherwise: the worst-case phase's head sorts first.
    head_ms: int = field(default_factory=lambda: now_ms() - 10 * HOUR_MS)


    def new_item(self, lang: str | None = None, urgency: Urgency | None = None,
                 enqueued_ms: int | None = None) -> Waiting:
        self.seq += 1
        r = self.rng.random()
        return Waiting(
            f"conv{self.seq:07d}",
            Channel.WEBCHAT if self.rng.random() < 0.7 else Channel.SMS,
            lang or self.rng.choice(("ko", "en")),
            urgency or (Urgency.CRITICAL if r < 0.05 else Urgency.HIGH if r < 0.25
                        else Urgency.NORMAL),
            enqueued_ms if enqueued_ms is not None
            else now_ms() - self.rng.randrange(0, HOUR_MS))


async def with_room(live: LiveStore, floor: Floor, only: tuple[str, ...] | None = None
                    ) -> int:
    """A random counselor (speaking exactly `only`, if given) with room for one more case; if
    all of them are full, one of them closes a case first (untimed)."""
    pool = [a for a, langs in floor.langs.items() if only is None or langs == only]
    for _ in range(50):
        aid = floor.rng.choice(pool)
        if len(floor.held[aid]) < MAX_CHATS:
            return aid
    free = [a for a in pool if len(floor.held[a]) < MAX_CHATS]
    if free:
        return floor.rng.choice(free)
    aid = floor.rng.choice(pool)
    await live.release(floor.held[aid].pop(0))
    return aid


async def timed(redis: Redis, t: Timings, call: Callable[[], Awaitable[Any]]) -> Any:
    """Time a PING, then the call; then (untimed) read how long Redis itself ran the call's
    script: with slowlog-log-slower-than 0 the newest slow-log entry is that EVALSHA."""
    t0 = time.perf_counter()
    await redis.ping()
    t1 = time.perf_counter()
    sent = CountingConnection.sent
    res = await call()
    t2 = time.perf_counter()
    t.trips.append(CountingConnection.sent - sent)
    t.pings.append(t1 - t0)
    t.calls.append(t2 - t1)
    last: Any = await redis.slowlog_get(1)
    if last and bytes(last[0]["command"]).startswith(b"EVALSHA "):
        t.server_us.append(float(last[0]["duration"]))
    return res


async def gather_in_chunks(calls: list[Awaitable[Any]], size: int = 32) -> None:
    """Setup writes, `size` at a time (fewer than the client pool's connection limit)."""
    for i in range(0, len(calls), size):
        await asyncio.gather(*calls[i:i + size])


async def keep_present(live: LiveStore, ids: list[int]) -> None:
    """Every console's heartbeat, as the open tabs would send them (untimed)."""
    at = now_ms()
    await live.redis.zadd(live.keys.presence, {str(a): at for a in ids})


# --------------------------------------------------------------------------- setup


async def open_floor(live: LiveStore, args: argparse.Namespace, rng: random.Random) -> Floor:
    now = now_ms()
    floor = Floor(langs={}, held={}, waiting={}, rng=rng)
    calls: list[Awaitable[Any]] = []
    for aid in range(1, args.counselors + 1):
        langs = LANG_MIXES[aid % len(LANG_MIXES)]
        floor.langs[aid], floor.held[aid] = langs, []
        calls.append(live.put_staff(StaffProfile(aid, now - HOUR_MS, now + 8 * HOUR_MS,
                                                 MAX_CHATS, langs, CHANNELS, ())))
    await gather_in_chunks(calls)
    await gather_in_chunks([live.set_status(a, Presence.AVAILABLE) for a in floor.langs])
    await keep_present(live, list(floor.langs))
    items = [floor.new_item() for _ in range(args.waiting)]
    await gather_in_chunks([live.enqueue(w) for w in items])
    floor.waiting.update({w.conversation_id: w.language for w in items})
    return floor


async def settle(live: LiveStore, floor: Floor, aid: int, cid: str, busy_share: float) -> None:
    """After a claim (untimed): the case is held; now and then a held case somewhere closes,
    and a new one arrives, so the queue and the floor's load stay about level."""
    floor.held[aid].append(cid)
    floor.waiting.pop(cid, None)
    held_total = sum(len(h) for h in floor.held.values())
    if held_total > busy_share * MAX_CHATS * len(floor.langs):
        holder = floor.rng.choice([a for a, h in floor.held.items() if h])
        done = floor.held[holder].pop(floor.rng.randrange(len(floor.held[holder])))
        await live.release(done)
    item = floor.new_item()
    await live.enqueue(item)
    floor.waiting[item.conversation_id] = item.language


# --------------------------------------------------------------------------- phases


async def phase_take_next(live: LiveStore, floor: Floor, n: int) -> Timings:
    t = Timings()
    ids = list(floor.langs)
    for i in range(n):
        if i % 100 == 0:
            await keep_present(live, ids)
        aid = await with_room(live, floor)
        res: ClaimResult = await timed(live.redis, t, functools.partial(live.take_next, aid))
        t.outcomes["ok" if res.ok else res.reason] += 1
        if res.ok and res.waiting is not None:
            await settle(live, floor, aid, res.waiting.conversation_id, 2 / 3)
    return t


async def phase_full(live: LiveStore, floor: Floor, n: int) -> Timings:
    """take_next by counselors already at capacity: refused, after the scan."""
    t = Timings()
    full = [a for a, h in floor.held.items() if len(h) >= MAX_CHATS]
    await keep_present(live, list(floor.langs))
    for _ in range(n if full else 0):
        aid = floor.rng.choice(full)
        res: ClaimResult = await timed(live.redis, t, functools.partial(live.take_next, aid))
        t.outcomes["ok" if res.ok else res.reason] += 1
    return t


async def phase_offer_accept(live: LiveStore, floor: Floor, n: int
                             ) -> tuple[Timings, Timings, list[float]]:
    offers, accepts, pairs = Timings(), Timings(), []
    ids = list(floor.langs)
    by_lang: dict[str, list[str]] = {"ko": [], "en": []}
    for i in range(n):
        if i % 100 == 0:
            await keep_present(live, ids)
        aid = await with_room(live, floor)
        lang = floor.rng.choice(floor.langs[aid])
        cid = ""
        while cid not in floor.waiting or cid.startswith("head"):  # still waiting, not offered
            if not by_lang[lang]:
                by_lang = {"ko": [], "en": []}
                for c, lg in floor.waiting.items():
                    by_lang[lg].append(c)
            cid = by_lang[lang].pop(floor.rng.randrange(len(by_lang[lang])))
        deadline = now_ms() + 30_000
        res: ClaimResult = await timed(
            live.redis, offers,
            functools.partial(live.offer, cid, aid, deadline))
        offers.outcomes["ok" if res.ok else res.reason] += 1
        if not res.ok:
            continue
        acc: ClaimResult = await timed(live.redis, accepts,
                                       functools.partial(live.accept, cid, aid))
        accepts.outcomes["ok" if acc.ok else acc.reason] += 1
        pairs.append(offers.calls[-1] + accepts.calls[-1])
        if acc.ok:
            await settle(live, floor, aid, cid, 2 / 3)
    return offers, accepts, pairs


async def phase_worst_scan(live: LiveStore, floor: Floor, n: int, head: int) -> Timings:
    """The first `head` waiting cases are English (critical and older than anything else, so
    always first); Korean-only counselors press take_next. With head = scan_limit - 1 a Korean
    case is kept right behind the head, so each claim succeeds at the last place scanned; with
    head = scan_limit each is refused after the whole scan."""
    t = Timings()
    for i in range(head):  # idempotent: the same ids at the same places
        await live.enqueue(Waiting(f"head{i:04d}", Channel.WEBCHAT, "en", Urgency.CRITICAL,
                                   floor.head_ms + i))
        floor.waiting[f"head{i:04d}"] = "en"

    async def korean_behind_head() -> None:
        floor.seq += 1
        w = Waiting(f"next{floor.seq:07d}", Channel.WEBCHAT, "ko", Urgency.CRITICAL,
                    floor.head_ms + 10_000 + floor.seq)
        await live.enqueue(w)
        floor.waiting[w.conversation_id] = "ko"

    if head < live.rules.scan_limit:
        await korean_behind_head()
    first: list[Any] = await live.redis.zrange(live.keys.queue, 0, head - 1)
    assert all(c.startswith("head") for c in first), "the head is not all English"
    ids = list(floor.langs)
    for i in range(n):
        if i % 100 == 0:
            await keep_present(live, ids)
        aid = await with_room(live, floor, only=("ko",))
        res: ClaimResult = await timed(live.redis, t, functools.partial(live.take_next, aid))
        t.outcomes["ok" if res.ok else res.reason] += 1
        if res.ok and res.waiting is not None:
            await settle(live, floor, aid, res.waiting.conversation_id, 2 / 3)
            await korean_behind_head()
    return t


# --------------------------------------------------------------------------- report


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def report(title: str, t: Timings | list[float], unit_ms: float) -> dict[str, float]:
    """One line: client-side p50/p99 (ms and round trips), server-side p50/p99 (us), outcomes."""
    seconds = t if isinstance(t, list) else t.calls
    s = summarize_ms(seconds)
    line = (f"  {title:<36} n={int(s['n']):<5} p50 {s['p50']:6.3f} ms {s['p50'] / unit_ms:5.1f} RT"
            f"  p99 {s['p99']:6.3f} ms {s['p99'] / unit_ms:5.1f} RT")
    if isinstance(t, Timings) and t.trips:
        trips = sorted(float(x) for x in t.trips)
        line += f"  | trips p99 {percentile(trips, 99):.0f}"
    if isinstance(t, Timings) and t.server_us:
        srv = sorted(t.server_us)
        line += f"  | server p50 {percentile(srv, 50):5.0f} us  p99 {percentile(srv, 99):5.0f} us"
    if isinstance(t, Timings) and t.outcomes:
        line += "  [" + ", ".join(f"{k} {v}" for k, v in sorted(t.outcomes.items())) + "]"
    print(line)
    return s


async def main_async(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    t_begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hotline-claim-bench-") as tmp:
        server = RedisProcess(Path(tmp) / "redis")
        server.start()
        redis = Redis.from_url(server.url, decode_responses=True,
                               connection_class=CountingConnection)
        try:
            # Every command goes into the slow log with its server-side duration.
            await redis.config_set("slowlog-log-slower-than", 0)
            rules = RoutingRules()
            live = LiveStore(redis, Keys(f"b{rng.getrandbits(40):010x}"), rules)
            print(f"hotline claim bench: {args.waiting} waiting, {args.counselors} counselors "
                  f"(max_chats {MAX_CHATS}), scan_limit {rules.scan_limit}, seed {args.seed}")
            print(f"machine: {os.cpu_count()} CPUs, load average {_load()} at start")
            t0 = time.perf_counter()
            floor = await open_floor(live, args, rng)
            print(f"setup: {time.perf_counter() - t0:.1f} s "
                  f"(queue {await redis.zcard(live.keys.queue)})")
            # Warm-up (untimed): scripts loaded (EVALSHA hits), connections open.
            for _ in range(20):
                aid = await with_room(live, floor)
                res = await live.take_next(aid)
                if res.ok and res.waiting is not None:
                    await settle(live, floor, aid, res.waiting.conversation_id, 2 / 3)
            # As the server does once started (hotline.app._freeze_heap): the floor built
            # above stays out of the collector's generations during the timed calls.
            gc.collect()
            gc.freeze()
            take = await phase_take_next(live, floor, args.claims)
            full = await phase_full(live, floor, min(500, args.claims))
            offers, accepts, pairs = await phase_offer_accept(live, floor, args.offers)
            worst_ok = await phase_worst_scan(live, floor, min(1000, args.claims),
                                              rules.scan_limit - 1)
            worst_no = await phase_worst_scan(live, floor, min(1000, args.claims),
                                              rules.scan_limit)
            queue_end = await redis.zcard(live.keys.queue)
            held_end = sum((await live.loads()).values())
            redis_rss = server.peak_rss_kib()
        finally:
            await redis.aclose()
            server.stop()

    pings = [p for t in (take, full, offers, accepts, worst_ok, worst_no) for p in t.pings]
    ping = summarize_ms(pings)
    unit = ping["p50"]
    print(f"end: queue {queue_end}, held + offered {held_end}; "
          f"load average {_load()} at end")
    print()
    print("one Redis round trip (RT = PING p50; a PING is timed just before every call below):")
    report("PING", pings, unit)
    print()
    print("live store calls, one at a time (client-side, and Redis' own time running the script):")
    t_take = report("take_next, counselor with room", take, unit)
    report("take_next, counselor at capacity", full, unit)
    report("offer", offers, unit)
    report("accept", accepts, unit)
    report("offer + accept (client)", pairs, unit)
    t_worst = report("take_next, 199 skipped, claims 200th", worst_ok, unit)
    report("take_next, 200 skipped, refused", worst_no, unit)
    print()
    print(f"target: take_next p99 at most {TARGET_ROUND_TRIPS} round trips "
          f"(PING p50 {unit:.3f} ms, PING p99 {ping['p99']:.3f} ms)")
    for label, t, s in (("typical", take, t_take), ("worst-case scan", worst_ok, t_worst)):
        trips = percentile(sorted(float(x) for x in t.trips), 99)
        verdict = "meets" if trips <= TARGET_ROUND_TRIPS else "MISSES"
        srv = percentile(sorted(t.server_us), 99) / 1000 if t.server_us else float("nan")
        print(f"  {label:<16} p99 {trips:.0f} round trip(s) counted: {verdict} the target; "
              f"in time p99 {s['p99']:.3f} ms = {s['p99'] / unit:.1f} RT "
              f"(= {s['p99'] / ping['p99']:.1f} x PING p99), of which Redis running the "
              f"script p99 {srv:.3f} ms = {srv / unit:.1f} RT")
    if redis_rss is not None:
        print(f"redis-server peak RSS {redis_rss / 1024:.1f} MiB; "
              f"total run time {time.perf_counter() - t_begin:.1f} s")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--waiting", type=int, default=10_000, help="waiting conversations (10000)")
    p.add_argument("--counselors", type=int, default=1000, help="counselors on shift (1000)")
    p.add_argument("--claims", type=int, default=2000, help="timed take_next calls (2000)")
    p.add_argument("--offers", type=int, default=1000, help="timed offer+accept pairs (1000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (1)")
    args = p.parse_args(argv)
    for name in ("waiting", "counselors", "claims", "offers"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.waiting < 1000:
        p.error("--waiting must be at least 1000 (the worst-case phase needs a deep queue)")
    return args


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
