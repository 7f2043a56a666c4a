"""The Telegram channel's aiohttp side: the webhook, the bots' lifetime, the outbox sender.

`POST /webhooks/telegram` checks X-Telegram-Bot-Api-Secret-Token against
HOTLINE_TELEGRAM_WEBHOOK_SECRET in constant time (403, nothing stored, when wrong or missing),
answers 200 to an update that can never be handled (telegram_update: counted by reason,
logged by kind, nothing stored), and hands the rest to python-telegram-bot, whose updater is
off. It waits briefly for the update to be handled (so the message is in SQL before Telegram is
answered), answers 200 anyway if that is slow, and 500 if handling failed (ours: a database
down) so Telegram re-sends it. With telegram.mode = "polling" the PTB updater fetches updates
instead (development). Without HOTLINE_TELEGRAM_BOT_TOKEN the channel is off. A Bot API that
cannot be reached at start does not stop the server: the channel keeps trying and answers 503
meanwhile. See docs/telegram.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError
from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application

from hotline import metrics
from hotline.cases.senders import Outgoing, SendResult
from hotline.channels.telegram import ENV_SECRET, ENV_TOKEN
from hotline.channels.telegram import update as telegram_update
from hotline.channels.telegram.desk_alerts import DeskAlerts
from hotline.channels.telegram.processor import DONE, FAILED, ChatOrderedProcessor
from hotline.channels.telegram.runtime import BotRuntime, use_timedelta_durations
from hotline.channels.telegram.staff_bot import StaffAlerts
from hotline.channels.telegram.victim import VictimBot
from hotline.channels.telegram.victim_callback import CallbackFlow
from hotline.channels.telegram.victim_media import MediaFlow
from hotline.crypto import tokens_equal
from hotline.domain.conversation import Channel
from hotline.logs import error_place
from hotline.web.appkeys import CONFIG, DEPS, HUB, PROMPTS
from hotline.web.middleware import json_error

log = logging.getLogger(__name__)

# How long an update id is remembered: Telegram gives up re-sending an update within 24 hours.
TG_UPDATE_TTL_S = 24 * 3600

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
# The update kinds the bots handle; set-webhook and polling ask Telegram for these only.
ALLOWED_UPDATES = ["message", "callback_query"]
# How long the webhook waits for an update to be handled before answering 200 anyway.
ACK_WAIT_S = 5.0
_START_RETRY_S = (2.0, 5.0, 15.0, 30.0, 60.0)

# PTB logs every Bot API call with its parameters (chat ids, message text) at DEBUG, and httpx
# logs request URLs, which contain the bot token, at INFO: keep both quiet unless an operator
# set their levels explicitly.
for _name, _level in (("telegram", logging.INFO), ("httpx", logging.WARNING),
                      ("httpcore", logging.WARNING)):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(_level)


class TelegramChannel:
    """One PTB Application (victim bot + staff alert bot) and its readiness."""

    def __init__(self, application: Any, processor: ChatOrderedProcessor, mode: str,
                 secret: str | None) -> None:
        self.application = application
        self.processor = processor
        self.mode = mode
        self.secret = secret
        self.ready = False

    async def start(self) -> None:
        await self.application.initialize()  # getMe: checks the token and the API address
        await self.application.start()
        if self.mode == "polling":
            await self.application.updater.start_polling(allowed_updates=ALLOWED_UPDATES,
                                                         drop_pending_updates=False)
        self.ready = True
        log.info("telegram channel started", extra={"mode": self.mode})

    async def start_with_retries(self) -> None:
        """Keep trying to start (the server runs meanwhile; the webhook answers 503)."""
        for attempt in range(10_000):
            try:
                await self.start()
                return
            except TelegramError as e:
                wait = _START_RETRY_S[min(attempt, len(_START_RETRY_S) - 1)]
                log.warning("telegram channel not started; retrying",
                            extra={"error": type(e).__name__, "retry_s": wait})
                with contextlib.suppress(TelegramError):
                    await self.application.shutdown()
                await asyncio.sleep(wait)

    async def stop(self) -> None:
        if not self.ready:
            return
        self.ready = False
        if self.mode == "polling" and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def submit(self, update: Update) -> str:
        """Queue an update and wait up to ACK_WAIT_S for its outcome ("pending" if slower)."""
        fut = self.processor.expect(update.update_id)
        await self.application.update_queue.put(update)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), ACK_WAIT_S)
        except TimeoutError:
            self.processor.forget(update.update_id, fut)
            return "pending"


TELEGRAM = web.AppKey("telegram", TelegramChannel)
routes = web.RouteTableDef()


class TelegramSender:
    """The outbox's way to a Telegram chat: maps Bot API errors to retry, wait or give up."""

    def __init__(self, channel: TelegramChannel, rt: BotRuntime) -> None:
        self.channel = channel
        self.rt = rt

    async def send(self, out: Outgoing) -> SendResult:
        if not self.channel.ready:
            return SendResult(False, error="telegram_not_ready")
        chat_id = int(out.address)
        try:
            # No rate_limit_args: a 429 comes back here and the outbox waits the advised time,
            # visibly ("retrying"), instead of a hidden sleep inside the rate limiter.
            msg = await self.rt.bot.send_message(chat_id=chat_id, text=out.text)
        except RetryAfter as e:
            after = e.retry_after
            secs = after.total_seconds() if isinstance(after, timedelta) else float(after)
            return SendResult(False, retry_after_s=secs, error="rate_limited")
        except Forbidden:
            return SendResult(False, permanent=True, error="blocked")
        except BadRequest:
            return SendResult(False, permanent=True, error="bad_request")
        except NetworkError:
            return SendResult(False, error="network")
        except TelegramError as e:
            return SendResult(False, error=type(e).__name__[:64])
        await self.rt.remember(chat_id, msg.message_id)
        return SendResult(True, provider_ref=str(msg.message_id))


