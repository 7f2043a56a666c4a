"""Counselor replies through the outbox to Telegram: a 429 from the Bot API is retried after
the advised delay and delivered, visibly; a blocked bot fails at once, visibly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotline.cases import conversations as convs
from hotline.domain.conversation import Direction
from hotline.prompts import Prompts
from hotline.stores.sql.engine import open_engine
from tests import telegram_standin
from tests.conftest import wait_for
from tests.helpers import Counselor, add_staff
from tests.telegram_standin import TgEnv, events_of

log_guard = telegram_standin.log_guard
standin = telegram_standin.standin
tg = telegram_standin.tg

pytestmark = pytest.mark.usefixtures("log_guard")

REPLY = "Pangolin-7781 I am here with you"


async def _active_case(tg: TgEnv) -> tuple[Counselor, str]:
    await tg.send(tg.victim.text("hello, I need someone"))
    await add_staff(tg.config, "mina")
    counselor = Counselor(await tg.runner.client())
    assert await counselor.login("mina") == 303
    return counselor, await counselor.take_next()


async def _delivery(counselor: Counselor, cid: str) -> str:
    return str((await counselor.case(cid))["messages"][-1]["delivery"])


async def test_429_is_retried_after_retry_after_and_delivered(
        tg: TgEnv, log_guard: dict[str, str]) -> None:
    log_guard.update(reply="Pangolin-7781")
    counselor, cid = await _active_case(tg)
    tg.api.fail_next("sendMessage", status=429, retry_after=1)
    assert (await counselor.reply(cid, REPLY)).status == 201

    async def sent() -> bool:
        return await _delivery(counselor, cid) == "sent"

    await wait_for(sent, timeout=20, interval=0.2)
    attempts = [p for p in tg.api.of("sendMessage") if p["text"] == REPLY]
    assert len(attempts) == 2, "one refused with 429, one accepted"
    # The counselor saw it wait: a "retrying" delivery event (rate_limited), then "sent".
    states = [(e["delivery"], e["error"]) for e in await events_of(tg.config, "delivery")
              if e["conversation"] == cid]
    assert states == [("retrying", "rate_limited"), ("sent", None)]


async def test_blocked_bot_fails_visibly_without_retries(tg: TgEnv) -> None:
    counselor, cid = await _active_case(tg)
    tg.api.fail_next("sendMessage", status=403,
                     description="Forbidden: bot was blocked by the user")
    assert (await counselor.reply(cid, REPLY)).status == 201

    async def failed() -> bool:
        return await _delivery(counselor, cid) == "failed"

    await wait_for(failed, timeout=10)
    states = [(e["delivery"], e["error"]) for e in await events_of(tg.config, "delivery")
              if e["conversation"] == cid]
    assert states == [("failed", "blocked")]
    assert len([p for p in tg.api.of("sendMessage") if p["text"] == REPLY]) == 1


async def test_the_victim_is_told_on_telegram_when_the_case_is_closed(tg: TgEnv) -> None:
    counselor, cid = await _active_case(tg)
    lang = str((await counselor.case(cid))["language"])
    assert (await counselor.close(cid)).status == 200
    expected = Prompts().render(lang, "case_closed")

    async def told() -> bool:
        return any(p["text"] == expected for p in tg.api.of("sendMessage"))

    await wait_for(told, timeout=20, interval=0.2)
    assert tg.api.texts_to(tg.victim.chat).count(expected) == 1


async def test_a_reply_that_cannot_be_unsealed_fails_visibly_and_blocks_nothing(
        tg: TgEnv) -> None:
    counselor, cid = await _active_case(tg)
    # A pending reply whose sealed body no key opens (damaged, or sealed under another key).
    engine = open_engine(tg.config.database_url)
    try:
        async with engine.begin() as conn:
            seq = await convs.next_seq(conn, cid, datetime.now(UTC))
            await convs.insert_message(conn, conversation_id=cid, seq=seq,
                                       direction=Direction.OUT, body_sealed=b"\0" * 40,
                                       at=datetime.now(UTC), counselor_id=None,
                                       delivery="pending")
    finally:
        await engine.dispose()

    async def failed() -> bool:
        # The case stays readable: the damaged line shows no text, the rest as before.
        found = {m["seq"]: m for m in (await counselor.case(cid))["messages"]}
        assert found[seq]["text"] is None
        return bool(found[seq]["delivery"] == "failed")

    await wait_for(failed, timeout=10)
    states = [(e["seq"], e["delivery"], e["error"])
              for e in await events_of(tg.config, "delivery") if e["conversation"] == cid]
    assert states == [(seq, "failed", "unreadable")]
    # The next reply goes out: replies are sent in order, and the unreadable one is done.
    assert (await counselor.reply(cid, REPLY)).status == 201

    async def sent() -> bool:
        return await _delivery(counselor, cid) == "sent"

    await wait_for(sent, timeout=10)
    assert [p["text"] for p in tg.api.of("sendMessage") if p["text"] == REPLY] == [REPLY]
