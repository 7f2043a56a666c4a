"""PostgreSQL ends the app's sessions (pg_terminate_backend, as a restart or a failover does):
the next message on every channel, and the next staff action, is stored on a fresh connection.
Before, the pool handed out its dead connections one by one: the inbox's retries each took
another, and the first SMS after the restart was lost (Twilio does not resend it).

Only PostgreSQL has sessions to end; the SQLite runs are skipped. Nothing of the app is
patched: the sessions are really ended, from a connection of the test's own."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, text

from hotline.cases import conversations as convs
from hotline.cases.tables import conversations, intake_records
from hotline.metrics import REGISTRY
from hotline.stores.sql import direct
from tests.conftest import AppRunner, Database, wait_for
from tests.floor import GUARD_S, deps_of, staff, victim
from tests.helpers import Victim
from tests.pg_faults import (
    end_pool,
    end_sessions,
    fill_pool,
    inbound_count,
    outside,
    stop_jobs,
)
from tests.twilio_support import Env, env, sms_params, standin

__all__ = ["env", "standin"]  # fixtures


@pytest.fixture(autouse=True)
def _postgresql_only(database: Database) -> None:
    if database.kind != "postgresql":
        pytest.skip("PostgreSQL sessions")


async def _kill_pool(runner: AppRunner) -> None:
    await end_pool(deps_of(runner).engine)


async def test_sms_after_the_sessions_ended_is_stored_and_answered(env: Env) -> None:
    engine = deps_of(env.runner).engine
    await stop_jobs()
    await env.hooks.sms("+821012340001", "hello")
    for round_ in range(5):  # the hostile test lost 5 of 5
        await _kill_pool(env.runner)
        sid = "SM" + secrets.token_hex(16)
        answer = await env.hooks.sms(f"+82101234{round_:04d}", "someone posted my photo", sid)
        assert [m.text for m in answer.iter("Message")], "no automatic reply"
        assert await inbound_count(engine, f"sms:{sid}") == 1, round_


async def test_web_chat_after_the_sessions_ended(app_runner: AppRunner) -> None:
    await stop_jobs()
    v = Victim(await app_runner.client())
    await v.open()
    assert (await v.send("first")).status == 201
    await _kill_pool(app_runner)
    resp = await v.send("after the restart")
    assert resp.status == 201, await resp.text()
    await _kill_pool(app_runner)
    assert [m["text"] for m in (await v.state())["messages"]] == ["first", "after the restart"]


async def test_console_reply_and_close_after_the_sessions_ended(app_runner: AppRunner) -> None:
    await stop_jobs()
    mina = await staff(app_runner, "mina")
    _v, cid = await victim(app_runner)
    await _kill_pool(app_runner)
    assert await mina.take_next() == cid
    await _kill_pool(app_runner)
    resp = await mina.reply(cid, "I am here")
    assert resp.status == 201, await resp.text()
    await _kill_pool(app_runner)
    resp = await mina.close(cid)
    assert resp.status == 200, await resp.text()
    async with deps_of(app_runner).engine.connect() as conn:
        assert (await conn.execute(select(intake_records.c.conversation_id))).scalars() \
            .all() == [cid]


def _job_failures() -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "hotline_job_failures":
            total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
    return total


async def test_periodic_jobs_do_not_fail_after_the_sessions_ended(
        app_runner: AppRunner) -> None:
    """Before, the first job to run after the sessions ended met a dead connection and
    failed (started again 1 s later, logged as an error); now it runs on a fresh one."""
    deps = deps_of(app_runner)
    await victim(app_runner)
    before = _job_failures()
    for _ in range(3):
        await fill_pool(deps.engine)
        # The pool's sessions, not one a job is using at this moment (that job would fail
        # and start again: nothing can save a statement under way).
        assert await end_sessions(deps.engine, only_idle=True) > 0
        # The reconciler runs every 0.2 s here: let each job make a pass or two.
        await asyncio.sleep(1.0)
    assert _job_failures() == before
    async with deps.engine.connect() as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1


async def test_a_session_ended_before_begin_is_replaced_without_an_error(
        app_runner: AppRunner) -> None:
    """The race a restart leaves: the server has closed the pooled sessions, but the client
    has not read that yet (here its reading is held back until the moment of use), so the
    connection looks alive at checkout and fails at BEGIN. The direct path begins again on
    a fresh connection: the statement runs at the first call."""
    await stop_jobs()
    engine = deps_of(app_runner).engine
    n = await fill_pool(engine)
    held = [await engine.raw_connection() for _ in range(n)]
    drivers: list[Any] = [raw.driver_connection for raw in held]
    for d in drivers:
        d._transport.pause_reading()
    for raw in held:
        raw.close()
    assert await end_sessions(engine) >= n
    assert not any(d.is_closed() for d in drivers), "the client already saw them end"
    for d in drivers:
        d._transport.resume_reading()  # read at the next turn of the loop: inside BEGIN
    async with direct.begin(engine) as tx:
        assert await convs.find_by_provider_key(tx, "sms:none") is None
    assert all(d.is_closed() for d in drivers)


async def _first_sms(env: Env, sender: str) -> str:
    """The conversation a first SMS of `sender` opens."""
    await env.hooks.sms(sender, "hello")
    async with deps_of(env.runner).engine.connect() as conn:
        cid: str = (await conn.execute(select(conversations.c.id))).scalar_one()
    return cid


async def _hold_row(env: Env, cid: str) -> tuple[asyncpg.Connection, Any]:
    """A transaction of the test's own holding the conversation's row."""
    locker = await outside(deps_of(env.runner).engine)
    tx = locker.transaction()
    await tx.start()
    await locker.execute("SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE", cid)
    return locker, tx


async def _end_sessions_once_waiting(env: Env, locker: asyncpg.Connection) -> None:
    async def waiting_for_lock() -> bool:
        return bool(await locker.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"))

    await wait_for(waiting_for_lock)
    await end_sessions(deps_of(env.runner).engine, keep=locker)


async def test_an_sms_whose_session_ends_mid_transaction_is_stored_once(env: Env) -> None:
    """Its transaction waits for a row the test holds locked when the sessions end: the
    inbox stores it again on a fresh connection (before, its retries took dead ones)."""
    await stop_jobs()
    sender = "+821055550001"
    locker, tx = await _hold_row(env, await _first_sms(env, sender))
    try:
        sid = "SM" + secrets.token_hex(16)
        sms = asyncio.create_task(env.hooks.post("/webhooks/twilio/sms",
                                                 sms_params(sender, "are you there", sid)))
        await _end_sessions_once_waiting(env, locker)
        await tx.rollback()
        resp = await asyncio.wait_for(sms, GUARD_S)
        assert resp.status == 200, await resp.text()
    finally:
        await locker.close()
    assert await inbound_count(deps_of(env.runner).engine, f"sms:{sid}") == 1


async def test_a_staff_request_whose_session_ends_mid_transaction_is_503(env: Env) -> None:
    """A close under way when the sessions end answers 503 with Retry-After (not 500),
    changes nothing, and the counselor's second try closes the case."""
    await stop_jobs()
    mina = await staff(env.runner, "mina")
    cid = await _first_sms(env, "+821055550002")
    assert await mina.take_next() == cid
    locker, tx = await _hold_row(env, cid)
    try:
        close = asyncio.create_task(mina.close(cid))
        await _end_sessions_once_waiting(env, locker)
        await tx.rollback()
        resp = await asyncio.wait_for(close, GUARD_S)
        assert resp.status == 503, await resp.text()
        assert resp.headers["Retry-After"] == "1"
    finally:
        await locker.close()
    async with deps_of(env.runner).engine.connect() as conn:
        assert (await conn.execute(select(conversations.c.status))).scalar_one() == "active"
    resp = await mina.close(cid)
    assert resp.status == 200, await resp.text()
