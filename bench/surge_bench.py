"""A surge on a real `hotline serve` process: a full floor, consoles watching, messages pouring in.

    .venv/bin/python bench/surge_bench.py [--database sqlite|postgresql] [--waiting 10000]
        [--counselors 1000] [--leads 5] [--consoles 200] [--rate 500] [--seconds 60] [--idle 20]
        [--instances 1] [--rostered] [--profile DIR] [--slow-steps DIR]

Two floors, each on a fresh database and private redis-server, the same in everything but the
queue: the baseline with nothing waiting, then the surge with W waiting (urgency as aging would
have left it, waits up to 30 min). Both have C counselors, available, present (the bench stamps
their presence in Redis as their consoles' heartbeats would) and each at capacity with 3 active
cases (a busy night: nobody is free, so nothing waiting is taken), and the leads. With
--rostered the counselors follow the roster, five eight-hour weekly shifts each (today's under
way all through the bench), as on a real floor: the roster's reads then cost what they would.
On each floor:
  - idle:  no client but the /healthz probe, for --idle seconds;
  - load:  the leads' and the first counselors' consoles on their event streams, each doing what
    its page does on an event (the lead page: GET /api/v1/floor, and GET /api/v1/roster/cover
    after a case was queued, assigned or closed, or the roster moved, and GET
    /api/v1/wellbeing's first page when it opens and every minute; every page GET
    /api/v1/alerts when it opens and after an alert event, at most once a second; a
    counselor's: GET /api/v1/queue and /api/v1/cases/mine, or once its stream pushes the
    queue's page (`queue.page`), only /api/v1/cases/mine after any other event; one request
    at a time per console, a later event coalesced into the next; once the answers are the bounded
    ones, at most every 3 s for a lead and 2 s for a counselor, and no read for a message
    event on the lead page, as the pages now do), and --rate inbound messages a second (half
    web chat, half signed Twilio SMS, from 1,000 victims each) for --seconds, sent on a fixed
    schedule.
With --instances N (PostgreSQL; the deployed shape, design.md: several instances behind a
proxy sharing Redis and the database), N `hotline serve` processes share the floor: console k
and message i go to instance k mod N and i mod N, as a round-robin proxy would send them; the
loop's stalls, /healthz and events are those of every instance together, CPU their sum, RSS
the largest instance's.
Printed for each phase: the loop's stalls measured inside the server (`hotline_loop_lag_seconds`,
a task waking every 10 ms; p99 and max as the histogram's bucket bounds) next to those of a
bare loop in a process of its own running beside it (the machine's share), /healthz latency
(polled every 5 ms), inbound p50/p99, event to console p99 (arrival at the console less the
time in the event's stream id, when it entered the log), the console fetches, server CPU
(cores), how long the server's loop thread was runnable but waiting for a core (the kernel's
schedstat: a stall that is the machine's, not the server's work) and RSS. The server logs at
INFO, as deployed. Figures only: nothing asserts on timing.
With --slow-steps DIR each server counts the loop's steps over 15 ms by the code that held the
loop (bench/slow_steps: the task's stack where the step ended) and its iterations by length,
with the code that ran in those over 20 ms: up to the load phase (start-up and the consoles'
logins included) in DIR/steps-<pid>.txt, the load phase alone in DIR/steps-<pid>-phase.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import os
import secrets
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis
from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import NoDatabase, bench_servers, summarize_ms
from _surge_floor import (
    bare_loop,
    cpu_s,
    lag_buckets,
    lag_figures,
    login,
    profile,
    rss_mb,
    run_delay_s,
    seed,
)

from hotline.stores.live.keys import Keys
from tests.serve import Instance

ACCOUNT = "AC" + "0" * 32
TOKEN = "surge-auth-token-" + secrets.token_hex(8)
METRICS_TOKEN = secrets.token_urlsafe(24)
OUR_NUMBER = "+15005550006"
SMS_PATH = "/webhooks/twilio/sms"
TEXT = "hello, I found an old picture of me on a phone and I do not know what to do. #{i}"
VICTIMS = 1000  # per channel
# The server's own measure of event to console (hotline.web.sse).
DELIVERY = "hotline_event_delivery_seconds"
LAG = "hotline_loop_lag_seconds"
EXTRA_TOML = f"""[limits]
address_sessions_burst = 100000
address_sessions_per_hour = 1000000
address_cases_burst = 100000
address_cases_per_hour = 1000000
[twilio]
api_base_url = "http://127.0.0.1:9"
phone_number = "{OUR_NUMBER}"
"""


# The kinds each page's stream asks for (H.events sends the kinds it has handlers for: lead.js,
# console.js with its offers bar; tests/test_bench_kinds.py holds these to the pages).
LEAD_KINDS = ("alert,alert.acked,assigned,bans,closed,coverage,handover,handover.planned,"
              "lead.attention,offer.declined,offer.expired,offered,presence,queued,reset,roster,"
              "urgency,victim.left")
COUNSELOR_KINDS = ("alert,alert.acked,assigned,closed,handover,language,offer.declined,"
                   "offer.expired,offered,presence,queue.page,queued,reset,roster,urgency")
# After these the lead page also reads the roster's cover (lead.js, Cover.load), at most
# every 3 s (cover.js) as it reads its floor.
LEAD_COVER_KINDS = "assigned,closed,queued,reset,roster"
_COVER_AFTER = frozenset(LEAD_COVER_KINDS.split(","))
COVER = "/api/v1/roster/cover"
# The lead page's wellbeing panel (wellbeing.js) reads its first page when it opens and then
# every minute, whatever the events.
WELLBEING = "/api/v1/wellbeing?limit=50"
WELLBEING_S = 60.0
# Every console page reads its alerts panel when it opens and after `alert` and `alert.acked`
# events, at most once a second (common.js, alertsPanel).
ALERTS = "/api/v1/alerts"
_ALERTS_AFTER = frozenset(("alert", "alert.acked"))


@dataclass
class Stats:
    inbound: dict[str, list[float]] = field(default_factory=lambda: {"webchat": [], "sms": []})
    errors: list[str] = field(default_factory=list)
    late: int = 0
    unsent: int = 0
    event_lag: dict[str, list[float]] = field(default_factory=lambda: {"lead": [], "counselor": []})
    # When each lead event arrived (time.monotonic()), beside its lag: the lag over the phase.
    lead_at: list[float] = field(default_factory=list)
    event_kinds: dict[str, Counter[str]] = field(
        default_factory=lambda: {"lead": Counter(), "counselor": Counter()})
    fetch: dict[str, list[float]] = field(default_factory=lambda: {"lead": [], "counselor": []})
    # The queue's pages pushed to the counselors' streams: how many, and their largest.
    pages: int = 0
    page_bytes: int = 0
    # The leads' reads of the roster's cover.
    cover_reads: int = 0
    # The leads' wellbeing reads, and every console's alerts reads: seconds and bytes of each.
    wellbeing: list[tuple[float, int]] = field(default_factory=list)
    alerts: list[tuple[float, int]] = field(default_factory=list)
    fetch_bytes: dict[str, list[int]] = field(default_factory=lambda: {"lead": [], "counselor": []})
    healthz: list[float] = field(default_factory=list)
    client_lag: list[float] = field(default_factory=list)


class Console:
    """One console page: its event stream, and the fetch its page makes after events."""

    def __init__(self, session: aiohttp.ClientSession, base: str, cookie: str, kind: str,
                 stats: Stats) -> None:
        self.session, self.base, self.kind, self.stats = session, base, kind, stats
        self.headers = {"Cookie": f"hl_staff={cookie}"}
        self.dirty = asyncio.Event()
        self.recording = False
        # What the page does after a read: main's pages read again after every event; the
        # bounded ones (the answer has "summary" / "next") at most every 3 s (lead) or 2 s
        # (counselor), and the lead page ignores "message" events.
        self.gap = 0.0
        self.skip_messages = False
        # Whether the stream pushes the queue's pages: the page then reads only its own cases
        # after an event, and the queue only when it opens.
        self.pushed = False
        # A lead page reads the roster's cover too once an event of LEAD_COVER_KINDS came.
        self.cover = kind == "lead"
        self.alerted = asyncio.Event()

    async def run(self) -> None:
        fetcher = asyncio.create_task(self._fetcher())
        panel = asyncio.create_task(self._alerts())
        minutely = asyncio.create_task(self._wellbeing()) if self.kind == "lead" else None
        try:
            kinds = LEAD_KINDS if self.kind == "lead" else COUNSELOR_KINDS
            async with self.session.get(f"{self.base}/api/v1/events?types={kinds}",
                                        headers=self.headers,
                                        timeout=aiohttp.ClientTimeout(total=None)) as resp:
                self.dirty.set()
                self.alerted.set()
                # An id is an event's only when an event line follows (an `id:` alone moves
                # the page's cursor, hotline.web.sse._Cursor).
                sent_ms: int | None = None
                page = False
                async for raw in resp.content:
                    line = raw.decode()
                    if line.startswith("id: "):
                        sent_ms = int(line[4:].split("-", 1)[0])
                    elif not line.strip():
                        sent_ms, page = None, False  # the end of a frame
                    elif line.startswith("event: "):
                        kind = line[7:].strip()
                        if self.recording:
                            self.stats.event_kinds[self.kind][kind] += 1
                            if sent_ms is not None:
                                self.stats.event_lag[self.kind].append(
                                    time.time() * 1000 - sent_ms)
                                if self.kind == "lead":
                                    self.stats.lead_at.append(time.monotonic())
                        sent_ms = None
                        # The counselor's page renders a pushed queue page; it reads its own
                        # cases after any other event it is sent (console.js).
                        page = kind == "queue.page"
                        if kind in _ALERTS_AFTER:
                            self.alerted.set()
                        if page:
                            self.pushed = True
                        elif not (self.skip_messages and kind == "message"):
                            self.dirty.set()
                            if self.kind == "lead" and kind in _COVER_AFTER:
                                self.cover = True
                    elif page and line.startswith("data: ") and self.recording:
                        self.stats.pages += 1
                        self.stats.page_bytes = max(self.stats.page_bytes, len(raw))
        finally:
            fetcher.cancel()
            panel.cancel()
            if minutely is not None:
                minutely.cancel()

    async def _alerts(self) -> None:
        while True:
            await self.alerted.wait()
            self.alerted.clear()
            t0 = time.perf_counter()
            async with self.session.get(self.base + ALERTS, headers=self.headers) as r:
                body = await r.read()
            if self.recording:
                self.stats.alerts.append((time.perf_counter() - t0, len(body)))
            await asyncio.sleep(1.0)

    async def _wellbeing(self) -> None:
        while True:
            t0 = time.perf_counter()
            async with self.session.get(self.base + WELLBEING, headers=self.headers) as r:
                body = await r.read()
            if self.recording:
                self.stats.wellbeing.append((time.perf_counter() - t0, len(body)))
            await asyncio.sleep(WELLBEING_S)

    async def _fetcher(self) -> None:
        paths = (["/api/v1/floor"] if self.kind == "lead"
                 else ["/api/v1/queue", "/api/v1/cases/mine"])
        while True:
            await self.dirty.wait()
            self.dirty.clear()
            t0 = time.perf_counter()
            size = 0
            cover, self.cover = self.cover, False
            for path in paths + ([COVER] if cover else []):
                if self.pushed and path == "/api/v1/queue":
                    continue
                async with self.session.get(self.base + path, headers=self.headers) as r:
                    body = await r.read()
                    size += len(body)
                if path == COVER and self.recording:
                    self.stats.cover_reads += 1
                if path == paths[0] and (b'"summary":' in body or b'"next":' in body):
                    self.gap = 3.0 if self.kind == "lead" else 2.0
                    self.skip_messages = self.kind == "lead"
            if self.recording:
                self.stats.fetch[self.kind].append(time.perf_counter() - t0)
                self.stats.fetch_bytes[self.kind].append(size)
            await asyncio.sleep(self.gap)


# A web chat session: the instance it was opened on, and its cookie and CSRF header.
Chat = tuple[str, dict[str, str]]


async def open_chats(session: aiohttp.ClientSession, bases: list[str], n: int) -> list[Chat]:
    """n web chat sessions, the k-th opened on bases[k mod N]."""
    out: list[Chat] = []
    sem = asyncio.Semaphore(20)

    async def one(base: str) -> None:
        async with sem, session.get(f"{base}/chat?lang=en") as resp:
            html = await resp.text()
            csrf = html.split('name="csrf-token" content="')[1].split('"')[0]
            out.append((base, {"Cookie": f"hl_chat={resp.cookies['hl_chat'].value}",
                               "X-CSRF-Token": csrf}))
    await asyncio.gather(*(one(bases[k % len(bases)]) for k in range(n)))
    return out


async def inbound(session: aiohttp.ClientSession, bases: list[str], rate: float,
                  seconds: float, chats: list[Chat], stats: Stats) -> None:
    """rate messages a second on a fixed schedule (an SMS to bases[i mod N], a chat message
    to the instance its chat was opened on); a message due while 256 are in flight waits
    (counted as late), and those still waiting at the end are not sent (unsent)."""
    validator = RequestValidator(TOKEN)
    numbers = 821000000000 + int(secrets.token_hex(3), 16) * 1000
    locks = [asyncio.Lock() for _ in chats]
    sem = asyncio.Semaphore(256)
    total = int(rate * seconds)
    t_start = time.perf_counter()

    async def one(i: int) -> None:
        try:
            if i % 2:
                base = bases[(i // 2) % len(bases)]
                form = {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": ACCOUNT,
                        "From": f"+{numbers + (i // 2) % VICTIMS}", "To": OUR_NUMBER,
                        "Body": TEXT.format(i=i), "NumMedia": "0"}
                sig = validator.compute_signature(base + SMS_PATH, form)
                t0 = time.perf_counter()
                async with session.post(base + SMS_PATH, data=form,
                                        headers={"X-Twilio-Signature": sig}) as r:
                    await r.read()
                    status, kind = r.status, "sms"
            else:
                v = (i // 2) % len(chats)
                body = {"text": TEXT.format(i=i), "client_id": f"s{i:015d}", "language": "en"}
                chat_base, headers = chats[v]
                async with locks[v]:
                    t0 = time.perf_counter()
                    async with session.post(f"{chat_base}/chat/api/messages", json=body,
                                            headers=headers) as r:
                        await r.read()
                        status, kind = r.status, "webchat"
            if status >= 300:
                stats.errors.append(f"{kind} HTTP {status}")
            else:
                stats.inbound[kind].append(time.perf_counter() - t0)
        except (aiohttp.ClientError, TimeoutError) as e:
            stats.errors.append(type(e).__name__)
        finally:
            sem.release()

    tasks = []
    end = t_start + seconds
    for i in range(total):
        delay = t_start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if sem.locked():
            stats.late += 1
        # Bounded in time: what the server could not take by the end is not sent.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sem.acquire(), max(0.001, end - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i)))
            continue
        stats.unsent = total - i
        break
    if tasks:
        await asyncio.wait(tasks, timeout=30)


async def poll_healthz(session: aiohttp.ClientSession, base: str, stats: Stats,
                       stop: asyncio.Event) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        async with session.get(f"{base}/healthz") as r:
            await r.read()
        stats.healthz.append(time.perf_counter() - t0)
        await asyncio.sleep(0.005)


async def client_lag(stats: Stats, stop: asyncio.Event) -> None:
    """This process's own loop lag (a task waking every 10 ms): every latency the bench
    measures includes it, so it is printed beside them."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t0 = loop.time()
        await asyncio.sleep(0.01)
        stats.client_lag.append(loop.time() - t0 - 0.01)


