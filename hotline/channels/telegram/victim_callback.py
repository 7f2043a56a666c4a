"""A call-back asked for from Telegram, as from the web chat and SMS (docs/victim.md).

/callback asks for the number to call (typed as a message, which goes nowhere else: it never
reaches the transcript or a counselor), then a safe time window and whether a voice message
may be left (buttons). The number waits sealed in Redis between the steps and is stored only
with the request (services/callback.py), sealed, and deleted when the request is done.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from hotline.callbacks import service as callback
from hotline.channels.telegram.runtime import BotRuntime
from hotline.domain.conversation import Channel
from hotline.domain.phone import to_e164
from hotline.limits import flood

log = logging.getLogger("bots")

Ctx = ContextTypes.DEFAULT_TYPE
STATE_TTL_S = 3600
_NUMBER = "number"


class CallbackFlow:
    def __init__(self, rt: BotRuntime) -> None:
        self.rt = rt
        self.deps = rt.deps

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        application.add_handler(CommandHandler("callback", self.start,
                                               filters=filters.ChatType.PRIVATE))
        application.add_handler(CallbackQueryHandler(self.on_button, pattern=r"^cb:"))

    @property
    def on(self) -> bool:
        """Call-backs need our own number to call from."""
        return bool(self.deps.config.twilio.phone_number)

    def _key(self, chat_id: int) -> str:
        return self.deps.keys.tg_callback(self.rt.chat_ref(chat_id))

    async def start(self, update: Update, context: Ctx) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        lang = self.rt.language_of(update.effective_user)
        if not self.on:
            await self.rt.reply(chat.id, lang, self.rt.text(lang, "victim/tg_callback_off"))
            return
        await self.deps.redis.set(self._key(chat.id), _NUMBER, ex=STATE_TTL_S)
        await self.rt.reply(chat.id, lang, self.rt.text(lang, "victim/tg_callback_number"))

    async def take_text(self, update: Update) -> bool:
        """A text while a number is asked for: it is the number (never a message). True if
        it was taken."""
        chat, msg = update.effective_chat, update.effective_message
        if chat is None or msg is None or msg.text is None:
            return False
        try:
            state = await self.deps.redis.get(self._key(chat.id))
        except (RedisError, OSError):
            return False
        if state != _NUMBER:
            return False
        lang = self.rt.language_of(update.effective_user)
        number = to_e164(msg.text, self.deps.config.twilio.home_country_code)
        if number is None:
            await self.rt.reply(chat.id, lang,
                                self.rt.text(lang, "victim/tg_callback_bad_number"))
            return True
        sealed = self.rt.seal_ref(number, f"tg-callback:{chat.id}")
        await self.deps.redis.set(self._key(chat.id), sealed, ex=STATE_TTL_S)
        rows = [[(self.rt.text(lang, f"chat_callback_window_{n}"), f"cb:w:{n}")]
                for n in callback.CHOICES]
        await self.rt.reply(chat.id, lang, self.rt.text(lang, "victim/tg_callback_window"),
                            self.rt.markup(lang, rows))
        return True

    async def on_button(self, update: Update, context: Ctx) -> None:
        q, chat = update.callback_query, update.effective_chat
        if q is None or chat is None or chat.type != "private":
            return
        lang = self.rt.language_of(update.effective_user)
        parts = (q.data or "").split(":")
        sealed = await self.deps.redis.get(self._key(chat.id))
        if len(parts) != 3 or sealed is None or sealed == _NUMBER:
            await self.rt.answer(q, self.rt.text(lang, "tg_stale"))
            return
        await self.rt.answer(q, None)
        if parts[1] == "w" and parts[2] in callback.CHOICES:
            rows = [[(self.rt.text(lang, "chat_callback_message_yes"), f"cb:m:{parts[2]}y"),
                     (self.rt.text(lang, "chat_callback_message_no"), f"cb:m:{parts[2]}n")]]
            await self.rt.edit(q.message, self.rt.text(lang, "victim/tg_callback_window"))
            await self.rt.reply(chat.id, lang, self.rt.text(lang, "victim/tg_callback_message"),
                                self.rt.markup(lang, rows))
            return
        choice, leave = parts[2][:-1], parts[2][-1:] == "y"
        if parts[1] != "m" or choice not in callback.CHOICES:
            return
        await self._request(chat.id, lang, str(sealed), choice, leave, q.message)

    async def _request(self, chat_id: int, lang: str, sealed: str, choice: str, leave: bool,
                       message: Any) -> None:
        number = self.rt.open_ref(sealed, f"tg-callback:{chat_id}")
        await self.deps.redis.delete(self._key(chat_id))
        if flood.banned(self.deps, sender=self.deps.keyring.pseudonymize(
                Channel.VOICE.value, number)):
            await self.rt.edit(message, self.rt.text(lang, "flood_calm"))
            return
        now = datetime.now(UTC)
        tz = ZoneInfo(self.deps.config.roster.timezone)
        span = callback.window_for(choice, now, tz)
        assert span is not None  # every choice in CHOICES has a window
        made = await callback.request(
            self.deps, number=number, language=lang, start=span[0], end=span[1],
            leave_message=leave, source_channel=Channel.TELEGRAM,
            source_key=f"telegram:{self.rt.chat_ref(chat_id)}:{int(now.timestamp())}")
        await self.rt.edit(message, self.rt.text(
            lang, "chat_callback_confirmed", leave_message=made.leave_message,
            **callback.confirmation(made.window_start, made.window_end, now, tz)))
        log.info("telegram call-back requested")
