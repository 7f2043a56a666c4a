"""The takedown desk's alerts on Telegram: an overdue request or a re-upload pages the
takedown staff on shift one at a time, then the leads (hotline.takedown.deadlines); each step
is posted, like a case alert, to telegram.staff_chat_id when set, else to the Telegram of the
person paged (or every lead), with an "Acknowledge" button recorded exactly as the desk's
console button (deadlines.ack: audited `takedown.alert.acked`). The post names the request,
its platform, route and due time and links the request page: never a location or anything a
victim sent. One instance posts each step (a Redis claim). See docs/telegram.md.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from hotline.channels.telegram.runtime import BotRuntime
from hotline.channels.telegram.staff_bot import TG_ALERT_TTL_S, StaffAlerts
from hotline.domain.policy import DeskNotFound
from hotline.events import Event
from hotline.takedown import deadlines
from hotline.takedown.desk import Desk
from hotline.web.i18n import local_time

log = logging.getLogger("bots")

Ctx = ContextTypes.DEFAULT_TYPE
ACK = "dack:"


class DeskAlerts:
    def __init__(self, rt: BotRuntime, staff: StaffAlerts) -> None:
        self.rt = rt
        self.deps = rt.deps
        self.staff = staff
        self.desk = Desk(rt.deps, rt.prompts)

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        application.add_handler(CallbackQueryHandler(self.on_ack, pattern=r"^dack:[0-9]{1,9}$"))

    async def on_event(self, ev: Event) -> None:
        if ev.get("acked"):
            await self.mark_acked(ev)
        else:
            await self.post(ev)

    async def post(self, ev: Event) -> None:
        alert_id, step = int(ev["alert"]), int(ev.get("step", 0))
        if not await self.deps.redis.set(self.deps.keys.tg_desk_alert(alert_id, step), "1",
                                         nx=True, ex=TG_ALERT_TTL_S):
            return  # another instance posts this one
        targets = await self.staff.targets(ev)
        facts = await deadlines.alert_facts(self.desk, int(ev["request"]))
        if not targets or facts is None:
            return
        reason = "reupload" if ev.get("reason") == "reupload" else "overdue"
        link = (f"{self.deps.config.server.public_url}/console/takedown/requests/"
                f"{facts.request_id}")
        due = local_time(facts.due_at, ZoneInfo(self.deps.config.roster.timezone))
        await self.staff.post_each(
            targets, self.deps.keys.tg_desk_alert_posts(alert_id), f"{ACK}{alert_id}",
            lambda lang: self.rt.text(
                lang, f"tg_desk_alert_{reason}", request=str(facts.request_id),
                item=str(facts.item_id), platform=facts.platform_in(lang), route=facts.route,
                due=due, link=link))
        log.info("desk alert posted", extra={"alert": alert_id, "step": step,
                                             "posts": len(targets)})

    async def mark_acked(self, ev: Event) -> None:
        alert_id = int(ev["alert"])
        if not await self.deps.redis.set(self.deps.keys.tg_desk_alert(alert_id, -1), "1",
                                         nx=True, ex=TG_ALERT_TTL_S):
            return
        for entry in await self.deps.redis.smembers(
                self.deps.keys.tg_desk_alert_posts(alert_id)):
            chat, mid, lang = str(entry).split(":")
            await self.rt.edit_in(int(chat), int(mid), self.rt.text(
                lang, "tg_desk_alert_acked", request=str(ev.get("request"))))

    async def on_ack(self, update: Update, context: Ctx) -> None:
        q, user = update.callback_query, update.effective_user
        if q is None or user is None:
            return
        alert_id = int((q.data or "dack:0").split(":")[1])
        staff = await self.staff.staff_by_telegram(user.id)
        lang = self.staff.language(staff, user)
        if staff is None:
            await self.rt.answer(q, self.rt.text(lang, "tg_staff_not_linked"), alert=True)
            return
        try:
            ok = await deadlines.ack(self.desk, staff, alert_id)
        except DeskNotFound:
            await self.rt.answer(q, self.rt.text(lang, "tg_staff_not_allowed"), alert=True)
            return
        done = "tg_staff_ack_done" if ok else "tg_staff_ack_already"
        await self.rt.answer(q, self.rt.text(lang, done), alert=True)
