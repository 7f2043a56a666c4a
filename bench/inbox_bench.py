"""Inbox throughput and latency over the full HTTP path, against a bare-aiohttp baseline.

    .venv/bin/python bench/inbox_bench.py [--messages N] [--concurrency C]
                                          [--database sqlite|postgresql] [--victims V]

Starts a private redis-server and the real application (hotline.app.create_app) on a loopback
port, has V simulated victims open /chat (cookie + CSRF token) and then send N web-chat messages
over C concurrent connections, and times every POST. A subscriber on the app's event Hub times
each message from just before its POST to the moment its "message" event reaches the subscriber.
The same client, concurrency and N then drive a bare aiohttp handler served the same way, and a
raw Redis PING is timed for reference. See bench/README.md for how to read the figures.

Figures only: nothing here asserts on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import resource
import secrets
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import NoDatabase, bench_servers, make_config, summarize_ms

from hotline.app import create_app
from hotline.cases import conversations as convs
from hotline.domain.conversation import Channel
from hotline.domain.triage import IntakeAnswers, triage
from hotline.web.appkeys import DEPS, HUB

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
COOKIE = "hl_chat"
MESSAGE_PATH = "/chat/api/messages"
# About the length of a first message to a hotline; the body is sealed (AES-GCM) per message.
# Worded to fire no triage signal, so every message takes the common path (checked at start).
_TEXT = ("hello, I found an old picture of me on a phone and I do not know what to do about it. "
         "can someone help me understand my options? message #{i}")
PING_COUNT = 2000
EVENT_WAIT_S = 5.0


# --------------------------------------------------------------------------- servers


class LogCounter(logging.Handler):
    """Counts the app's warnings by message instead of printing them amid the figures."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.levelname.lower()} {record.getMessage()}"] += 1

    def install(self) -> None:
        app_log = logging.getLogger("hotline")
        app_log.addHandler(self)
        app_log.propagate = False



async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve `app` on a free loopback port with AppRunner/TCPSite (access log off)."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


def baseline_app() -> web.Application:
    """The floor: the same two routes, doing nothing but HTTP and JSON."""
    app = web.Application()
    counter = {"seq": 0}

    async def page(_request: web.Request) -> web.Response:
        token = secrets.token_urlsafe(24)
        resp = web.Response(
            text=f'<!doctype html><meta name="csrf-token" content="{token}"><p>chat</p>',
            content_type="text/html")
        resp.set_cookie(COOKIE, f"{token}.x", httponly=True, samesite="Strict", path="/chat")
        return resp

    async def send(request: web.Request) -> web.Response:
        body = await request.json()
        counter["seq"] += 1
        return web.json_response({"seq": counter["seq"], "duplicate": False,
                                  "n": len(body.get("text", ""))}, status=201)

    app.router.add_get("/chat", page)
    app.router.add_post(MESSAGE_PATH, send)
    return app


# --------------------------------------------------------------------------- client


@dataclass
class Victim:
    token: str = ""
    csrf: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def chat_id(self) -> str:
        return self.token.partition(".")[0]

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"{COOKIE}={self.token}", "X-CSRF-Token": self.csrf}


@dataclass
class Sent:
    victim: int
    seq: int
    t0: float
    t1: float


@dataclass
class Phase:
    label: str
    wall_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu_s: float = 0.0  # this process's user+system CPU time during the phase (all threads)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall_s if self.wall_s else 0.0