def setup(app: web.Application) -> None:
    """Add the webhook route and the channel's cleanup context (after the services')."""
    app.router.add_routes(routes)
    app.cleanup_ctx.append(_telegram_ctx)


def _build(app: web.Application, token: str
           ) -> tuple[TelegramChannel, BotRuntime, StaffAlerts, DeskAlerts]:
    use_timedelta_durations()
    cfg = app[CONFIG].telegram
    deps = app[DEPS]
    base = cfg.api_base_url.rstrip("/")

    async def claim(update_id: int) -> bool:
        try:
            return bool(await deps.redis.set(deps.keys.tg_update(update_id), "1", nx=True,
                                              ex=TG_UPDATE_TTL_S))
        except (RedisError, OSError):
            return True  # Redis down: handle it; the inbox's provider ids still dedupe

    async def release(update_id: int) -> None:
        with contextlib.suppress(RedisError, OSError):
            await deps.redis.delete(deps.keys.tg_update(update_id))

    processor = ChatOrderedProcessor(cfg.concurrent_updates, claim, release)
    builder = (Application.builder().token(token).base_url(f"{base}/bot")
               .base_file_url(f"{base}/file/bot").rate_limiter(AIORateLimiter())
               .concurrent_updates(processor))
    if cfg.mode == "webhook":
        builder = builder.updater(None)
    application = builder.build()
    rt = BotRuntime(deps, app[PROMPTS], application.bot)
    staff = StaffAlerts(rt)
    staff.register(application)
    desk = DeskAlerts(rt, staff)
    desk.register(application)
    victim = VictimBot(rt)
    victim.callbacks = CallbackFlow(rt)
    victim.callbacks.register(application)
    victim.register(application)
    MediaFlow(victim).register(application)

    async def on_error(update: object, context: Any) -> None:
        processor.mark_failed(update)
        err = getattr(context, "error", None)
        # Where, not what: an exception's message or locals may hold a victim's words.
        log.error("telegram update failed", extra={
            "update": update.update_id if isinstance(update, Update) else None,
            "error": type(err).__name__,
            "where": error_place(err, depth=3) if err is not None else ""})

    application.add_error_handler(on_error)
    channel = TelegramChannel(application, processor, cfg.mode,
                              os.environ.get(ENV_SECRET, "").strip() or None)
    return channel, rt, staff, desk


async def _telegram_ctx(app: web.Application) -> AsyncIterator[None]:
    token = os.environ.get(ENV_TOKEN, "").strip()
    if not token:
        log.info("telegram channel off (no bot token)")
        yield
        return
    channel, rt, staff, desk = _build(app, token)
    if channel.mode == "webhook" and channel.secret is None:
        log.warning("telegram webhook secret not set: every webhook call is refused; run "
                    "`hotline telegram set-webhook`")
    app[TELEGRAM] = channel
    deps = app[DEPS]
    deps.outbox.register(Channel.TELEGRAM, TelegramSender(channel, rt))
    tasks: list[asyncio.Task[None]] = [asyncio.create_task(staff.run(app[HUB], desk.on_event),
                                                           name="telegram-staff-alerts")]
    try:
        await channel.start()
    except TelegramError as e:
        log.warning("telegram channel not started; retrying in the background",
                    extra={"error": type(e).__name__})
        with contextlib.suppress(TelegramError):
            await channel.application.shutdown()
        tasks.append(asyncio.create_task(channel.start_with_retries(), name="telegram-start"))
    try:
        yield
    finally:
        # The alert poster ends by itself once the hub closed its stream (on_shutdown): give it
        # a moment, so it is not cancelled inside a database call (hotline/jobs.py).
        # Then cancel until each task has ended (a cancel can be swallowed inside SQLAlchemy).
        await asyncio.wait({tasks[0]}, timeout=5)
        pending = {t for t in tasks if not t.done()}
        while pending:
            for t in pending:
                t.cancel()
            _done, pending = await asyncio.wait(pending, timeout=0.5)
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        deps.outbox.senders.pop(Channel.TELEGRAM, None)
        await channel.stop()


@routes.post("/webhooks/telegram")
async def webhook(request: web.Request) -> web.Response:
    channel = request.app.get(TELEGRAM)
    if channel is None or channel.mode != "webhook":
        raise json_error(404, "the telegram webhook is not in use")
    given = request.headers.get(SECRET_HEADER, "")
    if channel.secret is None or not tokens_equal(given, channel.secret):
        raise json_error(403, "wrong or missing secret token")
    try:
        body = telegram_update.parse(await request.read(), int(time.time()))
    except telegram_update.Unusable as e:
        return _ignored(e.reason)
    if not channel.ready:
        # Telegram re-sends later; nothing is lost while the channel starts.
        return web.json_response({"error": "telegram channel starting"}, status=503)
    try:
        update = Update.de_json(body, channel.application.bot)
    except Exception:  # parsing only: whatever it raises, no retry parses it either
        return _ignored("unparsable")
    outcome = await channel.submit(update)
    if outcome == FAILED:
        # Ours (a database or Redis error, a bug): Telegram re-sends it.
        return web.json_response({"error": "update not handled; send it again"}, status=500)
    return web.json_response({"ok": True, "handled": outcome == DONE})


def _ignored(reason: str) -> web.Response:
    """200 for an update no retry can make usable (telegram_update): Telegram stops
    re-sending it. Counted and logged by kind only."""
    metrics.WEBHOOK_ERRORS.labels("telegram", reason).inc()
    log.warning("telegram update ignored", extra={"reason": reason})
    return web.json_response({"ok": True, "handled": False, "ignored": reason})
