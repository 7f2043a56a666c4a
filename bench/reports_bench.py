"""Report timings on PostgreSQL: takedown statistics over 1,000,000 requests (300,000 items,
their steps) and intake statistics over 1,000,000 records, a year's range, each beside a plain
`SELECT count(*)` over the same table in the same run. Target: under 200 ms. See bench/README.md.

    .venv/bin/python bench/reports_bench.py [--requests N] [--items N] [--records N] [--runs R]

Rows are made in SQL (INSERT ... SELECT over generate_series); the rollups are then filled by
the reports' own fold (timed too), and VACUUM ANALYZE runs before the timings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _support import NoDatabase, pg_admin, pg_database_name, pg_reachable, pg_url
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.config import config_from_mapping
from hotline.reports.service import Reports
from hotline.stores.sql.engine import migrate, open_engine

YEAR = {"from": "2025-01-01", "to": "2025-12-31"}
# Per ten requests: 1 verified, 4 removed, 1 refused, 1 escalated, 3 overdue (docs/reports.md
# defines what each counts as); 7 of them acknowledged first.
_ITEMS = """
INSERT INTO takedown_items (kind, minor, status, reporter, created_at, updated_at)
SELECT (ARRAY['intimate','synthetic','threat'])[1 + g % 3], g % 17 = 0, 'open', 'victim', t, t
FROM generate_series(1, :n) g,
     LATERAL (SELECT timestamptz '2025-01-01 00:00+00' + (g * interval '105 seconds')) s(t)
"""
_REQUESTS = """
INSERT INTO takedown_requests (item_id, platform, route, legal_basis, language, due_hours,
                               state, due_at, rung, created_at)
SELECT 1 + g % :items,
       (ARRAY['telegram','x','meta','youtube','search_engine','adult_site','other'])[1 + g % 7],
       (ARRAY['in_app','take_it_down','copyright','kcsc'])[1 + (g / 7) % 4],
       (ARRAY['platform_policy','take_it_down_us','copyright','kr_regulator'])[1 + (g / 7) % 4],
       'ko', 24,
       (ARRAY['verified','removed','removed','removed','removed','refused','escalated',
              'overdue','overdue','overdue'])[1 + g % 10],
       t + interval '24 hours', (g % 10 = 6)::int, t
FROM generate_series(1, :n) g,
     LATERAL (SELECT timestamptz '2025-01-01 00:00+00'
                     + ((g - 1) * (interval '365 days' / :n))) s(t)
"""
# (step, which requests (id % 10), offset from sent)
_STEPS = [
    ("sent", "true", "interval '0'"),
    ("acknowledged", "r.id % 10 IN (0,1,2,3,4,5,8)", "interval '1 hour'"),
    ("removed", "r.id % 10 IN (0,1,2,3,4)", "((r.id::bigint * 7919) % 96 + 1) * interval '1 hour'"),
    ("verified", "r.id % 10 = 0", "interval '5 days'"),
    ("refused", "r.id % 10 = 5", "interval '30 hours'"),
    # Past their due time and unanswered: marked overdue, as the deadline job does within
    # takedown.check_seconds (so none waits unmarked: the desk's open work is today's).
    ("overdue", "r.id % 10 IN (6,7,8,9)", "interval '24 hours'"),
    ("escalated", "r.id % 10 = 6", "interval '25 hours'"),
]
_INTAKE = """
INSERT INTO intake_records (conversation_id, pseudonym, channel, language, opened_at,
    closed_at, wait_seconds, handling_seconds, harm_type, platforms, age_band, urgency,
    referrals, outcome, counselor_id, referred_to, relation)