async def keep_present(redis: Redis, keys: Keys, ids: list[int], stop: asyncio.Event) -> None:
    """Every counselor's console beats (what the heartbeat API writes), every 10 s."""
    while not stop.is_set():
        stamp = int(time.time() * 1000)
        await redis.zadd(keys.presence, {str(i): stamp for i in ids})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 10)


async def buckets(session: aiohttp.ClientSession, insts: list[Instance],
                  metric: str = LAG) -> list[tuple[float, float]]:
    """A histogram of every instance together (counts per bucket added)."""
    each = [await lag_buckets(session, i.url, METRICS_TOKEN, metric) for i in insts]
    return [(le, sum(b[k][1] for b in each)) for k, (le, _) in enumerate(each[0])]


async def phase(name: str, insts: list[Instance], session: aiohttp.ClientSession,
                seconds: float, consoles: list[Console], load: tuple[float, list[Chat]] | None,
                spy: Path | None = None) -> dict[str, Any]:
    pids = [i.proc.pid for i in insts if i.proc is not None]
    stats = Stats()
    for c in consoles:
        c.stats, c.recording = stats, True
    stop = asyncio.Event()
    pollers = [asyncio.create_task(poll_healthz(session, i.url, stats, stop)) for i in insts]
    lagger = asyncio.create_task(client_lag(stats, stop))
    before = await buckets(session, insts)
    sent0 = await buckets(session, insts, DELIVERY)
    cpu0, t0 = sum(map(cpu_s, pids)), time.perf_counter()
    peak = max(map(rss_mb, pids))
    waited0 = sum(map(run_delay_s, pids))
    bare = asyncio.create_task(bare_loop(seconds))
    own0 = time.process_time()
    # The slow-steps tables (--slow-steps) count this load phase on their own.
    marking = load is not None and "BENCH_SLOW_STEPS" in os.environ
    if marking:
        for pid in pids:
            os.kill(pid, signal.SIGUSR1)
    # Sampling the load phase itself (the idle phase is sampled after it, not during); of
    # several instances, the first.
    spying = (asyncio.create_task(profile(pids[0], seconds, spy))
              if spy is not None and load is not None else None)
    if load is None:
        end = t0 + seconds
        while time.perf_counter() < end:
            await asyncio.sleep(1)
            peak = max(peak, *map(rss_mb, pids))
    else:
        sender = asyncio.create_task(inbound(session, [i.url for i in insts], load[0],
                                             seconds, load[1], stats))
        while not sender.done():
            await asyncio.sleep(1)
            peak = max(peak, *map(rss_mb, pids))
    wall = time.perf_counter() - t0
    if marking:
        for pid in pids:
            os.kill(pid, signal.SIGUSR2)
    cpu = (sum(map(cpu_s, pids)) - cpu0) / wall
    waited = (sum(map(run_delay_s, pids)) - waited0) / wall
    client = (time.process_time() - own0) / wall
    top = await spying if spying is not None else []
    bare_p99, bare_max = await bare
    after = await buckets(session, insts)
    sent1 = await buckets(session, insts, DELIVERY)
    for c in consoles:
        c.recording = False
    stop.set()
    await asyncio.gather(*pollers)
    await lagger
    p99, lag_max, n = lag_figures(before, after)
    nan = float("nan")
    d99, d_max, d_n = lag_figures(sent0, sent1) if sent0 and sent1 else (nan, nan, 0)
    return {"name": name, "stats": stats, "lag_p99": p99, "lag_max": lag_max, "lag_n": n,
            "bare": (bare_p99, bare_max), "delivery": (d99, d_max, d_n), "cpu": cpu,
            "waited": waited, "client_cpu": client, "spy": top,
            "rss": max(map(rss_mb, pids)), "rss_peak": peak, "wall": wall,
            "load": os.getloadavg()}