async def open_victims(session: aiohttp.ClientSession, base: str, count: int,
                       concurrency: int) -> tuple[list[Victim], float]:
    """GET /chat once per victim: its cookie and the CSRF token from the page's meta tag."""
    victims = [Victim() for _ in range(count)]
    sem = asyncio.Semaphore(concurrency)

    async def one(v: Victim) -> None:
        async with sem, session.get(f"{base}/chat?lang=en") as resp:
            html = await resp.text()
            if resp.status != 200:
                raise RuntimeError(f"GET /chat answered {resp.status}")
            m = _CSRF_META.search(html)
            morsel = resp.cookies.get(COOKIE)
            if m is None or morsel is None:
                raise RuntimeError("GET /chat gave no CSRF meta tag or no chat cookie")
            v.csrf, v.token = m.group(1), morsel.value

    t0 = time.perf_counter()
    await asyncio.gather(*(one(v) for v in victims))
    return victims, time.perf_counter() - t0


async def drive(session: aiohttp.ClientSession, base: str, victims: list[Victim], n: int,
                concurrency: int, label: str) -> Phase:
    """Send n messages, message i from victim i % len(victims), over `concurrency` workers.

    Each worker has one request in flight at a time, so a latency is one request's time and not
    time spent queueing for a connection. A victim's own messages never overlap (per-victim lock),
    as in a browser; the clock starts after that lock, just before the POST.
    """
    phase = Phase(label)
    indexes = iter(range(n))

    async def worker() -> None:
        for i in indexes:  # shared iterator: bounded by n across all workers
            vi = i % len(victims)
            v = victims[vi]
            body = {"text": _TEXT.format(i=i), "client_id": f"b{i:015d}", "language": "en"}
            async with v.lock:
                t0 = time.perf_counter()
                try:
                    async with session.post(f"{base}{MESSAGE_PATH}", json=body,
                                            headers=v.headers) as resp:
                        raw = await resp.read()
                        t1 = time.perf_counter()
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError) as e:
                    phase.errors.append(f"{type(e).__name__}: {e}")
                    continue
            if status != 201:
                phase.errors.append(f"HTTP {status}: {raw[:200]!r}")
                continue
            phase.latencies.append(t1 - t0)
            phase.sent.append(Sent(vi, int(json.loads(raw)["seq"]), t0, t1))

    cpu_start, t_start = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.wall_s = time.perf_counter() - t_start
    phase.cpu_s = cpu_seconds() - cpu_start
    return phase


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def new_session(concurrency: int) -> aiohttp.ClientSession:
    # Cookies are sent by hand per victim, so one session (one pool of C connections) serves all.
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency),
        cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=60))


async def run_against(app: web.Application, args: argparse.Namespace, label: str,
                      during: Callable[[web.Application], Awaitable[Any]] | None = None,
                      ) -> tuple[Phase, float, list[Victim], Any]:
    """Serve app, warm it up, open victims, drive N messages; returns the timed phase."""
    runner, base = await serve(app)
    extra: Any = None
    try:
        async with new_session(args.concurrency) as session:
            if args.warmup:
                warm, _ = await open_victims(session, base, min(args.victims, args.warmup),
                                             args.concurrency)
                await drive(session, base, warm, args.warmup, args.concurrency, "warm-up")
            victims, open_s = await open_victims(session, base, args.victims, args.concurrency)
            tracker = await during(app) if during else None
            phase = await drive(session, base, victims, args.messages, args.concurrency, label)
            if tracker is not None:
                extra = await tracker.finish(app, victims, phase)
    finally:
        await runner.cleanup()
    return phase, open_s, victims, extra


# --------------------------------------------------------------------------- events


