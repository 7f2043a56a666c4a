"""Flood limits and bans on Telegram, over the real app and python-telegram-bot against the Bot
API stand-in (both databases, real Redis): a chat that ends and reopens its case again and
again has every message kept, but only its limit of cases queued and moved up, then the calm
answer once; a chat flooding commands gets automatic replies only within its limit (the bot's
sending rate is shared by everyone); a banned chat gets the calm answer once and nothing of it
is stored or reaches staff, though /forget still erases it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotline.domain.conversation import Channel
from hotline.domain.staff import Role
from hotline.prompts import Prompts
from tests import telegram_standin
from tests.flood_support import URGENT, Refill
from tests.floor import staff
from tests.telegram_standin import CHAT, TgEnv, events_of, table

log_guard = telegram_standin.log_guard
standin = telegram_standin.standin
tg = telegram_standin.tg

pytestmark = pytest.mark.usefixtures("log_guard")

CALM = Prompts().render("en", "flood_calm")


async def test_a_chat_that_reopens_its_case_again_and_again_is_held_past_the_limit(
        tg: TgEnv) -> None:
    limits = tg.config.limits
    loops = limits.sender_cases_per_hour + 2
    for i in range(loops):
        await tg.send(tg.victim.text(f"{URGENT} ({i})"))
        await tg.send(tg.victim.text("/stop"))
    cases = await table(tg.config, "conversations")
    assert len(cases) == loops and {c["status"] for c in cases} == {"closed"}
    inbound = [m for m in await table(tg.config, "messages") if m["direction"] == "in"]
    assert len(inbound) == loops  # every word kept
    assert len(await events_of(tg.config, "queued")) == limits.sender_cases_per_hour
    held = [a for a in await table(tg.config, "audit_events") if a["action"] == "case.held"]
    assert len(held) == 2
    paged = [a for a in await table(tg.config, "alerts") if a["kind"] == "takedown"]
    assert len(paged) == limits.sender_escalations_burst
    assert tg.api.texts_to(CHAT).count(CALM) == 1


async def test_a_chat_flooding_commands_gets_replies_within_its_limit(tg: TgEnv) -> None:
    limits = tg.config.limits
    refill = Refill()
    for _ in range(60):
        await tg.send(tg.victim.text("/status"))
    said = tg.api.texts_to(CHAT)
    assert said.count(CALM) == 1
    assert limits.sender_replies_burst + 1 <= len(said) \
        <= limits.sender_replies_burst + 1 + refill.tokens(limits.sender_replies_per_hour)


async def test_a_banned_chat_gets_the_calm_answer_once_and_nothing_is_stored(
        tg: TgEnv) -> None:
    await tg.send(tg.victim.text("hello, I need help"))
    [case] = await table(tg.config, "conversations")
    assert case["channel"] == Channel.TELEGRAM.value
    lead = await staff(tg.runner, "lena", Role.LEAD)
    resp = await lead.post("/api/v1/bans", {
        "case": case["id"], "reason": "threats",
        "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()})
    assert resp.status == 201, await resp.text()

    said, rows = len(tg.api.texts_to(CHAT)), len(await table(tg.config, "messages"))
    queued = len(await events_of(tg.config, "message"))
    await tg.send(tg.victim.text("answer me"))
    await tg.send(tg.victim.text("/status"))
    await tg.send(tg.victim.text("/start"))
    mid, _buttons = tg.markup_of("being shared or posted")
    await tg.send(tg.victim.press("i:spreading:yes", mid))
    assert tg.api.texts_to(CHAT)[said:] == [CALM]
    assert len(tg.api.of("answerCallbackQuery")) >= 1  # the button's spinner is cleared
    assert len(await table(tg.config, "messages")) == rows
    assert len(await events_of(tg.config, "message")) == queued
    # Being erased is still everyone's right.
    await tg.send(tg.victim.text("/forget"))
    mid, _buttons = tg.markup_of("Erase everything")
    await tg.send(tg.victim.press("fg:yes", mid))
    [erased] = await table(tg.config, "conversations")
    assert erased["pseudonym"].startswith("erased:")