async def floor(args: argparse.Namespace, waiting: int) -> list[dict[str, Any]]:
    async with bench_servers("surge-bench-", args.database) as servers:
        t0 = time.perf_counter()
        await seed(servers.database_url, args.counselors, args.leads, waiting, args.rostered)
        prefix = f"b{secrets.token_hex(5)}"
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        insts = [Instance(servers.tmp, f"surge{k}", servers.database_url, servers.redis.url,
                          prefix, secret, extra_toml=EXTRA_TOML, log_level="INFO")
                 for k in range(args.instances)]
        for inst in insts:
            inst.env.update(HOTLINE_TWILIO_ACCOUNT_SID=ACCOUNT, HOTLINE_TWILIO_AUTH_TOKEN=TOKEN,
                            HOTLINE_METRICS_TOKEN=METRICS_TOKEN)
        redis = Redis.from_url(servers.redis.url, decode_responses=True)
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                        cookie_jar=aiohttp.DummyCookieJar())
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        try:
            for inst in insts:
                inst.start()
                await inst.wait_ready(session)
            keeper = asyncio.create_task(keep_present(
                redis, Keys(prefix), list(range(1, args.counselors + 1)), stop))
            print(f"  floor of {waiting} waiting ready in {time.perf_counter() - t0:.0f} s",
                  flush=True)
            await asyncio.sleep(5)  # the first reconcile and aging passes
            out = [await phase("idle", insts, session, args.idle, [], None)]
            first = insts[0].proc
            if args.profile and first is not None:
                # After the idle phase: the profiler's own sampling is not in its figures.
                path = Path(args.profile) / f"idle-{waiting}.txt"
                top = await profile(first.pid, args.idle, path)
                print(f"  py-spy, idle at {waiting} waiting, own samples (stacks in {path}):")
                for n, func in top:
                    print(f"    {n:6} {func[:110]}")
            names = ([(f"lead{i}", "lead") for i in range(args.leads)]
                     + [(f"c{i}", "counselor") for i in range(args.consoles)])
            sem = asyncio.Semaphore(4)

            async def console(name: str, kind: str, base: str) -> Console:
                async with sem:
                    return Console(session, base, await login(session, base, name), kind,
                                   Stats())
            bases = [i.url for i in insts]
            consoles = await asyncio.gather(*(console(n, kind, bases[k % len(bases)])
                                              for k, (n, kind) in enumerate(names)))
            tasks = [asyncio.create_task(c.run()) for c in consoles]
            chats = await open_chats(session, bases, VICTIMS)
            # The client's own full collections stalled it 120-170 ms under load: what it
            # built so far lives to the end, and nothing is collected during the load (a
            # minute's garbage is a few hundred MB at most; every latency measured here
            # includes the client's stalls).
            gc.collect()
            gc.freeze()
            await asyncio.sleep(3)
            spy = Path(args.profile) / f"load-{waiting}.txt" if args.profile else None
            gc.disable()
            try:
                out.append(await phase("load", insts, session, args.seconds, list(consoles),
                                       (args.rate, chats), spy))
            finally:
                gc.enable()
            if spy is not None:
                print(f"  py-spy, load at {waiting} waiting, own samples (stacks in {spy}):")
                for n, func in out[-1]["spy"]:
                    print(f"    {n:6} {func[:110]}")
            stop.set()
            await keeper
            return out
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await session.close()
            await redis.aclose()
            for inst in insts:
                inst.kill()


