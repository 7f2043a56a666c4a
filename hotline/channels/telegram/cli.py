"""The Telegram commands of the `hotline` CLI.

- `hotline telegram set-webhook` registers {server.public_url}/webhooks/telegram with Telegram
  (or the telegram.api_base_url server), with a fresh secret token that it prints once, the
  update kinds the bots handle, and drop_pending_updates=False so nothing waiting is lost.
- `hotline counselor telegram NAME ID` links a staff account to a Telegram user id (what /whoami
  tells them in the bot); `none` unlinks. Linked staff get alerts and may acknowledge them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from typing import Any

from sqlalchemy.exc import IntegrityError

from hotline.channels.telegram import ENV_SECRET, ENV_TOKEN
from hotline.config import Config
from hotline.staff import accounts as staff_store
from hotline.stores.sql.engine import migrate, open_engine

# Names of environment variables, not secrets.
WEBHOOK_PATH = "/webhooks/telegram"


def add_parsers(sub: Any, counselor_sub: Any) -> None:
    """Add `telegram set-webhook` and `counselor telegram` to the CLI's parsers."""
    tg = sub.add_parser("telegram", help="Telegram channel set-up")
    tg_sub = tg.add_subparsers(dest="telegram_command", required=True, metavar="ACTION")
    sw = tg_sub.add_parser("set-webhook", help="register {public_url}/webhooks/telegram with a "
                                               "fresh secret (printed once)")
    sw.add_argument("--config", metavar="PATH", dest="config_sub", help=argparse.SUPPRESS)
    link = counselor_sub.add_parser("telegram", help="link a staff account to a Telegram user "
                                                     "id for alerts (`none` unlinks)")
    link.add_argument("name", help="login name")
    link.add_argument("telegram_id", help="the id the bot's /whoami shows, or none")
    link.add_argument("--config", metavar="PATH", dest="config_sub", help=argparse.SUPPRESS)


def dispatch(args: argparse.Namespace, cfg: Config) -> int | None:
    """Run a Telegram command; None if `args` is not one."""
    if args.command == "telegram" and args.telegram_command == "set-webhook":
        return _set_webhook(cfg)
    if args.command == "counselor" and getattr(args, "counselor_command", "") == "telegram":
        return _link(cfg, args.name, args.telegram_id)
    return None


def _fail(message: str) -> int:
    print(f"hotline: {message}", file=sys.stderr)
    return 2


def _set_webhook(cfg: Config) -> int:
    token = os.environ.get(ENV_TOKEN, "").strip()
    if not token:
        return _fail(f"{ENV_TOKEN} is not set: the Telegram channel is off")
    url = cfg.server.public_url.rstrip("/") + WEBHOOK_PATH
    if not url.startswith("https://"):
        print("warning: Telegram only delivers webhooks to https:// URLs; set "
              "server.public_url (HOTLINE_PUBLIC_URL) to your public https address",
              file=sys.stderr)
    # token_urlsafe uses only A-Z a-z 0-9 _ -, the characters Telegram allows (1-256 of them).
    secret = secrets.token_urlsafe(48)

    async def run() -> None:
        from telegram import Bot

        from hotline.channels.telegram.runtime import use_timedelta_durations
        from hotline.channels.telegram.service import ALLOWED_UPDATES

        use_timedelta_durations()

        base = cfg.telegram.api_base_url.rstrip("/")
        async with Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot") as bot:
            await bot.set_webhook(url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES,
                                  drop_pending_updates=False)

    from telegram.error import TelegramError

    try:
        asyncio.run(run())
    except TelegramError as e:
        return _fail(f"Telegram refused the webhook: {type(e).__name__}: {e}")
    print(f"webhook registered: {url}")
    print(f"secret token (shown once): {secret}")
    print(f"Put it in {ENV_SECRET} for every server instance and restart them. Until then "
          "they answer 403 and Telegram keeps re-sending the waiting updates (for up to a day).")
    return 0


def _link(cfg: Config, name: str, raw_id: str) -> int:
    if raw_id.lower() == "none":
        telegram_id: int | None = None
    elif raw_id.isascii() and raw_id.lstrip("-").isdigit() and len(raw_id) <= 20:
        telegram_id = int(raw_id)
    else:
        return _fail("TELEGRAM_ID: expected the number /whoami shows, or none")

    async def run() -> bool:
        engine = open_engine(cfg.database_url)
        try:
            await migrate(engine)
            async with engine.begin() as conn:
                return await staff_store.set_telegram_chat(conn, name, telegram_id)
        finally:
            await engine.dispose()

    try:
        found = asyncio.run(run())
    except IntegrityError:
        return _fail("TELEGRAM_ID: already linked to another staff account")
    if not found:
        return _fail(f"NAME: no staff account {name!r}")
    print(f"{name}: Telegram {'unlinked' if telegram_id is None else 'linked'}")
    return 0
