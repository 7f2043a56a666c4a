"""The victim-facing bot: intake by inline keyboard, messages into the one queue, commands.

Every text becomes an `Inbound` for the inbox at once (never held back by the intake); the
provider id is `<chat MAC>:<message id>`, so a re-sent update stores nothing twice. Intake
answers feed triage as they arrive. Commands: /start, /help, /status, /stop, /case (and
/case NUMBER PIN), /forget, /callback (hotline/channels/telegram/victim_callback.py).
Words come from prompts/<lang>/tg_*.txt; logs carry ids and codes only. See docs/telegram.md.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from hotline.cases import conversations as convs
from hotline.cases import inbox, urgency, waitinfo
from hotline.channels.telegram import intake
from hotline.channels.telegram.intake import IntakeState, Step
from hotline.channels.telegram.runtime import BotRuntime
from hotline.channels.telegram.victim_callback import CallbackFlow
from hotline.domain.conversation import Channel, Inbound
from hotline.limits import flood
from hotline.victim import casecode, forget, selfservice, victimcase

log = logging.getLogger("bots")

Ctx = ContextTypes.DEFAULT_TYPE
PRIVATE = filters.ChatType.PRIVATE


def _forgetting(update: Update) -> bool:
    """The /forget command or its confirmation buttons."""
    if update.callback_query is not None:
        return (update.callback_query.data or "").startswith("fg:")
    msg = update.effective_message
    words = (msg.text or "").split() if msg is not None else []
    return bool(words) and words[0].split("@")[0] == "/forget"


class VictimBot:
    def __init__(self, rt: BotRuntime) -> None:
        self.rt = rt
        self.deps = rt.deps
        # The call-back dialogue (telegram/victim_callback.py): it takes the typed number.
        self.callbacks: CallbackFlow | None = None

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        # Before every other handler (the staff bot's gate is group -1): a banned chat goes no
        # further.
        application.add_handler(TypeHandler(Update, self.gate), group=-2)
        commands = {"start": self.start, "help": self.help, "status": self.status,
                    "stop": self.stop, "case": self.case, "forget": self.forget}
        for name, fn in commands.items():
            application.add_handler(CommandHandler(name, fn, filters=PRIVATE))
        application.add_handler(CallbackQueryHandler(self.on_intake, pattern=r"^i:"))
        application.add_handler(CallbackQueryHandler(self.on_forget, pattern=r"^fg:"))
        application.add_handler(MessageHandler(PRIVATE & filters.TEXT & ~filters.COMMAND,
                                               self.on_text))

    async def gate(self, update: Update, context: Ctx) -> None:
        """A banned chat (docs/limits.md): nothing stored, nothing staff see; the calm answer
        now and then, a pressed button's spinner cleared. /forget still works: being erased
        is everyone's right, and it leaves nothing for staff to see."""
        chat = update.effective_chat
        if chat is None or chat.type != "private" or _forgetting(update):
            return
        sender = self.rt.sender(chat.id)
        if not flood.banned(self.deps, sender=sender):
            return
        if update.callback_query is not None:
            await self.rt.answer(update.callback_query, None)
        elif await flood.ban_notice(self.deps, sender):
            await self.rt.say(chat.id, self.rt.text(self._lang(update), "flood_calm"))
        raise ApplicationHandlerStop

    # --- helpers -------------------------------------------------------------------------

    def _lang(self, update: Update, state: IntakeState | None = None) -> str:
        return state.language if state else self.rt.language_of(update.effective_user)

    async def _open_conversation(self, chat_id: int) -> convs.ConversationRow | None:
        pseudonym = self.deps.keyring.pseudonymize(Channel.TELEGRAM.value, str(chat_id))
        async with self.deps.engine.connect() as conn:
            return await convs.find_open(conn, Channel.TELEGRAM, pseudonym)

    async def status_text(self, chat_id: int, lang: str) -> str:
        """What /status says: the waiting message, or the counselor's reply state."""
        st = await selfservice.status(self.deps, Channel.TELEGRAM, str(chat_id))
        lang = st.language or lang
        if st.state == "waiting":
            if st.wait is not None:
                return self.rt.text(lang, "wait_status", **st.wait.prompt_values())
            return self.rt.text(lang, "tg_queued")
        if st.state == "active":
            extra = {"sending": "tg_status_sending", "failed": "tg_status_failed"}.get(st.reply)
            text = self.rt.text(lang, "tg_status_active")
            return f"{text}\n\n{self.rt.text(lang, extra)}" if extra else text
        return self.rt.text(lang, "tg_status_none")

    async def _queued(self, chat_id: int, conversation_id: str, lang: str) -> None:
        """Tell a victim who just joined the queue where they stand (same words everywhere)."""
        info = await waitinfo.wait_info(self.deps, conversation_id)
        text = self.rt.text(lang, "tg_queued")
        if info is not None:
            text = f"{text}\n\n{self.rt.text(lang, 'wait_status', **info.prompt_values())}"
        await self.rt.reply(chat_id, lang, text)

    async def ask(self, chat_id: int, state: IntakeState) -> None:
        langs = self.deps.config.languages.supported
        await self.rt.reply(chat_id, state.language,
                            self.rt.text(state.language, intake.QUESTION[state.step]),
                            self.rt.markup(state.language, intake.keyboard(state.step, langs)))

    async def store(self, update: Update, text: str, state: IntakeState | None
                    ) -> tuple[str, bool] | None:
        """Hand one victim message to the inbox; (conversation, is new), None if duplicate."""
        msg, chat_id = update.effective_message, update.effective_chat
        assert msg is not None and chat_id is not None
        lang = self._lang(update, state)
        inbound = Inbound(channel=Channel.TELEGRAM, address=str(chat_id.id), text=text,
                          provider_id=f"{self.rt.chat_ref(chat_id.id)}:{msg.message_id}",
                          # Our clock, never the sender's `date` (webhook: telegram_update).
                          language=lang, received_at=datetime.now(UTC), keep_contact=True)
        pseudonym = self.deps.keyring.pseudonymize(Channel.TELEGRAM.value, inbound.address)
        try:
            stored = await inbox.receive(self.deps, inbound,
                                         answers=state.answers() if state else None,
                                         pseudonym=pseudonym,
                                         claim=self.deps.keys.case_return(pseudonym))
        except inbox.MessageTooLong:
            await self.rt.reply(chat_id.id, lang, self.rt.text(
                lang, "tg_too_long", max_chars=self.deps.config.privacy.max_message_chars))
            return None
        if stored.duplicate:
            return None
        if stored.held:
            await self._held(chat_id.id, lang, stored.calm_due)
            return None
        if stored.new_conversation:
            # After /case NUMBER PIN the chat's next conversation is a return of that case.
            await victimcase.claim_return(self.deps, inbound, stored.conversation_id, lambda n: (
                self.rt.text(lang, "victim/marker_return", number=n)), stored)
        if stored.new_conversation and state is not None and state.answered:
            # Keep the answers with the case (the console and the intake record read them).
            await urgency.set_answers(self.deps, stored.conversation_id, state.answers())
        return stored.conversation_id, stored.new_conversation

    async def _held(self, chat_id: int, lang: str, calm_due: bool) -> None:
        """A new case held by the chat's flood limit: its words are kept; the calm answer
        goes out once, no questions follow."""
        await self.rt.save_intake(chat_id, None)
        if calm_due:
            await self.rt.say(chat_id, self.rt.text(lang, "flood_calm"))

    async def after_first_message(self, update: Update, conversation_id: str,
                                  state: IntakeState | None) -> None:
        """A new conversation: the waiting message, and the questions while they wait."""
        chat = update.effective_chat
        msg = update.effective_message
        assert chat is not None and msg is not None
        lang = self._lang(update, state)
        await self._queued(chat.id, conversation_id, lang)
        if state is None:
            state = intake.begin(lang, msg.message_id, ask_language=False)
            await self.rt.save_intake(chat.id, state)
            await self.ask(chat.id, state)

    # --- messages ------------------------------------------------------------------------

    async def on_text(self, update: Update, context: Ctx) -> None:
        msg, chat = update.effective_message, update.effective_chat
        if msg is None or chat is None or msg.text is None:
            return
        await self.rt.remember(chat.id, msg.message_id)
        if self.callbacks is not None and await self.callbacks.take_text(update):
            return  # the number to call back: never a message to a counselor
        state = await self.rt.intake(chat.id)
        result = await self.store(update, msg.text, state)
        if result is not None and result[1]:
            await self.after_first_message(update, result[0], state)

    # --- commands ------------------------------------------------------------------------

    async def start(self, update: Update, context: Ctx) -> None:
        msg, chat = update.effective_message, update.effective_chat
        if msg is None or chat is None:
            return
        await self.rt.remember(chat.id, msg.message_id)
        lang = self._lang(update)
        await self.rt.reply(chat.id, lang, self.rt.text(lang, "tg_welcome"))
        if await self._open_conversation(chat.id) is not None:
            await self.rt.reply(chat.id, lang, await self.status_text(chat.id, lang))
            return
        state = intake.begin(lang, msg.message_id)
        await self.rt.save_intake(chat.id, state)
        await self.ask(chat.id, state)

    async def help(self, update: Update, context: Ctx) -> None:
        await self._reply(update, "tg_help")

    async def status(self, update: Update, context: Ctx) -> None:
        chat = update.effective_chat
        if chat is None or update.effective_message is None:
            return
        await self.rt.remember(chat.id, update.effective_message.message_id)
        state = await self.rt.intake(chat.id)
        lang = self._lang(update, state)
        await self.rt.reply(chat.id, lang, await self.status_text(chat.id, lang))

    async def stop(self, update: Update, context: Ctx) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        state = await self.rt.intake(chat.id)
        await self.rt.save_intake(chat.id, None)
        ended = await selfservice.stop(self.deps, Channel.TELEGRAM, str(chat.id))
        await self._reply(update, "tg_stop_done" if ended else "tg_stop_none", state)

    async def case(self, update: Update, context: Ctx) -> None:
        """/case: a case number and a new PIN; /case NUMBER PIN: that case in plain words."""
        chat = update.effective_chat
        if chat is None:
            return
        args = list(context.args or [])
        if args:
            await self._remember_command(update)
            lang = self._lang(update, await self.rt.intake(chat.id))
            text = await self._lookup(chat.id, " ".join(args[:-1]), args[-1], lang)
            await self.rt.reply(chat.id, lang, text)
            return
        pseudonym = self.deps.keyring.pseudonymize(Channel.TELEGRAM.value, str(chat.id))
        async with self.deps.engine.connect() as conn:
            conv = await convs.latest_for(conn, Channel.TELEGRAM, pseudonym)
        if conv is None:
            await self._reply(update, "tg_case_none")
            return
        issued = await casecode.issue(self.deps, conv.id)
        await self._reply(update, "tg_case", None, case_number=issued.case_number,
                          pin=issued.pin)

    async def _lookup(self, chat_id: int, number: str, pin: str, lang: str) -> str:
        sender = self.rt.sender(chat_id)
        try:
            view = await casecode.lookup(self.deps, number, pin, client=sender, sender=sender)
        except casecode.ClientLimited:
            return self.rt.text(lang, "victim/case_lookup_limited")
        except casecode.Locked:
            return self.rt.text(lang, "victim/case_lookup_locked")
        if view is None:
            return self.rt.text(lang, "victim/case_lookup_wrong")
        summary = await victimcase.summary(self.deps, view)
        await victimcase.remember_return(self.deps, Channel.TELEGRAM, str(chat_id),
                                         view.conversation_id)
        lines = victimcase.describe(self.rt.prompts, lang, summary)
        return "\n".join([*lines, self.rt.text(lang, "victim/case_return_hint")])

    async def forget(self, update: Update, context: Ctx) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        lang = self._lang(update, await self.rt.intake(chat.id))
        await self._remember_command(update)
        await self.rt.reply(chat.id, lang, self.rt.text(lang, "tg_forget_confirm"), self.rt.markup(
            lang, [[("forget_yes", "fg:yes"), ("forget_no", "fg:no")]]))

    async def _remember_command(self, update: Update) -> None:
        if update.effective_chat and update.effective_message:
            await self.rt.remember(update.effective_chat.id, update.effective_message.message_id)

    async def _reply(self, update: Update, name: str, state: IntakeState | None = None,
                     **values: Any) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        await self._remember_command(update)
        if state is None:
            state = await self.rt.intake(chat.id)
        lang = self._lang(update, state)
        await self.rt.reply(chat.id, lang, self.rt.text(lang, name, **values))

    # --- buttons -------------------------------------------------------------------------

    async def on_intake(self, update: Update, context: Ctx) -> None:
        q, chat = update.callback_query, update.effective_chat
        if q is None or chat is None or chat.type != "private":
            return
        parsed = intake.parse_callback(q.data or "")
        state = await self.rt.intake(chat.id)
        lang = self._lang(update, state)
        if parsed is None or state is None:
            await self.rt.answer(q, self.rt.text(lang, "tg_stale"))
            return
        step, choice = parsed
        try:
            new = intake.apply(state, step, choice, self.deps.config.languages.supported)
        except (intake.Stale, intake.Invalid):
            await self.rt.answer(q, self.rt.text(lang, "tg_stale"))
            return
        await self.rt.answer(q, None)
        label = self.rt.labels(new.language).get(intake.button_code(step, choice), choice)
        question = self.rt.text(new.language, intake.QUESTION[step])
        await self.rt.edit(q.message, f"{question}\n\n✓ {label}")
        conv = await self._open_conversation(chat.id)
        if conv is not None and step == Step.LANGUAGE:
            # They wrote before choosing: the case moves to the language they chose.
            await selfservice.set_language(self.deps, Channel.TELEGRAM, str(chat.id),
                                           new.language)
        elif conv is not None:
            await urgency.set_answers(self.deps, conv.id, new.answers())
        if new.step != Step.DONE:
            await self.rt.save_intake(chat.id, new)
            await self.ask(chat.id, new)
            return
        await self.rt.save_intake(chat.id, None)
        await self.finish(update, new, conv)

    async def finish(self, update: Update, state: IntakeState,
                     conv: convs.ConversationRow | None) -> None:
        """The intake is over: its answers go into the conversation, which joins the queue."""
        chat = update.effective_chat
        assert chat is not None
        labels = self.rt.labels(state.language)
        none = labels.get("not_answered", "-")
        codes = intake.summary_codes(state)
        summary = self.rt.text(state.language, "tg_intake_record", **{
            k: labels.get(v, v) if v else none for k, v in codes.items()})
        inbound = Inbound(channel=Channel.TELEGRAM, address=str(chat.id), text=summary,
                          provider_id=f"{self.rt.chat_ref(chat.id)}:intake:{state.origin}",
                          language=state.language,
                          received_at=datetime.now(UTC), keep_contact=True)
        stored = await inbox.receive(self.deps, inbound, answers=state.answers())
        if stored.duplicate:
            return
        if stored.held:
            await self._held(chat.id, state.language, stored.calm_due)
            return
        await urgency.set_answers(self.deps, stored.conversation_id, state.answers())
        if conv is None:
            await self._queued(chat.id, stored.conversation_id, state.language)
        else:
            await self.rt.reply(chat.id, state.language,
                                await self.status_text(chat.id, state.language))

    async def on_forget(self, update: Update, context: Ctx) -> None:
        q, chat = update.callback_query, update.effective_chat
        if q is None or chat is None or chat.type != "private":
            return
        lang = self._lang(update, await self.rt.intake(chat.id))
        if q.data != "fg:yes":
            await self.rt.answer(q, None)
            await self.rt.edit(q.message, self.rt.text(lang, "tg_forget_cancelled"))
            return
        await self.rt.answer(q, None)
        erased = await forget.erase_sender(self.deps, Channel.TELEGRAM, str(chat.id))
        for eid in erased.evidence_ids:
            await self.deps.redis.delete(self.deps.keys.tg_file(eid))
        ids = set(await self.rt.remembered(chat.id))
        if isinstance(q.message, Message):
            ids.add(q.message.message_id)
        deleted = 0
        for mid in sorted(ids):
            try:
                if await self.rt.bot.delete_message(chat_id=chat.id, message_id=mid,
                                                    rate_limit_args=3):
                    deleted += 1
            except TelegramError:
                pass  # older than 48 hours, or already gone: Telegram does not allow it
        await self.rt.forget_chat_keys(chat.id)
        log.info("telegram chat forgotten", extra={"conversations": len(erased.conversations),
                                                   "deleted": deleted, "tried": len(ids)})
        await self.rt.say(chat.id, self.rt.text(lang, "tg_forget_done"), track=False)

