"""`hotline report NAME --from DATE --to DATE [--json|--csv] [--table T] [filters]`: the same
tables as the API and pages, from SQL (whether or not the server runs). Small counts are
suppressed as in every export; a CSV export is audited (actor: none, the command line)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from hotline.config import Config
from hotline.reports.figures import NAMES, ReportInputError
from hotline.reports.service import Reports, cell_text, to_json
from hotline.stores.sql.engine import migrate, open_engine


def add_parsers(sub: Any) -> None:
    r = sub.add_parser("report", help="print a report: " + ", ".join(NAMES))
    r.add_argument("name", metavar="NAME", help=", ".join(NAMES))
    r.add_argument("--from", dest="from_", metavar="DATE", help="first day, e.g. 2026-01-01")
    r.add_argument("--to", metavar="DATE", help="last day (included), e.g. 2026-12-31")
    fmt = r.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON (the API's answer)")
    fmt.add_argument("--csv", action="store_true", help="print CSV (audited)")
    r.add_argument("--table", default="rows", help="which of the report's tables (default rows)")
    for f in ("platform", "kind", "channel", "dimension"):
        r.add_argument(f"--{f}", help=f"filter: {f} (reports that take it)")
    r.add_argument("--config", metavar="PATH", dest="config_sub", help=argparse.SUPPRESS)


async def _run(cfg: Config, args: argparse.Namespace) -> str:
    engine = open_engine(cfg.database_url)
    try:
        await migrate(engine)
        reports = Reports(engine, cfg)
        params = {k: v for k, v in (("from", args.from_), ("to", args.to),
                                    *((f, getattr(args, f)) for f in
                                      ("platform", "kind", "channel", "dimension")))
                  if v is not None}
        q = reports.parse(args.name, params)
        if args.csv:
            return (await reports.export_csv(None, q, args.table))[1]
        report = await reports.build(q)
        if args.json:
            return json.dumps(to_json(report), indent=2, ensure_ascii=False)
        table = report.table(args.table)
        lines = [[*table.columns]] + [[cell_text(r[c], report.suppress_below) for c in
                                       table.columns] for r in table.rows]
        widths = [max(len(line[i]) for line in lines) for i in range(len(table.columns))]
        out = ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
               for line in lines]
        out.append(f"{len(table.rows)} rows, {q.period.start} to {q.period.end} "
                   f"({q.period.tz}); counts under {report.suppress_below} shown as "
                   f"<{report.suppress_below}")
        return "\n".join(out)
    finally:
        await engine.dispose()


class ReportUsageError(Exception):
    """A bad option; the message names it as typed on the command line."""


def dispatch(args: argparse.Namespace, cfg: Config) -> int | None:
    """Run `hotline report`; None if `args` is not it."""
    if args.command != "report":
        return None
    try:
        print(asyncio.run(_run(cfg, args)), end="" if args.csv else "\n")
    except ReportInputError as e:
        option = "NAME" if e.field == "name" else f"--{e.field}"
        raise ReportUsageError(f"{option}: {str(e).split(': ', 1)[1]}") from None
    return 0