class EventTracker:
    """A subscriber on the app's Hub that notes when each "message" event reaches it."""

    def __init__(self, app: web.Application) -> None:
        self.hub = app[HUB]
        self.fanout: dict[tuple[str, int], float] = {}
        self.arrived: dict[tuple[str, int], float] = {}
        self.closed = False
        self.sub = self.hub.subscribe(self._accept)
        self.task = asyncio.create_task(self._drain())

    def _accept(self, ev: dict[str, Any]) -> bool:
        if ev.get("type") != "message":
            return False
        # Called synchronously by the Hub's reader as it fans the event out.
        self.fanout[(ev["conversation"], int(ev["seq"]))] = time.perf_counter()
        return True

    async def _drain(self) -> None:
        while True:
            ev = await self.sub.queue.get()
            if ev is None:  # the Hub cut us off (fell 1000 events behind) or stopped
                self.closed = True
                return
            self.arrived[(ev["conversation"], int(ev["seq"]))] = time.perf_counter()

    async def finish(self, app: web.Application, victims: list[Victim],
                     phase: Phase) -> dict[str, Any]:
        # Which conversation each victim's messages went to (outside the timed section).
        deps = app[DEPS]
        conv_of: dict[int, str] = {}
        async with deps.engine.connect() as conn:
            for vi, v in enumerate(victims):
                pseudonym = deps.keyring.pseudonymize(Channel.WEBCHAT.value, v.chat_id)
                row = await convs.latest_for(conn, Channel.WEBCHAT, pseudonym)
                if row is not None:
                    conv_of[vi] = row.id
        wanted = {(conv_of.get(s.victim, "?"), s.seq): s for s in phase.sent}
        deadline = time.perf_counter() + EVENT_WAIT_S
        while (time.perf_counter() < deadline and not self.closed
               and not wanted.keys() <= self.arrived.keys()):
            await asyncio.sleep(0.05)
        self.hub.unsubscribe(self.sub)
        self.task.cancel()
        to_fanout, to_arrival, before_reply = [], [], 0
        for key, s in wanted.items():
            if key in self.arrived:
                to_arrival.append(self.arrived[key] - s.t0)
                to_fanout.append(self.fanout[key] - s.t0)
                before_reply += self.arrived[key] <= s.t1
        return {"to_fanout": to_fanout, "to_arrival": to_arrival, "expected": len(wanted),
                "before_reply": before_reply, "closed": self.closed}


async def start_tracker(app: web.Application) -> EventTracker:
    return EventTracker(app)


# --------------------------------------------------------------------------- redis


async def redis_ping(url: str, count: int) -> list[float]:
    client = Redis.from_url(url)
    out = []
    try:
        await client.ping()
        for _ in range(count):
            t0 = time.perf_counter()
            await client.ping()
            out.append(time.perf_counter() - t0)
    finally:
        await client.aclose()
    return out


# --------------------------------------------------------------------------- report


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _fmt_ms(v: float) -> str:
    return f"{v:8.2f}"


def print_latency(title: str, seconds: list[float]) -> dict[str, float]:
    s = summarize_ms(seconds)
    print(f"  {title:<34} n={int(s['n']):<6} p50 {_fmt_ms(s['p50'])} ms   "
          f"p99 {_fmt_ms(s['p99'])} ms   max {_fmt_ms(s['max'])} ms")
    return s


def print_phase(phase: Phase, open_s: float, victims: int) -> dict[str, float]:
    print(f"{phase.label}:")
    print(f"  opened {victims} victims (GET /chat) in {open_s * 1000:.0f} ms")
    print(f"  {len(phase.latencies)} POSTs in {phase.wall_s:.2f} s = {phase.rate:,.0f} /s"
          + (f"   ({len(phase.errors)} errors; first: {phase.errors[0]})" if phase.errors else ""))
    if phase.wall_s:
        print(f"  process CPU {phase.cpu_s:.2f} s = {phase.cpu_s / phase.wall_s:.0%} of one core "
              f"(client, server and database driver threads together)")
    return print_latency("POST latency", phase.latencies)


