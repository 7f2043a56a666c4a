"""Photos and documents from a victim: evidence, fingerprinted, kept only with consent.

On arrival: size and type are checked first (a clear reply, nothing downloaded, if refused);
the message joins the conversation like any other (its caption, or "[photo]"); the file is
downloaded, fingerprinted (SHA-256, and PDQ for images) and dropped from memory. The victim is
asked where it appeared (platform buttons), then whether we may keep a copy. Only a "yes"
fetches the file again, checks it is the same (SHA-256) and stores it sealed under retention;
until then only the sealed Telegram file id waits in Redis for a day. See docs/telegram.md.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.exceptions import RedisError
from telegram import Document, PhotoSize, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from hotline.cases import conversations as convs
from hotline.channels.telegram import media
from hotline.channels.telegram.intake import PLATFORMS
from hotline.channels.telegram.runtime import BotRuntime
from hotline.channels.telegram.victim import VictimBot
from hotline.domain.conversation import Channel
from hotline.evidence import service as evidence

log = logging.getLogger("bots")

Ctx = ContextTypes.DEFAULT_TYPE

# The victim has this long to say whether we may keep a file; after that it is never fetched.
TG_FILE_CONSENT_TTL_S = 24 * 3600
_MB = 1024 * 1024
_ID_LIMIT = 2**31  # evidence.id is a 32-bit integer in PostgreSQL


def _evidence_id(raw: str) -> int | None:
    """An evidence id from button data: ASCII digits ("²" is a digit to isdigit but not to
    int), at most 12 of them, and within the id column (32-bit in PostgreSQL)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        return None
    value = int(raw)
    return value if value < _ID_LIMIT else None


