"""The staff alert bot: urgent alerts posted to Telegram with an "Acknowledge" button.

Alert events from the hub (see hotline/cases/alerts.py) go to telegram.staff_chat_id when it
is set, else to the Telegram of the person the alert targets (the on-shift takedown person, or
every lead when it reached the leads). One instance posts each alert step (a Redis claim). The
post says only the case number (the console's short id), urgency, reason codes and platform,
never anything the victim wrote. Pressing "Acknowledge" is recorded exactly like the console's
button (alerts.ack, via="telegram") for the staff member linked to the pressing Telegram user
(`hotline counselor telegram NAME ID`); every post of the alert is then marked acknowledged.
Staff find their id with /whoami. Linked staff chats never reach the victim bot.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update, User
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from hotline.cases import alerts
from hotline.cases import conversations as convs
from hotline.channels.telegram.runtime import BotRuntime
from hotline.domain.event_types import EventType
from hotline.domain.staff import Staff
from hotline.events import Event, Hub
from hotline.staff import accounts as staff_store

log = logging.getLogger("bots")

Ctx = ContextTypes.DEFAULT_TYPE


class StaffAlerts:
    def __init__(self, rt: BotRuntime) -> None:
        self.rt = rt
        self.deps = rt.deps

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        application.add_handler(CallbackQueryHandler(self.on_ack, pattern=r"^ack:[0-9]{1,9}$"))
        application.add_handler(CommandHandler("whoami", self.whoami,
                                               filters=filters.ChatType.PRIVATE), group=-1)
        # Before the victim bot (group 0): a linked staff member's chat is not a victim's.
        application.add_handler(MessageHandler(filters.ChatType.PRIVATE, self.staff_gate),
                                group=-1)

    # --- staff on Telegram ---------------------------------------------------------------

    async def staff_by_telegram(self, user_id: int) -> Staff | None:
        if not isinstance(user_id, int):
            # Never compare with None: that matched every staff member with no Telegram.
            return None
        async with self.deps.engine.connect() as conn:
            return await staff_store.by_telegram_chat(conn, user_id)

    def language(self, staff: Staff | None, user: User | None = None) -> str:
        supported = self.deps.config.languages.supported
        for lang in staff.languages if staff else ():
            if lang in supported:
                return lang
        return self.rt.language_of(user)

    async def whoami(self, update: Update, context: Ctx) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        staff = await self.staff_by_telegram(user.id)
        await self.rt.say(chat.id, self.rt.text(self.language(staff, user), "tg_staff_whoami",
                                                telegram_id=str(user.id)), track=False)
        raise ApplicationHandlerStop

    async def staff_gate(self, update: Update, context: Ctx) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        staff = await self.staff_by_telegram(user.id)
        if staff is None:
            return  # a victim: on to the victim bot
        await self.rt.say(chat.id, self.rt.text(self.language(staff), "tg_staff_hello"),
                          track=False)
        raise ApplicationHandlerStop

    async def on_ack(self, update: Update, context: Ctx) -> None:
        q, user = update.callback_query, update.effective_user
        if q is None or user is None:
            return
        alert_id = int((q.data or "ack:0").split(":")[1])
        staff = await self.staff_by_telegram(user.id)
        lang = self.language(staff, user)
        if staff is None:
            await self.rt.answer(q, self.rt.text(lang, "tg_staff_not_linked"), alert=True)
            return
        try:
            ok = await alerts.ack(self.deps, staff, alert_id, via="telegram")
        except LookupError:
            await self.rt.answer(q, self.rt.text(lang, "tg_staff_not_allowed"), alert=True)
            return
        done = "tg_staff_ack_done" if ok else "tg_staff_ack_already"
        await self.rt.answer(q, self.rt.text(lang, done), alert=True)

    # --- posting -------------------------------------------------------------------------

    async def run(self, hub: Hub, desk: Callable[[Event], Awaitable[None]] | None = None
                  ) -> None:
        """Forever: post alerts and mark acknowledged ones (errors logged, never fatal); the
        takedown desk's alert events go to `desk` (desk_alerts.py)."""
        kinds = {EventType.ALERT, EventType.ALERT_ACKED}
        if desk is not None:
            kinds.add(EventType.TAKEDOWN_ALERT)

        async def on_alert(ev: Event) -> None:
            try:
                if ev["type"] == EventType.ALERT:
                    await self.post(ev)
                elif ev["type"] == EventType.TAKEDOWN_ALERT and desk is not None:
                    await desk(ev)
                else:
                    await self.mark_acked(ev)
            except Exception as e:  # one bad alert must not stop the others
                log.warning("staff alert not posted", extra={"alert": ev.get("alert"),
                                                             "error": type(e).__name__})

        await hub.follow(lambda ev: ev.get("type") in kinds, on_alert)

    async def targets(self, ev: Event) -> list[tuple[int, str]]:
        """(chat id, language) of everyone this alert step goes to on Telegram."""
        cfg = self.deps.config
        if cfg.telegram.staff_chat_id:
            return [(cfg.telegram.staff_chat_id, cfg.languages.default)]
        target = ev.get("target")
        async with self.deps.engine.connect() as conn:
            chats = await staff_store.telegram_chats(
                conn, leads=bool(ev.get("leads")),
                staff_id=int(target) if target is not None else None)
        out = []
        for chat_id, languages in chats:
            langs = [x for x in languages if x in cfg.languages.supported]
            out.append((chat_id, langs[0] if langs else cfg.languages.default))
        return out

    async def post(self, ev: Event) -> None:
        alert_id, step = int(ev["alert"]), int(ev.get("step", 0))
        if not await self.deps.redis.set(self.deps.keys.tg_alert(alert_id, step), "1", nx=True,
                                         ex=TG_ALERT_TTL_S):
            return  # another instance posts this one
        targets = await self.targets(ev)
        if not targets:
            return
        cid = str(ev["conversation"])
        async with self.deps.engine.connect() as conn:
            found = await convs.urgency_and_answers(conn, cid)
        urgency, answers = found if found else ("?", "{}")
        platform = _platform(answers)
        await self.post_each(targets, self.deps.keys.tg_alert_posts(alert_id), f"ack:{alert_id}",
                             lambda lang: self.rt.text(
                                 lang, "tg_staff_alert", case_number=cid[:8], urgency=urgency,
                                 reasons=", ".join(ev.get("reasons") or ()) or "-",
                                 kind=str(ev.get("kind")), platform=platform or "-",
                                 link=f"{self.deps.config.server.public_url}/console/cases/{cid}"))
        log.info("staff alert posted", extra={"alert": alert_id, "step": step,
                                              "posts": len(targets)})

    async def post_each(self, targets: list[tuple[int, str]], posts: str, button: str,
                        text_in: Callable[[str], str]) -> None:
        """Post to each (chat, language) with an "Acknowledge" button sending `button`, and
        remember each post in the set `posts`, so it can be marked acknowledged later."""
        for chat_id, lang in targets:
            msg = await self.rt.say(chat_id, text_in(lang), self.rt.markup(
                lang, [[("ack", button)]]), track=False)
            if msg is not None:
                await self.deps.redis.sadd(posts, f"{chat_id}:{msg.message_id}:{lang}")
                await self.deps.redis.expire(posts, TG_ALERT_TTL_S)

    async def mark_acked(self, ev: Event) -> None:
        alert_id = int(ev["alert"])
        posts = self.deps.keys.tg_alert_posts(alert_id)
        # Claimed like a post (step -1), so one instance edits the messages.
        if not await self.deps.redis.set(self.deps.keys.tg_alert(alert_id, -1), "1", nx=True,
                                         ex=TG_ALERT_TTL_S):
            return
        for entry in await self.deps.redis.smembers(posts):
            chat, mid, lang = str(entry).split(":")
            await self.rt.edit_in(int(chat), int(mid), self.rt.text(
                lang, "tg_staff_acked", case_number=str(ev["conversation"])[:8],
                by=str(ev.get("by"))))


def _platform(raw: str) -> str | None:
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        value = json.loads(raw or "{}").get("platform")
        return value if isinstance(value, str) else None
    return None



# Alert posts are remembered for marking them acknowledged for a week.
TG_ALERT_TTL_S = 7 * 24 * 3600
