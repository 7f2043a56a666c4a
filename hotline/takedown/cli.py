"""`hotline takedown list [--overdue] [--json]`: the desk's worklist from SQL (whether or not
the server runs): ids, platforms, routes, states, due times. No texts, no case content."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from hotline.config import Config
from hotline.stores.sql.engine import migrate, open_engine
from hotline.takedown.worklist import worklist


def add_parsers(sub: Any) -> None:
    td = sub.add_parser("takedown", help="the takedown desk")
    td_sub = td.add_subparsers(dest="takedown_command", required=True, metavar="ACTION")
    ls = td_sub.add_parser("list", help="requests in play and items without one, overdue "
                                        "first, then critical cases, then by due time")
    ls.add_argument("--overdue", action="store_true", help="only overdue requests")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.add_argument("--config", metavar="PATH", dest="config_sub", help=argparse.SUPPRESS)


async def rows(cfg: Config, overdue: bool, now: datetime | None = None
               ) -> list[dict[str, Any]]:
    engine = open_engine(cfg.database_url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            return await worklist(conn, now or datetime.now(UTC), overdue_only=overdue)
    finally:
        await engine.dispose()


def dispatch(args: argparse.Namespace, cfg: Config) -> int | None:
    """Run a takedown command; None if `args` is not one."""
    if args.command != "takedown":
        return None
    found = asyncio.run(rows(cfg, args.overdue))
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    print(f"{'item':>6}  {'request':>7}  {'platform':13}  {'route':20}  {'state':17}  "
          f"{'due (UTC)':16}  flags")
    for w in found:
        due = w["due_at"][:16].replace("T", " ") if w["due_at"] else "-"
        flags = ",".join(f for f in ("overdue", "critical", "minor") if w[f])
        print(f"{w['item']:>6}  {w['request'] or '-':>7}  {w['platform'] or '-':13}  "
              f"{w['route'] or '-':20}  {w['state']:17}  {due:16}  {flags}")
    print(f"{len(found)} on the desk" + (" overdue" if args.overdue else ""))
    return 0
