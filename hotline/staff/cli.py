"""`hotline staff ...` (alias `hotline counselor ...`): the admin's staff actions from the
command line, scriptable. Each runs the same service as the console (hotline/staff/admin.py),
audited with no actor (the operator's shell). See docs/staff.md."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from redis.exceptions import RedisError

from hotline.config import LANG_CODES, Config
from hotline.deps import Deps
from hotline.domain.accounts import CHANNELS, SPECIALISMS, FieldError, parse_fields
from hotline.domain.staff import Role
from hotline.staff import admin

ACTIONS = ("list", "edit", "deactivate", "reactivate", "reset-password", "reset-2fa")


class CliError(Exception):
    """A value is wrong or a service is unreachable; the message says which."""


def add_parsers(staff_sub: Any) -> None:
    """`list`, `edit`, `deactivate`, `reactivate`, `reset-password`, `reset-2fa` (the CLI's
    own module keeps `add`, `phone` and `telegram`)."""
    ls = staff_sub.add_parser("list", help="every staff account (never a password or secret)")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.add_argument("--config", metavar="PATH", dest="config_sub", help=argparse.SUPPRESS)
    ed = staff_sub.add_parser("edit", help="change role, languages, channels, specialisms or "
                                           "chats at once")
    ed.add_argument("name", help="login name")
    add_field_options(ed, required=False)
    ed.add_argument("--config", metavar="PATH", dest="config_sub", help=argparse.SUPPRESS)
    for action, text in (
            ("deactivate", "log out everywhere at once, hand over held cases, keep history"),
            ("reactivate", "allow logging in again"),
            ("reset-password", "print a one-time link to choose a new password"),
            ("reset-2fa", "forget the second factor; set up again at the next login")):
        p = staff_sub.add_parser(action, help=text)
        p.add_argument("name", help="login name")
        p.add_argument("--config", metavar="PATH", dest="config_sub", help=argparse.SUPPRESS)


def add_field_options(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--role", required=required, choices=[r.value for r in Role])
    p.add_argument("--languages", required=required,
                   help=f"comma-separated languages spoken ({', '.join(sorted(LANG_CODES))})")
    p.add_argument("--channels", help=f"comma-separated, of {', '.join(CHANNELS)}")
    p.add_argument("--specialisms", help=f"comma-separated, of {', '.join(SPECIALISMS)} "
                                         "(empty for none)")
    p.add_argument("--max-chats", dest="max_chats", type=int, help="chats at once, 1-10")


def fields_of(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in ("role", "languages", "channels", "specialisms",
                                          "max_chats") if getattr(args, k, None) is not None}


@asynccontextmanager
async def _deps(cfg: Config) -> AsyncIterator[Deps]:
    from hotline.cases.live import LiveStore
    from hotline.crypto import Keyring, load_master_key
    from hotline.stores.live.client import open_client
    from hotline.stores.live.keys import Keys
    from hotline.stores.sql.engine import migrate, open_engine

    url = cfg.storage.redis_url or f"unix://{cfg.data_path / 'redis' / 'redis.sock'}"
    engine = open_engine(cfg.database_url)
    redis = open_client(url)
    keys = Keys(cfg.storage.redis_prefix)
    try:
        await migrate(engine)
        yield Deps(config=cfg, engine=engine, redis=redis, keys=keys,
                   live=LiveStore(redis, keys, cfg.routing.rules()),
                   keyring=Keyring.from_master(load_master_key(cfg.data_path, os.environ)))
    finally:
        await redis.aclose()
        await engine.dispose()


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Run one of ACTIONS; prints the result."""
    try:
        return asyncio.run(_run(args, cfg))
    except FieldError as e:
        raise CliError(f"--{e.field.replace('_', '-')}: {e}") from None
    except admin.NoSuchMember:
        raise CliError(f"NAME: no staff account {args.name!r}") from None
    except (RedisError, OSError) as e:
        raise CliError(f"Redis does not answer ({type(e).__name__}); this action ends "
                       "sessions or hands cases over on the running server: start it, or "
                       "set storage.redis_url") from None


async def _run(args: argparse.Namespace, cfg: Config) -> int:
    async with _deps(cfg) as deps:
        action: Callable[[Deps, argparse.Namespace], Awaitable[int]] = _HANDLERS[
            args.counselor_command]
        return await action(deps, args)


async def _list(deps: Deps, args: argparse.Namespace) -> int:
    members = [m.as_json() for m in await admin.listing(deps)]
    if args.json:
        print(json.dumps(members, indent=2, ensure_ascii=False))
        return 0
    print(f"{'name':20} {'role':10} {'status':8} {'langs':6} {'chats':5} 2fa  last login")
    for m in members:
        print(f"{m['name']:20} {m['role']:10} {'active' if m['active'] else 'off':8} "
              f"{','.join(m['languages']):6} {m['max_chats']:<5} "
              f"{'on ' if m['two_factor'] else 'off'}  {m['last_login_at'] or '-'}")
    print(f"{len(members)} staff")
    return 0


async def _edit(deps: Deps, args: argparse.Namespace) -> int:
    member = await admin.by_name(deps, args.name)
    await admin.edit(deps, None, member.id,
                     parse_fields(fields_of(args), deps.config.languages.supported))
    print(f"edited {args.name}")
    return 0


async def _simple(deps: Deps, args: argparse.Namespace) -> int:
    member = await admin.by_name(deps, args.name)
    action = args.counselor_command
    if action == "deactivate":
        moved = await admin.deactivate(deps, None, member.id)
        print(f"deactivated {args.name}; cases handed over: {len(moved)}")
    elif action == "reactivate":
        await admin.reactivate(deps, None, member.id)
        print(f"reactivated {args.name}")
    elif action == "reset-password":
        reset = await admin.reset_password(deps, None, member.id)
        print(f"one-time link for {args.name}, valid until {reset.expires_at.isoformat()}:")
        print(reset.link(deps.config.server.public_url))
    else:
        await admin.reset_second_factor(deps, None, member.id)
        print(f"second factor of {args.name} reset")
    return 0


_HANDLERS: dict[str, Callable[[Deps, argparse.Namespace], Awaitable[int]]] = {
    "list": _list, "edit": _edit, "deactivate": _simple, "reactivate": _simple,
    "reset-password": _simple, "reset-2fa": _simple}
