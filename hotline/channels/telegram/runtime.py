"""What every bot handler shares: the services, the prompts, the bot, and careful sending.

Chats are named in Redis and in provider ids only by a keyed MAC of the chat id (`chat_ref`),
so neither Redis nor SQL ever holds a raw Telegram id of a victim. Every message sent to (and
received from) a victim's chat is remembered for 48 hours, the window in which Telegram lets
a bot delete private-chat messages, so /forget can delete them.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, User
from telegram.error import TelegramError

from hotline.channels.telegram.intake import IntakeState
from hotline.deps import Deps
from hotline.domain.conversation import Channel
from hotline.limits import flood
from hotline.prompts import Prompts

log = logging.getLogger("bots")

# An unfinished intake is forgotten after a day; the victim can /start again.
TG_INTAKE_TTL_S = 24 * 3600
# Telegram refuses to delete private-chat messages older than 48 hours.
TG_DELETE_WINDOW_S = 48 * 3600
# Handler replies let the rate limiter wait out a 429 this many times before giving up; the
# outbox (counselor replies) passes none and retries on its own schedule, visibly.
REPLY_RETRIES = 3

Rows = list[list[tuple[str, str]]]


def use_timedelta_durations() -> None:
    """Opt in to PTB's coming timedelta durations before any bot is built.

    PTB 22 warns (PTBDeprecationWarning) whenever a duration such as RetryAfter.retry_after is
    read as an int, including inside its own error parsing; opting in keeps a 429 a plain
    RetryAfter (and the test suite treats warnings as errors). Called where the channel builds
    its bots rather than at import, so importing a module changes nothing in the process.
    """
    os.environ.setdefault("PTB_TIMEDELTA", "true")


def labels_from(text: str) -> dict[str, str]:
    """The `code = label` lines of the tg_buttons prompt as a mapping."""
    out = {}
    for line in text.splitlines():
        code, sep, label = line.partition("=")
        if sep and code.strip():
            out[code.strip()] = label.strip()
    return out


@dataclass
class BotRuntime:
    deps: Deps
    prompts: Prompts
    bot: Any  # telegram.ext.ExtBot; Any keeps PTB's many generic parameters out of our types

    def chat_ref(self, chat_id: int | str) -> str:
        """A keyed MAC of a chat id: names the chat in Redis keys and provider ids."""
        return self.deps.keyring.sign("telegram-chat", str(chat_id))

    def sender(self, chat_id: int) -> str:
        """The chat's sender pseudonym (as the inbox computes it)."""
        return self.deps.keyring.pseudonymize(Channel.TELEGRAM.value, str(chat_id))

    def language_of(self, user: User | None) -> str:
        """The Telegram app's language if we serve it, else the configured default."""
        langs = self.deps.config.languages
        code = ((user.language_code if user else None) or "")[:2].lower()
        return code if code in langs.supported else langs.default

    def text(self, lang: str, name: str, **values: Any) -> str:
        return self.prompts.render(lang, name, **values)

    def labels(self, lang: str) -> dict[str, str]:
        return labels_from(self.prompts.render(lang, "tg_buttons"))

    def markup(self, lang: str, rows: Rows) -> InlineKeyboardMarkup:
        names = self.labels(lang)
        return InlineKeyboardMarkup([[InlineKeyboardButton(names.get(code, code),
                                                           callback_data=data)
                                      for code, data in row] for row in rows])

    async def say(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None,
                  track: bool = True) -> Message | None:
        """Send to a chat; a failure is logged (type only) and returns None, never raises."""
        try:
            msg: Message = await self.bot.send_message(chat_id=chat_id, text=text,
                                                       reply_markup=markup,
                                                       rate_limit_args=REPLY_RETRIES)
        except TelegramError as e:
            log.warning("telegram send failed", extra={"error": type(e).__name__})
            return None
        if track:
            await self.remember(chat_id, msg.message_id)
        return msg

    async def reply(self, chat_id: int, lang: str, text: str,
                    markup: InlineKeyboardMarkup | None = None) -> Message | None:
        """An automatic reply to a victim's chat, within its flood limit (docs/limits.md):
        past it, the calm answer once, then nothing until the limit allows again. The bot's
        sending rate is shared by every chat: one chat must not use it up."""
        verdict = await flood.reply(self.deps, self.sender(chat_id))
        if verdict.allowed:
            return await self.say(chat_id, text, markup)
        if verdict.first_refusal:
            await self.say(chat_id, self.text(lang, "flood_calm"))
        return None

    async def edit(self, msg: Any, text: str, markup: InlineKeyboardMarkup | None = None
                   ) -> None:
        """Replace a message's text (and drop or change its keyboard); failures only logged."""
        if msg is not None:
            await self.edit_in(msg.chat.id, msg.message_id, text, markup)

    async def edit_in(self, chat_id: int, message_id: int, text: str,
                      markup: InlineKeyboardMarkup | None = None) -> None:
        try:
            await self.bot.edit_message_text(chat_id=chat_id, message_id=message_id,
                                             text=text, reply_markup=markup,
                                             rate_limit_args=REPLY_RETRIES)
        except TelegramError as e:
            log.info("telegram edit failed", extra={"error": type(e).__name__})

    async def answer(self, query: Any, text: str | None, alert: bool = False) -> None:
        """Answer a button press (clears its spinner); failures do not matter."""
        try:
            await self.bot.answer_callback_query(query.id, text=text, show_alert=alert,
                                                 rate_limit_args=REPLY_RETRIES)
        except TelegramError as e:
            log.info("telegram answer failed", extra={"error": type(e).__name__})

    async def remember(self, chat_id: int, message_id: int) -> None:
        """Note a message of a victim's chat for /forget (48 h, then Telegram forbids it)."""
        key = self.deps.keys.tg_sent(self.chat_ref(chat_id))
        now = time.time()
        try:
            async with self.deps.redis.pipeline(transaction=True) as p:
                p.zadd(key, {str(message_id): now})
                p.zremrangebyscore(key, "-inf", now - TG_DELETE_WINDOW_S)
                p.expire(key, TG_DELETE_WINDOW_S)
                await p.execute()
        except (RedisError, OSError):
            pass  # only /forget's clean-up of the chat is weaker; nothing is lost

    async def remembered(self, chat_id: int) -> list[int]:
        key = self.deps.keys.tg_sent(self.chat_ref(chat_id))
        floor = time.time() - TG_DELETE_WINDOW_S
        found = await self.deps.redis.zrangebyscore(key, floor, "+inf")
        return [int(str(x)) for x in found]

    async def forget_chat_keys(self, chat_id: int) -> None:
        ref = self.chat_ref(chat_id)
        await self.deps.redis.delete(self.deps.keys.tg_sent(ref), self.deps.keys.tg_intake(ref))

    async def intake(self, chat_id: int) -> IntakeState | None:
        try:
            raw = await self.deps.redis.get(self.deps.keys.tg_intake(self.chat_ref(chat_id)))
        except (RedisError, OSError):
            return None
        return IntakeState.from_json(str(raw)) if raw else None

    async def save_intake(self, chat_id: int, state: IntakeState | None) -> None:
        key = self.deps.keys.tg_intake(self.chat_ref(chat_id))
        try:
            if state is None:
                await self.deps.redis.delete(key)
            else:
                await self.deps.redis.set(key, state.to_json(), ex=TG_INTAKE_TTL_S)
        except (RedisError, OSError) as e:
            log.warning("intake state not saved", extra={"error": type(e).__name__})

    def seal_ref(self, value: str, context: str) -> str:
        """A sealed value as text for Redis (which this app reads with decode_responses)."""
        return base64.b64encode(self.deps.keyring.seal_text(value, context)).decode()

    def open_ref(self, value: str, context: str) -> str:
        return self.deps.keyring.open_text(base64.b64decode(value), context)