SELECT 'b' || g, md5(g::text), (ARRAY['webchat','sms','voice','telegram'])[1 + g % 4], 'ko',
       t, t + interval '20 minutes', g % 300, 600 + g % 900,
       (ARRAY['distribution','distribution_anxiety','illegal_filming','synthetic',
              'sextortion','grooming','other','unknown'])[1 + g % 8],
       (ARRAY['telegram','x,telegram','','meta','youtube,x,telegram'])[1 + g % 5],
       (ARRAY['under_14','14_17','18_24','25_34','35_49','50_plus','unknown'])[1 + g % 7],
       'normal', (ARRAY['police','takedown,legal','','psychological'])[1 + g % 4],
       (ARRAY['counselled','referred','takedown_requested','disconnected'])[1 + g % 4],
       NULL, '',
       (ARRAY['partner','ex_partner','spouse','family','acquaintance','work_or_school',
              'online_only','stranger','unknown'])[1 + g % 9]
FROM generate_series(1, :n) g,
     LATERAL (SELECT timestamptz '2025-01-01 00:00+00'
                     + ((g - 1) * (interval '365 days' / :n))) s(t)
"""


async def _load(engine: AsyncEngine, items: int, requests: int, records: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(_ITEMS), {"n": items})
        await conn.execute(text(_REQUESTS), {"n": requests, "items": items})
        for step, where, offset in _STEPS:
            await conn.execute(text(
                f"INSERT INTO takedown_steps (request_id, step, at, recorded_at) "
                f"SELECT r.id, '{step}', r.created_at + {offset}, r.created_at + {offset} "
                f"FROM takedown_requests r WHERE {where} ORDER BY r.id"))
        await conn.execute(text(_INTAKE), {"n": records})


async def _timed(runs: int, fn: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    await fn()  # warm: plans, caches
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)


async def _count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def run(args: argparse.Namespace) -> None:
    if not pg_reachable():
        raise NoDatabase("no PostgreSQL at 127.0.0.1:5432")
    name = pg_database_name()
    await pg_admin(f'CREATE DATABASE "{name}"')
    engine = open_engine(pg_url(name))
    try:
        await migrate(engine)
        t0 = time.perf_counter()
        await _load(engine, args.items, args.requests, args.records)
        print(f"rows made in {time.perf_counter() - t0:.1f} s")
        cfg = config_from_mapping({"storage": {"database_url": pg_url(name)}})
        reports = Reports(engine, cfg)
        t0 = time.perf_counter()
        await reports.refresh()
        fold = time.perf_counter() - t0
        steps = await _count(engine, "takedown_steps")
        print(f"fold: {steps:,} steps and {args.records:,} intake records in {fold:.1f} s")
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
        print(f"load average {open('/proc/loadavg').read().split()[:3]}, cpus {os.cpu_count()}")
        print(f"{'what':58} {'median ms':>10} {'max ms':>8}")
        rows: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        for table in ("takedown_requests", "report_takedown_facts"):
            rows.append((f"SELECT count(*) FROM {table}",
                         lambda t=table: _count(engine, t)))  # type: ignore[misc]
        for report in ("takedown-platforms", "takedown-routes"):
            q = reports.parse(report, YEAR)
            rows.append((f"{report}, a year ({args.requests:,} requests)",
                         lambda q=q: reports.build(q)))  # type: ignore[misc]
        # Not whole months: 11 months from the rollups, the 30 days before from the facts.
        q_days = reports.parse("takedown-platforms", {"from": "2025-01-02", "to": "2025-12-31"})
        rows.append(("takedown-platforms, 2025-01-02..12-31 (30 days from the facts)",
                     lambda: reports.build(q_days)))
        # The kind filter: every request of the range read from the facts.
        q_kind = reports.parse("takedown-platforms", {**YEAR, "kind": "synthetic"})
        rows.append(("takedown-platforms, 2025, kind=synthetic (all from the facts)",
                     lambda: reports.build(q_kind)))
        rows.append(("SELECT count(*) FROM intake_records",
                     lambda: _count(engine, "intake_records")))
        q = reports.parse("intake", YEAR)
        rows.append((f"intake, a year ({args.records:,} records)", lambda: reports.build(q)))
        for label, fn in rows:
            med, worst = await _timed(args.runs, fn)
            print(f"{label:58} {med:10.1f} {worst:8.1f}")
        print(f"load average {open('/proc/loadavg').read().split()[:3]}")
    finally:
        await engine.dispose()
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=1_000_000)
    p.add_argument("--items", type=int, default=300_000)
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=7)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
