"""Staff racing each other on one case, at once over real HTTP (SQLite and PostgreSQL): the
first wins, every other answer is a 409 (never a 500), and the case holds exactly what the
winners did. Before, on PostgreSQL, 20 simultaneous closes gave 19 x 500 (a unique violation
on the intake record) and a reply could be stored in a case closed under it."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from sqlalchemy import func, select

from hotline.audit.tables import audit_events
from hotline.cases.tables import intake_records, messages
from hotline.domain.staff import Role
from tests.conftest import AppRunner
from tests.floor import GUARD_S, Staffer, deps_of, hold_jobs, staff, victim
from tests.twilio_support import Env, env, standin

__all__ = ["env", "standin"]  # fixtures

N = 20
# Counselors racing for one case (each is an account and a login).
TEAM = 8


async def _all(*calls: Any) -> list[Any]:
    return list(await asyncio.wait_for(asyncio.gather(*calls), GUARD_S * 3))


def _statuses(responses: list[Any]) -> collections.Counter[int]:
    return collections.Counter(r.status for r in responses)


async def _count(runner: AppRunner, table: Any, *where: Any) -> int:
    async with deps_of(runner).engine.connect() as conn:
        n: Any = (await conn.execute(select(func.count()).select_from(table).where(*where)
                                     )).scalar_one()
    return int(n)


async def test_simultaneous_closes_one_wins_the_rest_409(app_runner: AppRunner) -> None:
    mina = await staff(app_runner, "mina")
    lead = await staff(app_runner, "lee", Role.LEAD)
    _v, cid = await victim(app_runner)
    assert await mina.take_next() == cid
    closers = [mina if i % 2 else lead for i in range(N)]
    answers = await _all(*(c.close(cid) for c in closers))
    assert _statuses(answers) == {200: 1, 409: N - 1}, [await r.text() for r in answers]
    for r in answers:
        if r.status == 409:
            assert (await r.json())["error"] == "already closed"
    assert await _count(app_runner, intake_records,
                        intake_records.c.conversation_id == cid) == 1
    assert await _count(app_runner, audit_events, audit_events.c.action == "case.closed") == 1


async def test_simultaneous_takes_of_one_case(app_runner: AppRunner) -> None:
    await hold_jobs(deps_of(app_runner), "router")  # no offer of the case to one of them
    team: list[Staffer] = [await staff(app_runner, f"c{i}") for i in range(TEAM)]
    _v, cid = await victim(app_runner)
    answers = await _all(*(s.post(f"/api/v1/cases/{cid}/take") for s in team))
    seen = _statuses(answers)
    # A case someone else holds is a 404 to a counselor (missing and forbidden look the
    # same); one still being claimed is a 409.
    assert seen[200] == 1 and seen[404] + seen[409] == TEAM - 1, [await r.text() for r in answers]
    assert await _count(app_runner, audit_events,
                        audit_events.c.action == "case.assigned") == 1


async def test_simultaneous_take_next_of_one_waiting_case(app_runner: AppRunner) -> None:
    await hold_jobs(deps_of(app_runner), "router")
    team: list[Staffer] = [await staff(app_runner, f"n{i}") for i in range(TEAM)]
    await victim(app_runner)
    answers = await _all(*(s.post("/api/v1/queue/take-next") for s in team))
    assert _statuses(answers) == {200: 1, 409: TEAM - 1}, [await r.text() for r in answers]


async def test_the_same_reply_sent_many_times_at_once_is_stored_once(
        app_runner: AppRunner) -> None:
    mina = await staff(app_runner, "mina")
    _v, cid = await victim(app_runner)
    assert await mina.take_next() == cid
    answers = await _all(*(mina.reply(cid, "I am here", client_id="same-client-id-1")
                           for _ in range(N)))
    assert _statuses(answers) == {201: N}
    assert len({(await r.json())["seq"] for r in answers}) == 1
    assert await _count(app_runner, messages, messages.c.conversation_id == cid,
                        messages.c.direction == "out") == 1


async def test_replies_racing_a_close_never_land_after_it(env: Env) -> None:
    """An SMS case: its close stores the notice to the victim as the case's last message.
    Replies sent while it closes are stored before it (201) or refused (409), never after
    the notice (the outbox would then text the victim after the goodbye)."""
    runner = env.runner
    mina = await staff(runner, "mina")
    await env.hooks.sms("+821012345678", "someone shared my photos")
    cid = await mina.take_next()
    replies = [mina.reply(cid, f"reply {i}") for i in range(N)]
    answers = await _all(mina.close(cid), *replies)
    assert answers[0].status == 200, await answers[0].text()
    assert set(_statuses(answers[1:])) <= {201, 409}
    stored = sum(1 for r in answers[1:] if r.status == 201)
    async with deps_of(runner).engine.connect() as conn:
        rows = (await conn.execute(select(messages.c.seq, messages.c.direction).where(
            messages.c.conversation_id == cid).order_by(messages.c.seq))).all()
    assert rows[-1].direction == "system", "a reply was stored after the close's notice"
    assert sum(1 for r in rows if r.direction == "out") == stored