async def main_async(args: argparse.Namespace) -> int:
    t_begin = time.perf_counter()
    app_logs = LogCounter()
    app_logs.install()
    try:
        async with bench_servers("hotline-bench-", args.database) as servers:
            redis = servers.redis
            cfg = make_config(servers.tmp / "data", servers.database_url, redis.url)
            print(f"hotline inbox bench: N={args.messages} messages, C={args.concurrency} "
                  f"connections, V={args.victims} victims, warm-up {args.warmup}, "
                  f"database={args.database}, redis 127.0.0.1:{redis.port}")
            print(f"machine: {os.cpu_count()} CPUs, load average {_load()} at start")
            fired = triage(IntakeAnswers(), (_TEXT.format(i=0),), cfg.triage).reasons
            print(f"message text: {len(_TEXT.format(i=0))} chars, triage signals: "
                  f"{', '.join(s.value for s in fired) or 'none'}")
            print()

            pings = await redis_ping(redis.url, PING_COUNT)
            print("redis:")
            ping = print_latency("PING round trip (sequential)", pings)
            print()

            base_phase, base_open, _, _ = await run_against(
                baseline_app(), args, "baseline (bare aiohttp handler)")
            base = print_phase(base_phase, base_open, args.victims)
            print()

            app_phase, app_open, _, ev = await run_against(
                create_app(cfg), args, f"hotline /chat/api/messages ({args.database})",
                during=start_tracker)
            app = print_phase(app_phase, app_open, args.victims)
            got = len(ev["to_arrival"])
            print(f"  events: {got}/{ev['expected']} message events reached the subscriber; "
                  f"{ev['before_reply']} before their POST's reply"
                  + ("; SUBSCRIPTION WAS CUT OFF" if ev["closed"] else ""))
            fan = print_latency("POST start -> Hub fan-out", ev["to_fanout"])
            arr = print_latency("POST start -> subscriber got it", ev["to_arrival"])
            print()
            redis_rss = redis.peak_rss_kib()
    except NoDatabase as e:
        print(e, file=sys.stderr)
        return 2

    ratio = app_phase.rate / base_phase.rate if base_phase.rate else float("nan")
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"summary ({args.database}, N={args.messages}, C={args.concurrency}):")
    print(f"  {'':<30}{'baseline':>12}{'hotline':>12}{'hotline/baseline':>18}")
    print(f"  {'requests/s':<30}{base_phase.rate:>12,.0f}{app_phase.rate:>12,.0f}"
          f"{ratio:>18.3f}")
    for key in ("p50", "p99"):
        r = app[key] / base[key] if base[key] else float("nan")
        print(f"  {'POST ' + key + ' ms':<30}{base[key]:>12.2f}{app[key]:>12.2f}{r:>18.1f}")
    for key in ("p50", "p99"):
        print(f"  {'store->event ' + key + ' ms':<30}{'-':>12}{arr[key]:>12.2f}")
    for key in ("p50", "p99"):
        print(f"  {'  at Hub fan-out ' + key + ' ms':<30}{'-':>12}{fan[key]:>12.2f}")
    print(f"  {'errors':<30}{len(base_phase.errors):>12}{len(app_phase.errors):>12}")
    logged = ", ".join(f"{k} x{n}" for k, n in sorted(app_logs.counts.items()))
    print(f"  {'app log warnings':<30}{logged or 'none'}")
    print(f"  {'redis PING p50 / p99 ms':<30}{ping['p50']:>12.3f} / {ping['p99']:.3f}")
    print(f"  {'peak RSS, this process':<30}{rss_mib:>12.1f} MiB (server + client + bench)")
    if redis_rss is not None:
        print(f"  {'peak RSS, redis-server':<30}{redis_rss / 1024:>12.1f} MiB")
    print(f"  total run time {time.perf_counter() - t_begin:.1f} s; "
          f"load average {_load()} at end")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", "-n", type=int, default=2000, help="timed messages (2000)")
    p.add_argument("--concurrency", "-c", type=int, default=20,
                   help="concurrent connections / requests in flight (20)")
    p.add_argument("--victims", type=int, default=50, help="simulated victims (50)")
    p.add_argument("--warmup", type=int, default=100,
                   help="untimed messages first, from other victims (100; 0 for none)")
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = p.parse_args(argv)
    for name in ("messages", "concurrency", "victims"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.warmup < 0:
        p.error("--warmup must be 0 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
