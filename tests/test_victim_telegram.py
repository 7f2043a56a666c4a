"""The victim's way back on Telegram through the real bot and the Bot API stand-in (SQLite
and PostgreSQL): /case NUMBER PIN from another account in Korean and English, the next
conversation a return of the case, and a call-back asked from Telegram whose number never
reaches the transcript (docs/victim.md)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hotline.domain.conversation import Channel
from hotline.victim import selfservice
from tests import telegram_standin
from tests.conftest import AppRunner, Database, RedisProcess
from tests.floor import deps_of
from tests.telegram_standin import (
    CHAT,
    SECRET,
    TOKEN,
    BotApiStandin,
    TgEnv,
    Updates,
    stored_anywhere,
    telegram_config,
)
from tests.victim_support import REFERRALS, rows

standin = telegram_standin.standin
log_guard = telegram_standin.log_guard
pytestmark = pytest.mark.usefixtures("log_guard")

OTHER_CHAT = 5550001
_NUMBER = re.compile(r"HL-[0-9A-Z]{4}-[0-9A-Z]{4}")
CALL_NUMBER = "010 2345 6789"


@pytest.fixture
async def tg(tmp_path: Path, database: Database, redis_server: RedisProcess,
             standin: BotApiStandin, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TgEnv]:
    monkeypatch.setenv("HOTLINE_TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("HOTLINE_TELEGRAM_WEBHOOK_SECRET", SECRET)
    cfg = telegram_config(tmp_path, database, redis_server, standin, referrals=REFERRALS,
                          twilio={"phone_number": "+15005550006"})
    runner = AppRunner(cfg)
    await runner.start()
    yield TgEnv(runner, await runner.client(), standin, cfg)
    await runner.stop()


WORDS = {"ko": ("사건", "맞지 않습니다", "상담원 연결을 기다리고", "다시 상담하시려면"),
         "en": ("Case", "do not match", "waiting for a counselor", "just write your message")}


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_case_lookup_from_another_account_then_a_return(tg: TgEnv, lang: str) -> None:
    heading, wrong, waiting, hint = WORDS[lang]
    await tg.send(tg.victim.text("도와주세요 사진이 퍼졌어요"))
    await tg.send(tg.victim.text("/case"))
    said = tg.api.texts_to(CHAT)[-1]
    number = _NUMBER.search(said)
    pin = re.search(r"\b(\d{6})\b", said)
    assert number and pin
    other = Updates(chat=OTHER_CHAT, name="Other", username="other_acct", language=lang)
    await tg.send(other.text(f"/case {number.group(0)} 000000"))
    assert wrong in tg.api.texts_to(OTHER_CHAT)[-1]
    await tg.send(other.text(f"/case {number.group(0).lower()} {pin.group(1)}"))
    found = tg.api.texts_to(OTHER_CHAT)[-1]
    assert number.group(0) in found and waiting in found and hint in found
    assert heading in found
    # The case ends; the victim writes again from the other account: a return of the case.
    root = await selfservice.stop(deps_of(tg.runner), Channel.TELEGRAM, str(CHAT))
    assert root is not None
    await tg.send(other.text("it is on another channel now"))
    convs = await rows(tg.config, "conversations")
    [back] = [c for c in convs if c["id"] != root]
    assert back["return_of"] == root


async def test_callback_from_telegram(tg: TgEnv) -> None:
    await tg.send(tg.victim.text("/callback"))
    assert "Which number" in tg.api.texts_to(CHAT)[-1]
    await tg.send(tg.victim.text("not a number"))
    assert "does not look like a phone number" in tg.api.texts_to(CHAT)[-1]
    await tg.send(tg.victim.text(CALL_NUMBER))
    mid, buttons = tg.markup_of("When is it safe to call")
    assert buttons == ["cb:w:1", "cb:w:2", "cb:w:3", "cb:w:4"]
    await tg.send(tg.victim.press("cb:w:1", mid))
    mid, buttons = tg.markup_of("voice message")
    assert buttons == ["cb:m:1y", "cb:m:1n"]
    await tg.send(tg.victim.press("cb:m:1n", mid))
    [req] = await rows(tg.config, "callbacks")
    assert req["source_channel"] == "telegram" and req["leave_message"] is False
    assert req["status"] in ("scheduled", "queued")
    # The number is sealed with the request, and never a message anyone reads.
    assert [m for m in await rows(tg.config, "messages") if m["direction"] == "in"] == []
    # The whole number, typed or normalised: four digits alone turn up in random hex ids.
    for shown in ("2345 6789", "23456789"):
        assert await stored_anywhere(tg.config, shown) == []
    # A stale press changes nothing.
    await tg.send(tg.victim.press("cb:m:1y", mid))
    assert len(await rows(tg.config, "callbacks")) == 1