def _ms(values: list[float], p: str) -> str:
    return f"{summarize_ms(values)[p]:.1f}" if values else "-"


def _plain_ms(values: list[float], p: str) -> str:
    s = sorted(values)
    if not s:
        return "-"
    return f"{s[min(len(s) - 1, int(len(s) * (0.99 if p == 'p99' else 0.5)))]:.0f}"


def _by_sixth(at: list[float], lags: list[float]) -> str:
    """p99 of `lags` in each sixth of the time they span: whether delivery falls behind."""
    if len(at) < 60:
        return "-"
    start, span = at[0], (at[-1] - at[0]) / 6 or 1.0
    parts: list[list[float]] = [[] for _ in range(6)]
    for t, lag in zip(at, lags, strict=True):
        parts[min(5, int((t - start) / span))].append(lag)
    return " ".join(_plain_ms(p, "p99") for p in parts)


def _reads(reads: list[tuple[float, int]]) -> str:
    if not reads:
        return "0 / - / -"
    return (f"{len(reads)} / {max(t for t, _ in reads) * 1000:.1f} / "
            f"{max(n for _, n in reads) / 1024:.1f}")


def rows(r: dict[str, Any]) -> dict[str, str]:
    s: Stats = r["stats"]
    inbound = s.inbound["webchat"] + s.inbound["sms"]
    fb = s.fetch_bytes
    return {
        "loop stall p99 / max ms (<= bucket)": f"{r['lag_p99']:.1f} / {r['lag_max']:.1f}",
        "bare loop beside it: stall p99 / max ms": "{:.1f} / {:.1f}".format(*r["bare"]),
        "/healthz p99 / max ms": f"{_ms(s.healthz, 'p99')} / {_ms(s.healthz, 'max')}",
        "inbound p50 / p99 ms": f"{_ms(inbound, 'p50')} / {_ms(inbound, 'p99')}",
        "inbound ok / errors / unsent": f"{len(inbound)} / {len(s.errors)} / {s.unsent}",
        "event written, in the server: p99 / max ms": "{:.0f} / {:.0f}".format(
            *r["delivery"][:2]),
        "events to leads n / p99 ms": f"{len(s.event_lag['lead'])} / "
                                      f"{_plain_ms(s.event_lag['lead'], 'p99')}",
        "events to counselors n / p99 ms": f"{len(s.event_lag['counselor'])} / "
                                           f"{_plain_ms(s.event_lag['counselor'], 'p99')}",
        "events to leads p99 ms by sixth of the phase": _by_sixth(s.lead_at,
                                                                 s.event_lag["lead"]),
        "counselors' events, most common": ", ".join(
            f"{k} {n}" for k, n in s.event_kinds["counselor"].most_common(3)) or "-",
        "lead fetch n / p50 / p99 ms": f"{len(s.fetch['lead'])} / {_ms(s.fetch['lead'], 'p50')}"
                                       f" / {_ms(s.fetch['lead'], 'p99')}",
        "lead cover reads n": f"{s.cover_reads}",
        "lead fetch KB (max)": f"{max(fb['lead']) / 1024:.1f}" if fb["lead"] else "-",
        "lead wellbeing reads n / max ms / KB (max)": _reads(s.wellbeing),
        "alerts panel reads n / max ms / KB (max)": _reads(s.alerts),
        "counselor fetch n / p99 ms": f"{len(s.fetch['counselor'])} / "
                                      f"{_ms(s.fetch['counselor'], 'p99')}",
        "counselor fetch KB (max)": f"{max(fb['counselor']) / 1024:.1f}" if fb["counselor"]
                                    else "-",
        "queue pages pushed n / KB (max)": f"{s.pages} / {s.page_bytes / 1024:.1f}",
        "server CPU cores": f"{r['cpu']:.2f}",
        "loop thread waiting for a core, ms/s": f"{r['waited'] * 1000:.0f}",
        "bench client CPU cores": f"{r['client_cpu']:.2f}",
        "bench client loop lag p99 / max ms": f"{_ms(s.client_lag, 'p99')} / "
                                              f"{_ms(s.client_lag, 'max')}",
        "server RSS MB (peak)": f"{r['rss']:.0f} ({r['rss_peak']:.0f})",
        "load average": " ".join(f"{x:.1f}" for x in r["load"]),
    }


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--waiting", type=int, default=10_000)
    ap.add_argument("--counselors", type=int, default=1000)
    ap.add_argument("--leads", type=int, default=5)
    ap.add_argument("--rostered", action="store_true",
                    help="the counselors follow the roster, five weekly shifts each")
    ap.add_argument("--consoles", type=int, default=200)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--idle", type=float, default=20.0)
    ap.add_argument("--instances", type=int, default=1,
                    help="hotline serve processes sharing the floor (PostgreSQL only)")
    ap.add_argument("--profile", metavar="DIR",
                    help="sample the server with py-spy after each idle phase (as long "
                         "again) and during each load phase")
    ap.add_argument("--slow-steps", metavar="DIR",
                    help="count the servers' long loop steps by the code that held the loop "
                         "(bench/slow_steps), into DIR/steps-<pid>.txt")
    args = ap.parse_args()
    if args.slow_steps:
        out = Path(args.slow_steps).resolve()
        out.mkdir(parents=True, exist_ok=True)
        # The servers inherit the environment: Python imports the folder's sitecustomize.
        os.environ["BENCH_SLOW_STEPS"] = str(out)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parent / "slow_steps"),
                        os.environ.get("PYTHONPATH")) if p)
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    if args.instances < 1:
        ap.error("--instances: expected 1 or more")
    if args.instances > 1 and args.database != "postgresql":
        ap.error("--instances: several instances share PostgreSQL; SQLite is one process's "
                 "database (use --database postgresql)")
    print(f"surge bench: {args.database}; {args.counselors} counselors at capacity"
          f"{' on the roster' if args.rostered else ''}, "
          f"{args.leads} lead + {args.consoles} counselor consoles, {args.rate:.0f} msg/s for "
          f"{args.seconds:.0f} s; {args.instances} instance(s); "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    try:
        results = {}
        for label, waiting in (("0 waiting", 0), (f"{args.waiting} waiting", args.waiting)):
            results[label] = await floor(args, waiting)
    except NoDatabase as e:
        print(e, file=sys.stderr)
        return 2
    (base_label, base), (label, surge) = results.items()
    for i, ph in enumerate(("idle", "load")):
        a, b = rows(base[i]), rows(surge[i])
        print(f"\n{ph:35} {base_label + ' (baseline)':>24} {label:>24}")
        for key in a:
            print(f"{key:35} {a[key]:>24} {b[key]:>24}")
    print("\ntargets at 10,000 waiting: loop stall max <= 20 ms, /healthz p99 <= 10 ms, "
          "event to console p99 <= 100 ms, RSS <= 300 MB")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
