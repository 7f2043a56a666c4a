"""The `hotline` command: serve, migrate, check-config, staff (alias counselor), queue, roster,
takedown list, report.

Configuration errors exit with status 2 and a message naming the bad key.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from hotline.audit import log as audit
from hotline.cases import floor_queries
from hotline.channels.telegram import cli as telegram_cli
from hotline.config import Config, ConfigError, load_config
from hotline.domain import shifts
from hotline.domain.accounts import FieldError, parse_fields
from hotline.domain.conversation import Urgency
from hotline.domain.staff import Role
from hotline.reports import cli as reports_cli
from hotline.staff import accounts as staff_store
from hotline.staff import cli as staff_cli
from hotline.staff import store as staff_admin_store
from hotline.stores.sql.engine import current_revision, migrate, open_engine
from hotline.takedown import cli as takedown_cli


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hotline",
        description="24-hour hotline and chat support for victims of digital sex crimes.")
    p.add_argument("--config", metavar="PATH",
                   help="config.toml to use (default: HOTLINE_CONFIG, else the bundled one)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("serve", help="run the server (web chat at /chat, console at /console)")
    s.add_argument("--config", metavar="PATH", dest="config_sub", help=argparse.SUPPRESS)
    m = sub.add_parser("migrate", help="bring the database schema up to date")
    m.add_argument("--config", metavar="PATH", dest="config_sub", help=argparse.SUPPRESS)
    c = sub.add_parser("check-config", help="validate the configuration and print it "
                                            "(secrets masked)")
    c.add_argument("--config", metavar="PATH", dest="config_sub", help=argparse.SUPPRESS)
    co = sub.add_parser("staff", aliases=["counselor"], help="manage staff accounts "
                                                             "(docs/staff.md)")
    co_sub = co.add_subparsers(dest="counselor_command", required=True, metavar="ACTION")
    add = co_sub.add_parser("add", help="add a staff account; the password is read from stdin "
                                        "or prompted for")
    add.add_argument("name", help="login name (1-64 characters)")
    staff_cli.add_field_options(add, required=True)
    add.add_argument("--config", metavar="PATH", dest="config_sub", help=argparse.SUPPRESS)
    staff_cli.add_parsers(co_sub)
    ph = co_sub.add_parser("phone", help="set the phone number calls are bridged to, read "
                                          "from stdin (E.164; an empty line removes it)")
    ph.add_argument("name", help="login name")
    ph.add_argument("--config", metavar="PATH", dest="config_sub", help=argparse.SUPPRESS)
    telegram_cli.add_parsers(sub, co_sub)
    takedown_cli.add_parsers(sub)
    reports_cli.add_parsers(sub)
    q = sub.add_parser("queue", help="list waiting conversations: id, channel, language, "
                                     "urgency, seconds waited (never a contact address)")
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    q.add_argument("--limit", type=int, default=50, metavar="N",
                   help="print at most N (1 to 1000; default 50), best first")
    q.add_argument("--after", metavar="CURSOR",
                   help="start after this case (the cursor printed under the last page)")
    q.add_argument("--config", metavar="PATH", dest="config_sub", help=argparse.SUPPRESS)
    r = sub.add_parser("roster", help="who is on shift at a time (default now) and the next "
                                      "shift edge")
    r.add_argument("--at", metavar="ISO-TIME",
                   help="e.g. 2026-12-24T22:00+09:00 (an offset is required)")
    r.add_argument("--json", action="store_true", help="print JSON instead of a table")
    r.add_argument("--config", metavar="PATH", dest="config_sub", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `hotline` console script."""
    args = _parser().parse_args(argv)
    if args.command == "staff":
        args.command = "counselor"  # one name inside; `counselor` stays as an alias
    try:
        cfg = load_config(getattr(args, "config_sub", None) or args.config)
        return _dispatch(args, cfg)
    except ConfigError as e:
        print(f"hotline: configuration error: {e}", file=sys.stderr)
        return 2
    except (UsageError, staff_cli.CliError, reports_cli.ReportUsageError) as e:
        print(f"hotline: {e}", file=sys.stderr)
        return 2


class UsageError(Exception):
    """A command-line value is wrong; the message names it."""


