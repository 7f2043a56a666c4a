"""Inbound SMS webhooks through the whole path, beside a bare handler and a one-Redis-call one.

    .venv/bin/python bench/sms_bench.py [--messages N] [--senders S] [--rounds R]
                                        [--database sqlite|postgresql] [--profile] [--count]

Starts a private redis-server and the real application (Twilio channels on, credentials set in
this process's environment) on a loopback port, and posts N signed inbound-SMS webhooks
(signature check, pseudonymize, inbox, durable SQL store, queue, event, TwiML answer) at 1 and
at 50 connections, in R rounds (default 5) that alternate the three servers; the round with
the median rate stands for each. In the same run, at the same concurrency, bodies go to:
  - bare:  an aiohttp handler that reads the form and answers empty TwiML;
  - redis: the same plus one Redis INCR (the cheapest handler that touches shared state).
Bodies and signatures are computed before each timed phase. Then a provider retry storm:
every body is sent twice at 50 connections, and the rows stored are counted (each once).

Targets: hotline at least 0.35x the one-Redis-call handler's rate at c=1; at c=50 (issue 18,
group commit) 0.6x on SQLite and 0.5x on PostgreSQL, and p99 at c=1 at most 3 ms on
SQLite. The CPU time of this process per message is printed too (medians of rounds): on a
loaded machine it is much steadier than the rates, which also count time spent waiting for a
core; so are the pooled connections taken per message (one per transaction: below 1 when
messages share transactions), and on PostgreSQL the direct path's round trips per message
(asyncpg's execute, fetchrow and fetchmany calls: BEGIN, statements, COMMIT). With
--log-level the server logs as `hotline serve` does. With --profile, the hotline phase at 50
connections runs under cProfile (CPU time) and the top functions are printed.
With --count, a last phase at c=1 counts the work per message instead of timing it: Python
function calls (cProfile, the load generator's included) and Redis commands by name (the
private redis-server's commandstats, background jobs included): figures that a loaded machine
does not move, to compare two versions of the code. Figures only: nothing here asserts on
timing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import os
import pstats
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import NoDatabase, RedisProcess, bench_servers, summarize_ms

from hotline.app import create_app
from hotline.cases.tables import messages
from hotline.config import config_from_mapping
from hotline.domain.triage import IntakeAnswers, triage
from hotline.logs import setup_logging
from hotline.web.appkeys import DEPS, HUB

PATH = "/webhooks/twilio/sms"
PUBLIC = "https://hotline.example.org"
ACCOUNT = "AC" + "0" * 32
TOKEN = "bench-auth-token-" + secrets.token_hex(8)
OUR_NUMBER = "+15005550006"
TEXT = ("hello, I found an old picture of me on a phone and I do not know what to do about it. "
        "can someone help me understand my options? #{i}")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


@dataclass
class Phase:
    label: str
    concurrency: int
    wall_s: float = 0.0
    # CPU time of this process (load generator and all three servers, every thread).
    cpu_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # For a median of rounds: every round's latencies (p50 and p99 are over all of them).
    pooled: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_us(self) -> float:
        """CPU per message: steadier than the rate on a loaded machine (time waiting for a
        core is not counted)."""
        return self.cpu_s / len(self.latencies) * 1e6 if self.latencies else 0.0

    def line(self) -> str:
        lat = self.pooled or self.latencies
        s = summarize_ms(lat)
        err = f"  errors {len(self.errors)} ({self.errors[0]})" if self.errors else ""
        return (f"  {self.label:8} c={self.concurrency:<3} {self.rate:8.1f} msg/s   "
                f"p50 {s['p50']:7.2f} ms   p99 {s['p99']:7.2f} ms   n={len(lat)}{err}")


def bodies(n: int, senders: int) -> list[tuple[dict[str, str], str]]:
    """n signed SMS webhooks: message i from sender i % senders (new random senders each call:
    every phase starts with new conversations, as many as senders)."""
    v = RequestValidator(TOKEN)
    base = 821000000000 + int(secrets.token_hex(3), 16) * 1000
    out = []
    for i in range(n):
        form = {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": ACCOUNT,
                "From": f"+{base + i % senders}", "To": OUR_NUMBER, "Body": TEXT.format(i=i),
                "NumMedia": "0"}
        out.append((form, str(v.compute_signature(PUBLIC + PATH, form))))
    return out


def bare_app(redis: Redis | None) -> web.Application:
    app = web.Application()

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        if redis is not None:
            await redis.incr("bench:sms:count")
        return web.Response(text=EMPTY_TWIML if form else "", content_type="application/xml")

    app.router.add_post(PATH, handler)
    return app


async def serve(app: web.Application, access_log: bool = False) -> tuple[web.AppRunner, str]:
    # With access_log, aiohttp's default access logger, as `hotline serve` (web.run_app) has.
    runner = (web.AppRunner(app, shutdown_timeout=1.0) if access_log
              else web.AppRunner(app, access_log=None, shutdown_timeout=1.0))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def drive(base: str, work: list[tuple[dict[str, str], str]], concurrency: int,
                label: str) -> Phase:
    phase = Phase(label, concurrency)
    items = iter(work)
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:

        async def worker() -> None:
            for form, sig in items:
                t0 = time.perf_counter()
                try:
                    async with session.post(base + PATH, data=form,
                                            headers={"X-Twilio-Signature": sig}) as resp:
                        await resp.read()
                        if resp.status != 200:
                            phase.errors.append(f"HTTP {resp.status}")
                            continue
                except aiohttp.ClientError as e:
                    phase.errors.append(type(e).__name__)
                    continue
                phase.latencies.append(time.perf_counter() - t0)

        t0, cpu0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        phase.wall_s = time.perf_counter() - t0
        phase.cpu_s = time.process_time() - cpu0
    return phase


async def run(args: argparse.Namespace) -> int:
    if args.log_level:
        # As `hotline serve` logs (hotline.logs: JSON lines from a writer thread), to a file
        # given by --log-file.
        sys.stderr = open(args.log_file, "w")  # open until the process exits
        setup_logging(args.log_level)
    else:
        logging.getLogger("hotline").addHandler(logging.NullHandler())
        logging.getLogger("hotline").propagate = False
    for t in (TEXT.format(i=0),):
        assert not triage(IntakeAnswers(), (t,), config_from_mapping({}).triage).reasons
    os.environ["HOTLINE_TWILIO_ACCOUNT_SID"] = ACCOUNT
    os.environ["HOTLINE_TWILIO_AUTH_TOKEN"] = TOKEN
    try:
        async with bench_servers("sms-bench-", args.database) as servers:
            cfg = config_from_mapping({
                "server": {"public_url": PUBLIC, "shutdown_timeout": 1.0},
                "storage": {"data_dir": str(servers.tmp / "data"),
                            "database_url": servers.database_url,
                            "redis_url": servers.redis.url,
                            "redis_prefix": "sb" + secrets.token_hex(4),
                            "reconcile_seconds": 5.0},
                "twilio": {"api_base_url": "http://127.0.0.1:9", "phone_number": OUR_NUMBER}})
            return await _phases(args, cfg, servers.redis)
    except NoDatabase as e:
        print(e, file=sys.stderr)
        return 2


async def _phases(args: argparse.Namespace, cfg: Any, redis_proc: RedisProcess) -> int:
    redis = Redis.from_url(redis_proc.url, decode_responses=True)
    bare_runner, bare_url = await serve(bare_app(None))
    redis_runner, redis_url = await serve(bare_app(redis))
    app = create_app(cfg)
    app_runner, app_url = await serve(app, access_log=bool(args.log_level))
    deps = app[DEPS]
    sql_time = _sql_timer(deps.engine) if args.profile else None
    opened = _connection_counter(deps.engine)
    taken = _connection_counter(deps.engine, "checkout")
    trips = _pg_query_counter() if args.database == "postgresql" else None
    seen = {"events": 0}
    sub = app[HUB].subscribe(lambda ev: ev.get("type") == "message")

    async def count_events() -> None:
        while (await sub.queue.get()) is not None:
            seen["events"] += 1
    counter = asyncio.create_task(count_events())
    print(f"sms bench: {args.database}, N={args.messages}, senders={args.senders}, "
          f"load {os.getloadavg()[0]:.2f}, log level {args.log_level or 'off'}")
    ratios = {}
    churn: dict[int, list[float]] = {}
    checkouts: dict[int, list[float]] = {}
    queries: dict[int, list[float]] = {}
    try:
        await drive(app_url, bodies(args.warmup, 20), 5, "warmup")
        for c in (1, 50):
            # Rounds alternate the three servers, so a slow moment of the machine hits all of
            # them; the medians are compared.
            by_label: dict[str, list[Phase]] = {"bare": [], "redis": [], "hotline": []}
            for rnd in range(args.rounds):
                work = {k: bodies(args.messages, args.senders) for k in by_label}
                by_label["bare"].append(await drive(bare_url, work["bare"], c, "bare"))
                by_label["redis"].append(await drive(redis_url, work["redis"], c, "redis"))
                # CPU time: with the wall clock a socket send charged for the moments the
                # process lost the CPU to the database it woke (a quarter of the profile).
                prof = (cProfile.Profile(time.process_time)
                        if args.profile and c == 50 and rnd == 0 else None)
                if prof:
                    if sql_time is not None:
                        sql_time.clear()
                    prof.enable()
                before, before_taken = opened[0], taken[0]
                before_trips = trips[0] if trips is not None else 0
                by_label["hotline"].append(await drive(app_url, work["hotline"], c, "hotline"))
                churn.setdefault(c, []).append(
                    (opened[0] - before) / by_label["hotline"][-1].wall_s * 10)
                checkouts.setdefault(c, []).append(
                    (taken[0] - before_taken) / max(1, len(by_label["hotline"][-1].latencies)))
                if trips is not None:
                    queries.setdefault(c, []).append(
                        (trips[0] - before_trips) / max(1, len(by_label["hotline"][-1].latencies)))
                if prof:
                    prof.disable()
                    _print_profile(prof, sql_time)
            medians = {k: _median_phase(v) for k, v in by_label.items()}
            for phase in medians.values():
                print(phase.line())
            # Each round's ratio compares phases run seconds apart; the median of those is
            # steadier than a ratio of medians taken from different rounds.
            rounds = sorted(h.rate / r.rate for h, r in zip(
                by_label["hotline"], by_label["redis"], strict=True) if r.rate)
            ratios[c] = rounds[len(rounds) // 2]
            failed = sum(len(p.errors) for p in by_label["hotline"])
            target = 0.35 if c == 1 else 0.6 if args.database == "sqlite" else 0.5
            verdict = ("NOT COMPARABLE: hotline answered errors" if failed
                       else "met" if ratios[c] >= target else "MISSED")
            per10 = sorted(churn[c])[len(churn[c]) // 2]
            print(f"  database connections opened per 10 s at c={c}: median {per10:.1f}")
            # Each transaction takes a pooled connection: with group commit, messages that
            # share a transaction share one (background jobs' transactions counted too).
            per_msg = sorted(checkouts[c])[len(checkouts[c]) // 2]
            print(f"  pooled connections taken per message at c={c}: median {per_msg:.2f}")
            if queries:
                q = sorted(queries[c])[len(queries[c]) // 2]
                print(f"  PostgreSQL round trips of the direct path per message at c={c}: "
                      f"median {q:.2f}")
            print(f"  hotline / one-Redis-call handler at c={c}: median {ratios[c]:.2f}x over "
                  f"{len(rounds)} rounds ({', '.join(f'{x:.2f}' for x in rounds)}; target "
                  f">= {target}x: {verdict})")
            if c == 1 and args.database == "sqlite":
                p99 = summarize_ms(medians["hotline"].pooled)["p99"]
                print(f"  hotline p99 at c=1: {p99:.2f} ms (target <= 3 ms: "
                      f"{'met' if p99 <= 3 else 'MISSED'})")
            # The client's share is the same in both phases of a round: the difference is
            # what hotline's work costs beyond the one-Redis-call handler.
            extra = sorted(h.cpu_us - r.cpu_us for h, r in zip(
                by_label["hotline"], by_label["redis"], strict=True))
            cpu = {k: sorted(p.cpu_us for p in v)[len(v) // 2] for k, v in by_label.items()}
            print(f"  CPU per message at c={c} (this process, medians): bare {cpu['bare']:.0f} "
                  f"us, redis {cpu['redis']:.0f} us, hotline {cpu['hotline']:.0f} us; hotline "
                  f"beyond the one-Redis-call handler {extra[len(extra) // 2]:.0f} us "
                  f"({', '.join(f'{x:.0f}' for x in extra)})")
        # Retry storm: every body twice, the copies racing each other.
        storm = bodies(args.messages // 2, args.senders)
        doubled = [x for pair in zip(storm, storm, strict=True) for x in pair]
        await asyncio.sleep(0.5)  # events of the phases before (the hub reads in batches)
        events_before = seen["events"]
        phase = await drive(app_url, doubled, 50, "storm")
        print(phase.line())
        sids = [f"sms:{form['MessageSid']}" for form, _sig in storm]
        async with deps.engine.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(messages).where(
                messages.c.provider_key.in_(sids)))).scalar_one()
        await asyncio.sleep(0.5)
        print(f"  retry storm: {len(doubled)} posts of {len(storm)} messages -> {stored} rows "
              f"stored ({'each once' if stored == len(storm) else 'WRONG'}), "
              f"{seen['events'] - events_before} message events")
        if args.count:
            await _count_work(app_url, redis, args)
    finally:
        app[HUB].unsubscribe(sub)
        counter.cancel()
        await app_runner.cleanup()
        await bare_runner.cleanup()
        await redis_runner.cleanup()
        await redis.aclose()
    return 0


async def _count_work(app_url: str, redis: Redis, args: argparse.Namespace) -> None:
    """The work of one message at c=1: Python calls and Redis commands, counted."""
    work = bodies(args.messages, args.senders)
    await redis.config_resetstat()
    prof = cProfile.Profile()
    prof.enable()
    phase = await drive(app_url, work, 1, "hotline")
    prof.disable()
    stats: Any = await redis.info("commandstats")
    n = max(1, len(phase.latencies))
    cmds = {k.removeprefix("cmdstat_"): v["calls"] / n for k, v in stats.items()
            if not k.startswith("cmdstat_config")}
    calls = sum(e.callcount for e in prof.getstats()) / n
    print(f"  work per message at c=1 (n={n}): {calls:.0f} Python calls, "
          f"{sum(cmds.values()):.2f} Redis commands ("
          + ", ".join(f"{k} {v:.2f}" for k, v in sorted(cmds.items()) if v >= 0.005) + ")")


def _median_phase(phases: list[Phase]) -> Phase:
    """The round with the median rate, with every round's latencies for p50 and p99."""
    ranked = sorted(phases, key=lambda p: p.rate)
    mid = ranked[len(ranked) // 2]
    return Phase(mid.label, mid.concurrency, mid.wall_s, mid.cpu_s, list(mid.latencies),
                 [e for p in phases for e in p.errors],
                 [x for p in phases for x in p.latencies])


def _print_profile(prof: cProfile.Profile, sql_time: dict[str, list[float]] | None) -> None:
    out = io.StringIO()
    # Own time (tottime) is what a coroutine really spends on the CPU; cumulative times of
    # coroutines also count the time they were suspended.
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(30)
    print(out.getvalue())
    if sql_time is not None:
        print("  SQL time by statement during hotline c=50 (total ms, count, first 60 "
              "characters; statements run through SQLAlchemy only):")
        for stmt, (total, count) in sorted(sql_time.items(), key=lambda kv: -kv[1][0])[:15]:
            print(f"    {total * 1000:9.1f} ms  {count:6}  {stmt[:60]!r}")


def _connection_counter(engine: Any, what: str = "connect") -> list[int]:
    """A one-item list counting the database connections the server's pool opens (`connect`)
    or hands out (`checkout`)."""
    from sqlalchemy import event

    count = [0]

    def _count(*_args: Any) -> None:
        count[0] += 1

    event.listen(engine.sync_engine.pool, what, _count)
    return count


def _pg_query_counter() -> list[int]:
    """A one-item list counting queries sent by asyncpg's `execute` and `fetchrow`: the
    direct path's (stores/sql/direct.py) BEGIN, statements, savepoints and COMMIT, each a
    round trip. SQLAlchemy's own statements go through prepared statements: not counted."""
    import asyncpg

    count = [0]
    for name in ("execute", "fetchrow", "fetchmany"):
        original = getattr(asyncpg.Connection, name)

        def counted(self: Any, *args: Any, _original: Any = original, **kw: Any) -> Any:
            count[0] += 1
            return _original(self, *args, **kw)

        setattr(asyncpg.Connection, name, counted)
    return count


def _sql_timer(engine: Any) -> dict[str, list[float]]:
    """Time spent inside the database driver, per statement text (all connections)."""
    from sqlalchemy import event

    totals: dict[str, list[float]] = {}

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(conn: Any, _cursor: Any, _stmt: str, *_args: Any) -> None:
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _after(conn: Any, _cursor: Any, stmt: str, *_args: Any) -> None:
        entry = totals.setdefault(" ".join(stmt.split()), [0.0, 0])
        entry[0] += time.perf_counter() - conn.info.pop("t0", time.perf_counter())
        entry[1] += 1

    return totals


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--messages", type=int, default=600)
    p.add_argument("--senders", type=int, default=100)
    p.add_argument("--warmup", type=int, default=40)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--count", action="store_true")
    p.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING"),
                   help="log as the server does, with the access log, at this level")
    p.add_argument("--log-file", default=os.devnull, help="where those lines go")
    return asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
