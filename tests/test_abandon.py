"""Contacts whose victim is gone (issue 13): the rule of domain/abandon.py table-tested, and
the job over the real app on SQLite and PostgreSQL: Quick exit while waiting closes the case at
once as abandoned; a web chat page gone past its deadline closes a waiting case, while an open
page keeps renewing it; SMS/Telegram silence closes a waiting case, and a held one only after
its holder was told; a victim's message undoes it; every close leaves the queue, writes an
intake record "abandoned" (no counselor when never answered) and counts in the metric."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from hotline import metrics
from hotline.cases import abandon, inbox
from hotline.cases.tables import conversations, intake_records
from hotline.config import Config
from hotline.domain import abandon as rule
from hotline.domain.abandon import AbandonConfig
from hotline.domain.conversation import Channel, Inbound, Status
from hotline.domain.errors import ConfigError
from hotline.domain.staff import Role
from hotline.prompts import Prompts
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import audit, conv, deps_of, hold_jobs, queue_ids, staff, stream_events, victim

T0 = datetime(2030, 1, 7, 9, tzinfo=UTC)
RULES = AbandonConfig(webchat_gone_minutes=5, sms_silent_hours=24, telegram_silent_hours=12,
                      holder_notice_minutes=10)
W, A, C = Status.WAITING, Status.ACTIVE, Status.CLOSED


@pytest.mark.parametrize("channel,expected", [
    (Channel.WEBCHAT, T0 + timedelta(minutes=5)), (Channel.SMS, T0 + timedelta(hours=24)),
    (Channel.TELEGRAM, T0 + timedelta(hours=12)), (Channel.VOICE, None)])
def test_each_channel_has_its_deadline(channel: Channel, expected: datetime | None) -> None:
    assert rule.deadline(channel, T0, RULES) == expected


def test_silence_can_be_switched_off_and_bad_values_name_the_key() -> None:
    assert rule.deadline(Channel.SMS, T0, AbandonConfig(sms_silent_hours=0)) is None
    with pytest.raises(ConfigError, match=r"abandoned\.webchat_gone_minutes"):
        AbandonConfig(webchat_gone_minutes=0)
    with pytest.raises(ConfigError, match=r"abandoned\.holder_notice_minutes"):
        AbandonConfig(holder_notice_minutes=True)


@pytest.mark.parametrize("status,channel,left,step,how", [
    (W, Channel.WEBCHAT, False, rule.Step.CLOSE, rule.How.PAGE_GONE),
    (W, Channel.WEBCHAT, True, rule.Step.CLOSE, rule.How.QUICK_EXIT),
    (W, Channel.SMS, False, rule.Step.CLOSE, rule.How.SILENT),
    (W, Channel.TELEGRAM, False, rule.Step.CLOSE, rule.How.SILENT),
    (A, Channel.WEBCHAT, False, rule.Step.CLEAR, rule.How.PAGE_GONE),
    (A, Channel.WEBCHAT, True, rule.Step.CLOSE, rule.How.QUICK_EXIT),
    (A, Channel.SMS, False, rule.Step.TELL, rule.How.SILENT),
    (A, Channel.TELEGRAM, True, rule.Step.CLOSE, rule.How.SILENT),
    (C, Channel.SMS, False, rule.Step.CLEAR, rule.How.SILENT),
])
def test_what_a_passed_deadline_does(status: Status, channel: Channel, left: bool,
                                     step: rule.Step, how: rule.How) -> None:
    assert rule.step(status, channel, left) is step
    assert rule.how(channel, left) is how


def test_quick_exit_closes_a_waiting_case_now_and_gives_a_holder_notice() -> None:
    assert rule.after_quick_exit(W, T0, RULES) == T0
    assert rule.after_quick_exit(A, T0, RULES) == T0 + timedelta(minutes=10)


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"})


@pytest.fixture
async def app_runner(app_runner: AppRunner) -> AppRunner:
    # The tests run the rule's sweep themselves, at the times they choose.
    await hold_jobs(deps_of(app_runner), "abandon")
    return app_runner


def _counted(channel: str, how: str) -> float:
    value: float = metrics.ABANDONED.labels(channel, how)._value.get()
    return value


async def _record(runner: AppRunner, cid: str) -> Any:
    async with deps_of(runner).engine.connect() as conn:
        return (await conn.execute(select(intake_records).where(
            intake_records.c.conversation_id == cid))).first()


async def _sweep(runner: AppRunner, at: datetime) -> int:
    return await abandon.sweep(deps_of(runner), Prompts(), at)


async def _assert_abandoned(runner: AppRunner, cid: str, how: str, counselor: int | None
                            ) -> None:
    row = await conv(runner, cid)
    assert row.status == Status.CLOSED
    rec = await _record(runner, cid)
    assert (rec.outcome, rec.counselor_id, rec.harm_type) == ("abandoned", counselor, "unknown")
    [done] = await audit(runner, "case.abandoned", cid)
    assert done["detail"]["how"] == how
    closed = [e for e in await stream_events(runner, "closed") if e["conversation"] == cid]
    assert closed[-1]["outcome"] == "abandoned"


async def test_quick_exit_while_waiting_closes_the_case_at_once(app_runner: AppRunner) -> None:
    mina = await staff(app_runner, "mina")
    v, cid = await victim(app_runner, "please help")
    before = _counted("webchat", "quick_exit")
    resp = await v.client.post("/chat/api/exit", data={"csrf": v.csrf})
    assert resp.status == 200
    await _assert_abandoned(app_runner, cid, "quick_exit", None)
    assert await queue_ids(mina) == []
    assert _counted("webchat", "quick_exit") == before + 1
    # Nothing is left for the job.
    assert await _sweep(app_runner, datetime.now(UTC) + timedelta(days=2)) == 0


async def test_a_page_gone_past_its_deadline_closes_a_waiting_chat(
        app_runner: AppRunner) -> None:
    mina = await staff(app_runner, "mina")
    _v, gone = await victim(app_runner, "first")
    _v2, held = await victim(app_runner, "second")
    assert await mina.take_next() == gone
    # The held chat's page is gone too: a held chat is not left by a closed tab alone.
    now = datetime.now(UTC)
    assert await _sweep(app_runner, now) == 0
    assert await _sweep(app_runner, now + timedelta(minutes=6)) == 2
    assert (await conv(app_runner, gone)).status == Status.ACTIVE
    await _assert_abandoned(app_runner, held, "page_gone", None)


async def test_an_open_page_keeps_its_waiting_chat(app_runner: AppRunner) -> None:
    v, cid = await victim(app_runner, "still here")
    deps = deps_of(app_runner)
    lapsed = datetime.now(UTC) - timedelta(seconds=1)
    async with deps.engine.begin() as conn:
        await conn.execute(update(conversations).where(conversations.c.id == cid)
                           .values(abandon_at=lapsed))
    resp = await v.client.get("/chat/api/events")
    assert resp.status == 200
    try:
        # The page's stream renews the deadline as it opens.
        for _ in range(200):
            async with deps.engine.connect() as conn:
                deadline = (await conn.execute(select(conversations.c.abandon_at).where(
                    conversations.c.id == cid))).scalar_one()
            if deadline > lapsed:
                break
            await asyncio.sleep(0.02)
        assert deadline > datetime.now(UTC) + timedelta(minutes=4)
        assert await _sweep(app_runner, datetime.now(UTC)) == 0
        assert (await conv(app_runner, cid)).status == Status.WAITING
    finally:
        resp.close()


async def _telegram(runner: AppRunner, chat: str, text: str, at: datetime, n: int) -> str:
    stored = await inbox.receive(deps_of(runner), Inbound(
        channel=Channel.TELEGRAM, address=chat, text=text, provider_id=f"{chat}:{n}",
        language="ko", received_at=at))
    return stored.conversation_id


async def test_silence_closes_a_waiting_case_and_tells_a_holder_first(
        app_runner: AppRunner) -> None:
    mina = await staff(app_runner, "mina", role=Role.COUNSELOR)
    now = datetime.now(UTC)
    held = await _telegram(app_runner, "1001", "도와주세요", now, 1)
    assert await mina.take_next() == held
    waiting = await _telegram(app_runner, "1002", "도와주세요", now, 1)
    silent = now + timedelta(hours=24, minutes=1)
    assert await _sweep(app_runner, silent) == 2
    await _assert_abandoned(app_runner, waiting, "silent", None)
    # The holder is told, in the transcript and live; the case stays hers for now.
    row = await conv(app_runner, held)
    assert (row.status, row.counselor_id) == (Status.ACTIVE, mina.id)
    assert row.victim_left_at is not None
    case = await mina.case(held)
    assert case["messages"][-1]["direction"] == "system"
    assert "24" in case["messages"][-1]["text"]
    left = [e for e in await stream_events(app_runner, "victim.left")
            if e["conversation"] == held]
    assert left == [{"type": "victim.left", "conversation": held, "counselor": mina.id}]
    # Inside the notice nothing more happens; after it the case closes under her.
    assert await _sweep(app_runner, silent + timedelta(minutes=5)) == 0
    assert await _sweep(app_runner, silent + timedelta(minutes=11)) == 1
    await _assert_abandoned(app_runner, held, "silent", mina.id)


async def test_a_victim_who_writes_again_is_not_gone(app_runner: AppRunner) -> None:
    mina = await staff(app_runner, "mina")
    now = datetime.now(UTC)
    cid = await _telegram(app_runner, "2001", "help", now, 1)
    assert await mina.take_next() == cid
    silent = now + timedelta(hours=24, minutes=1)
    assert await _sweep(app_runner, silent) == 1
    # They write again before the notice runs out: not gone any more, a new deadline.
    await _telegram(app_runner, "2001", "still here", silent + timedelta(minutes=1), 2)
    assert (await conv(app_runner, cid)).victim_left_at is None
    assert await _sweep(app_runner, silent + timedelta(minutes=30)) == 0
    assert (await conv(app_runner, cid)).status == Status.ACTIVE
    # A counselor's own close clears the deadline: the job never finds the case again.
    resp = await mina.close(cid)
    assert resp.status == 200, await resp.text()
    assert await _sweep(app_runner, now + timedelta(days=30)) == 0
    assert (await _record(app_runner, cid)).outcome != "abandoned"