def _dispatch(args: argparse.Namespace, cfg: Config) -> int:
    if args.command == "serve":
        from hotline.server import serve

        serve(cfg)
        return 0
    if args.command == "check-config":
        from hotline.crypto import load_master_key

        load_master_key(cfg.data_path, os.environ)
        print(f"configuration OK: {cfg!r}")
        return 0
    if args.command == "migrate":
        rev = asyncio.run(_migrate(cfg))
        print(f"database at revision {rev}")
        return 0
    if (tg := telegram_cli.dispatch(args, cfg)) is not None:
        return tg
    if (td := takedown_cli.dispatch(args, cfg)) is not None:
        return td
    if (rp := reports_cli.dispatch(args, cfg)) is not None:
        return rp
    if args.command == "counselor":
        if args.counselor_command == "phone":
            return _counselor_phone(args, cfg)
        if args.counselor_command in staff_cli.ACTIONS:
            return staff_cli.run(args, cfg)
        return _counselor_add(args, cfg)
    if args.command == "roster":
        return _roster(args, cfg)
    if args.command == "queue":
        return _print_queue(args, cfg)
    raise UsageError(f"unknown command {args.command}")


async def _migrate(cfg: Config) -> str | None:
    engine = open_engine(cfg.database_url)
    try:
        await migrate(engine)
        return await current_revision(engine)
    finally:
        await engine.dispose()


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != first:
            raise UsageError("password: the two entries differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def _counselor_add(args: argparse.Namespace, cfg: Config) -> int:
    from hotline.staff.auth import hash_password

    name = args.name.strip()
    if not 1 <= len(name) <= 64 or any(c.isspace() for c in name):
        raise UsageError("NAME: expected 1-64 characters without spaces")
    langs = tuple(x.strip() for x in args.languages.split(",") if x.strip())
    bad = [x for x in langs if x not in cfg.languages.supported]
    if not langs or bad:
        raise UsageError(f"--languages: expected a comma list from "
                         f"{', '.join(cfg.languages.supported)}, got {args.languages!r}")
    try:
        extra = parse_fields({k: v for k, v in staff_cli.fields_of(args).items()
                              if k in ("channels", "specialisms", "max_chats")},
                             cfg.languages.supported).columns()
    except FieldError as e:
        raise UsageError(f"--{e.field.replace('_', '-')}: {e}") from None
    password = _read_password()
    if len(password) < cfg.console.min_password_chars:
        raise UsageError(f"password: expected at least {cfg.console.min_password_chars} "
                         "characters")
    pw_hash = hash_password(password)

    async def _add() -> int:
        engine = open_engine(cfg.database_url)
        try:
            await migrate(engine)
            async with engine.begin() as conn:
                new_id = await staff_store.add(conn, name=name, role=Role(args.role),
                                               languages=langs, password_hash=pw_hash,
                                               at=datetime.now(UTC))
                if extra:
                    await staff_admin_store.update_fields(conn, new_id, **extra)
                await audit.record(conn, at=datetime.now(UTC), actor_id=None,
                                   action="staff.added", target_kind="counselor",
                                   target_id=str(new_id), role=args.role,
                                   fields=sorted(["languages", *extra]))
                return new_id
        finally:
            await engine.dispose()

    try:
        new_id = asyncio.run(_add())
    except IntegrityError:
        raise UsageError(f"NAME: {name!r} already exists") from None
    print(f"added {args.role} {name} (id {new_id})")
    return 0


def _counselor_phone(args: argparse.Namespace, cfg: Config) -> int:
    """Seal and store the number a counselor's calls are bridged to (never printed)."""
    from hotline.crypto import Keyring, load_master_key
    from hotline.domain.phone import E164

    raw = (getpass.getpass("Phone number (E.164; empty removes it): ") if sys.stdin.isatty()
           else sys.stdin.readline())
    number = "".join(raw.split()).replace("-", "")
    if number and not E164.match(number):
        raise UsageError("phone number: expected E.164, e.g. +821012345678")
    keyring = Keyring.from_master(load_master_key(cfg.data_path, os.environ))

    async def _set() -> bool:
        engine = open_engine(cfg.database_url)
        try:
            await migrate(engine)
            async with engine.begin() as conn:
                account = await staff_store.by_name(conn, args.name)
                if account is None:
                    return False
                cid = account.staff.id
                sealed = keyring.seal_text(number, f"counselor_phone:{cid}") if number else None
                await staff_admin_store.set_phone(conn, cid, sealed, datetime.now(UTC))
                return True
        finally:
            await engine.dispose()

    if not asyncio.run(_set()):
        raise UsageError(f"NAME: no staff account {args.name!r}")
    print(f"phone number {'set' if number else 'removed'} for {args.name}")
    return 0


def _roster(args: argparse.Namespace, cfg: Config) -> int:
    from hotline.cases.roster_lists import who_is_on

    at = datetime.now(UTC)
    if args.at:
        try:
            at = datetime.fromisoformat(args.at)
        except ValueError:
            raise UsageError(f"--at: expected an ISO 8601 time, got {args.at!r}") from None
        if at.tzinfo is None:
            raise UsageError("--at: add an offset, e.g. 2026-12-24T22:00+09:00")
        try:
            shifts.check_time(at)
        except ValueError as e:
            raise UsageError(f"--at: {e}") from None

    async def _run() -> dict[str, Any]:
        engine = open_engine(cfg.database_url)
        try:
            await migrate(engine)
            async with engine.connect() as conn:
                on = await who_is_on(conn, at)
        finally:
            await engine.dispose()
        return {"at": at.isoformat(), "on_shift": on.on_shift,
                "next_edge": on.next_edge.isoformat() if on.next_edge else None}

    data = asyncio.run(_run())
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    print(f"on shift at {data['at']}:")
    for p in data["on_shift"]:
        until = p["until"] or "further notice (not rostered: whenever present)"
        print(f"  {p['name']:20} {p['role']:10} {','.join(p['languages']):8} until {until}")
    if not data["on_shift"]:
        print("  nobody")
    print(f"next shift edge: {data['next_edge'] or 'none within 8 days'}")
    return 0


def _print_queue(args: argparse.Namespace, cfg: Config) -> int:
    if not 1 <= args.limit <= 1000:
        raise UsageError("--limit: expected 1 to 1000")
    after = _queue_cursor(args.after) if args.after else None
    rows, total, cursor = asyncio.run(_queue(cfg, args.limit, after))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'id':32}  {'channel':8}  {'lang':4}  {'urgency':8}  waited_s")
        for r in rows:
            print(f"{r['id']:32}  {r['channel']:8}  {r['language']:4}  "
                  f"{r['urgency']:8}  {r['waited_seconds']}")
        print(f"{total} waiting")
    if cursor:
        print(f"more: hotline queue --after {cursor}", file=sys.stderr)
    return 0


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _queue_cursor(text: str) -> tuple[Urgency, datetime, str]:
    level, _, rest = text.partition(".")
    us, _, cid = rest.partition(".")
    if level not in {u.value for u in Urgency} or not (us.isascii() and us.isdigit()
                                                       and len(us) <= 18 and cid.isalnum()):
        raise UsageError("--after: not a cursor printed by hotline queue")
    return Urgency(level), _EPOCH + timedelta(microseconds=int(us)), cid


async def _queue(cfg: Config, limit: int, after: tuple[Urgency, datetime, str] | None
                 ) -> tuple[list[dict[str, Any]], int, str | None]:
    """A page of the waiting conversations from SQL (the truth; works whether or not the
    server runs), in queue order; the number waiting; the next page's cursor."""
    engine = open_engine(cfg.database_url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            rows = await floor_queries.waiting_page(conn, limit + 1, after)
            total = sum(g.count for g in await floor_queries.waiting_groups(conn))
    finally:
        await engine.dispose()
    now = datetime.now(UTC)
    more, rows = len(rows) > limit, rows[:limit]
    last = rows[-1] if more else None
    cursor = (f"{last.urgency.value}.{(last.enqueued_at - _EPOCH) // timedelta(microseconds=1)}"
              f".{last.id}" if last else None)
    return [{"id": r.id, "channel": r.channel.value, "language": r.language,
             "urgency": r.urgency.value,
             "waited_seconds": int((now - r.enqueued_at).total_seconds())} for r in rows
            ], total, cursor


if __name__ == "__main__":
    logging.basicConfig()
    sys.exit(main())