class MediaFlow:
    def __init__(self, victim: VictimBot) -> None:
        self.victim = victim
        self.rt: BotRuntime = victim.rt
        self.deps = victim.deps

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        private = filters.ChatType.PRIVATE
        application.add_handler(MessageHandler(private & (filters.PHOTO | filters.Document.ALL),
                                               self.on_media))
        application.add_handler(CallbackQueryHandler(self.on_button, pattern=r"^ev:"))
        # Anything else a victim sends (voice, stickers, locations...): say what we can read.
        application.add_handler(MessageHandler(private & ~filters.COMMAND & ~filters.TEXT,
                                               self.on_unsupported))

    @property
    def limit_bytes(self) -> int:
        return self.deps.config.telegram.max_file_mb * _MB

    async def on_unsupported(self, update: Update, context: Ctx) -> None:
        chat, msg = update.effective_chat, update.effective_message
        if chat is None or msg is None:
            return
        await self.rt.remember(chat.id, msg.message_id)
        state = await self.rt.intake(chat.id)
        lang = state.language if state else self.rt.language_of(update.effective_user)
        await self.rt.reply(chat.id, lang, self.rt.text(lang, "tg_media_unsupported"))

    async def on_media(self, update: Update, context: Ctx) -> None:
        chat, msg = update.effective_chat, update.effective_message
        if chat is None or msg is None:
            return
        await self.rt.remember(chat.id, msg.message_id)
        state = await self.rt.intake(chat.id)
        lang = state.language if state else self.rt.language_of(update.effective_user)
        item: PhotoSize | Document
        if msg.photo:
            kind, mime, item = "photo", "image/jpeg", msg.photo[-1]
        elif msg.document is not None:
            kind, item = "document", msg.document
            mime = (msg.document.mime_type or "application/octet-stream").lower()
            if mime not in self.deps.config.telegram.document_types:
                await self.rt.reply(chat.id, lang, self.rt.text(lang, "tg_media_bad_type"))
                return
        else:
            return
        if item.file_size is not None and item.file_size > self.limit_bytes:
            await self.rt.reply(chat.id, lang, self._too_big(lang))
            return
        result = await self.victim.store(update, msg.caption or f"[{kind}]", state)
        if result is None:
            return  # a re-sent update: the evidence was recorded the first time
        cid, new = result
        try:
            data = bytes(await (await self.rt.bot.get_file(item.file_id)).download_as_bytearray())
        except TelegramError as e:
            log.warning("telegram download failed", extra={"error": type(e).__name__})
            await self.rt.reply(chat.id, lang, self.rt.text(lang, "tg_media_failed"))
            data = b""
        if data and len(data) > self.limit_bytes:
            await self.rt.reply(chat.id, lang, self._too_big(lang))
            data = b""
        if data:
            await self._record(chat.id, lang, cid, kind, mime, data, item.file_id,
                               msg.caption)
        if new:
            await self.victim.after_first_message(update, cid, state)

    def _too_big(self, lang: str) -> str:
        return self.rt.text(lang, "tg_media_too_big",
                            max_mb=self.deps.config.telegram.max_file_mb)

    async def _record(self, chat_id: int, lang: str, cid: str, kind: str, mime: str,
                      data: bytes, file_id: str, caption: str | None) -> None:
        fp = await asyncio.get_running_loop().run_in_executor(None, media.fingerprint,
                                                              data, mime)
        seq = await self._latest_seq(cid)
        eid = await evidence.record(self.deps, conversation_id=cid, message_seq=seq, kind=kind,
                                    mime=mime, size_bytes=len(data), sha256=fp.sha256,
                                    pdq=fp.pdq, pdq_quality=fp.pdq_quality, location=caption)
        # The file id lets us fetch the file again if (and only if) the victim says yes.
        try:
            await self.deps.redis.set(self.deps.keys.tg_file(eid),
                                      self.rt.seal_ref(file_id, f"tg-file:{eid}"),
                                      ex=TG_FILE_CONSENT_TTL_S)
        except (RedisError, OSError) as e:
            # Redis down: the evidence is recorded and the victim still answered; a "keep it"
            # later finds no file to fetch and says so (tg_media_expired). A retry of the
            # update would find it stored and answer nothing.
            log.warning("telegram file id not held", extra={"evidence": eid,
                                                            "error": type(e).__name__})
        rows = [[(f"platform_{p}", f"ev:p:{eid}:{p}") for p in PLATFORMS[i:i + 2]]
                for i in range(0, len(PLATFORMS), 2)]
        await self.rt.reply(chat_id, lang, self.rt.text(lang, "tg_media_received"),
                          self.rt.markup(lang, rows))

    async def _latest_seq(self, conversation_id: str) -> int | None:
        async with self.deps.engine.connect() as conn:
            found = await convs.list_messages(conn, conversation_id, 0)
        return found[-1].seq if found else None

    async def _owned(self, chat_id: int, evidence_id: int) -> bool:
        """Whether the evidence belongs to this chat's conversations (buttons are not trusted)."""
        cid = await evidence.conversation_of(self.deps, evidence_id)
        if cid is None:
            return False
        async with self.deps.engine.connect() as conn:
            conv = await convs.get(conn, cid)
        mine = self.deps.keyring.pseudonymize(Channel.TELEGRAM.value, str(chat_id))
        return conv is not None and conv.pseudonym == mine

    async def on_button(self, update: Update, context: Ctx) -> None:
        q, chat = update.callback_query, update.effective_chat
        if q is None or chat is None or chat.type != "private":
            return
        state = await self.rt.intake(chat.id)
        lang = state.language if state else self.rt.language_of(update.effective_user)
        parts = (q.data or "").split(":")
        eid = _evidence_id(parts[2]) if len(parts) == 4 else None
        if eid is None or not await self._owned(chat.id, eid):
            # Button data is not trusted: anything we did not send is answered as stale
            # (never an error, which would make Telegram send the update again and again).
            await self.rt.answer(q, self.rt.text(lang, "tg_stale"))
            return
        what, choice = parts[1], parts[3]
        await self.rt.answer(q, None)
        if what == "p" and choice in PLATFORMS:
            await evidence.set_platform(self.deps, eid, choice)
            label = self.rt.labels(lang).get(f"platform_{choice}", choice)
            await self.rt.edit(q.message,
                               f"{self.rt.text(lang, 'tg_media_received')}\n\n✓ {label}")
            await self.rt.reply(chat.id, lang, self.rt.text(
                lang, "tg_media_keep", days=self.deps.config.telegram.evidence_days),
                self.rt.markup(lang, [[("keep_yes", f"ev:k:{eid}:yes"),
                                       ("keep_no", f"ev:k:{eid}:no")]]))
        elif what == "k" and choice == "yes":
            await self.rt.edit(q.message, self.rt.text(lang, await self._keep(eid)))
        elif what == "k":
            await evidence.decline(self.deps, eid)
            await self.deps.redis.delete(self.deps.keys.tg_file(eid))
            await self.rt.edit(q.message, self.rt.text(lang, "tg_media_not_kept"))

    async def _keep(self, evidence_id: int) -> str:
        """Fetch the file again and keep it sealed; the prompt name of the outcome."""
        sealed = await self.deps.redis.get(self.deps.keys.tg_file(evidence_id))
        found = await evidence.get(self.deps, evidence_id)
        if sealed is None or found is None or found.consent != evidence.PENDING:
            return "tg_media_expired"
        file_id = self.rt.open_ref(str(sealed), f"tg-file:{evidence_id}")
        try:
            data = bytes(await (await self.rt.bot.get_file(file_id)).download_as_bytearray())
        except TelegramError as e:
            log.warning("telegram download failed", extra={"error": type(e).__name__})
            return "tg_media_failed"
        if media.sha256_hex(data) != found.sha256:
            # Not the file that was fingerprinted: keep nothing rather than the wrong thing.
            log.warning("evidence file changed", extra={"evidence": evidence_id})
            return "tg_media_failed"
        await evidence.keep(self.deps, evidence_id, data)
        await self.deps.redis.delete(self.deps.keys.tg_file(evidence_id))
        return "tg_media_kept"
