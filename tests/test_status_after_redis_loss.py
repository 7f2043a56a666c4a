"""A Redis that restarts empty loses no counselor's status (SQLite and PostgreSQL, real Redis).

Consoles never re-announce their status (the heartbeat only keeps presence), so the status
each counselor chose is kept in SQL and the rebuild restores it, with a presence entry stamped
at the rebuild: the counselor is routed again at once, and a console that is really gone is
swept offline one presence timeout later, its open cases flagged to the lead. Someone who was
offline stays offline. The loss is made by deleting this test's own keys (its prefix) only.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.cases import casework, livesync, presence, router, staffing
from hotline.cases.inbox import receive
from hotline.cases.live import now_ms
from hotline.cases.tables import alerts
from hotline.deps import Deps
from hotline.domain.routing import Presence
from hotline.domain.staff import Role, Staff
from hotline.staff import accounts as staff_store
from tests.conftest import Database, RedisProcess, make_config, wait_for
from tests.service_deps import inbound, open_deps

# Short, so the sweep's timeout passes in the test; long enough for the steps in between.
TIMEOUT_S = 3


@pytest.fixture
async def deps(tmp_path: Path, database: Database, redis_server: RedisProcess
               ) -> AsyncIterator[Deps]:
    cfg = make_config(tmp_path / "data", database.url, redis_server.url,
                      routing={"mode": "offer", "presence_timeout_seconds": TIMEOUT_S})
    async with open_deps(cfg) as d:
        await livesync.rebuild(d)  # Redis as a running server has it: the epoch marker set
        yield d


async def _signed_in(deps: Deps, name: str, role: Role = Role.COUNSELOR) -> Staff:
    async with deps.engine.begin() as conn:
        sid = await staff_store.add(conn, name=name, role=role, languages=("ko", "en"),
                                    password_hash="-", at=datetime.now(UTC))
    staff = Staff(sid, name, role, ("ko", "en"))
    await presence.sign_in(deps, staff)
    return staff


async def _case(deps: Deps) -> str:
    stored = await receive(deps, inbound(address=f"+8210{secrets.randbelow(10**8):08d}"))
    return stored.conversation_id


async def _lose_redis(deps: Deps) -> None:
    """As a Redis restart without persistence, for this test's keys only."""
    found = [k async for k in deps.redis.scan_iter(match=f"{{{deps.keys.prefix}}}:*")]
    assert found
    await deps.redis.delete(*found)
    assert not await deps.live.has_epoch()


async def _sql_statuses(deps: Deps) -> dict[int, Presence]:
    async with deps.engine.connect() as conn:
        return await staff_store.presence_statuses(conn)


async def _heartbeat_ms(deps: Deps, counselor_id: int) -> float | None:
    score: float | None = await deps.redis.zscore(deps.keys.presence, str(counselor_id))
    return score


async def test_statuses_come_back_and_a_gone_console_is_swept(deps: Deps) -> None:
    mina = await _signed_in(deps, "mina")  # available; her console is gone after the outage
    jun = await _signed_in(deps, "jun")  # on a break; his console stays open
    lead = await _signed_in(deps, "lead", Role.LEAD)  # busy; console gone too
    sora = await _signed_in(deps, "sora")  # signed out
    await presence.set_status(deps, jun.id, Presence.BREAK)
    await presence.sign_out(deps, sora.id)
    held = await _case(deps)
    assert await casework.take_next(deps, mina) == held
    waiting = await _case(deps)
    assert await _sql_statuses(deps) == {mina.id: Presence.AVAILABLE, jun.id: Presence.BREAK,
                                         lead.id: Presence.BUSY, sora.id: Presence.OFFLINE}

    await _lose_redis(deps)
    # A profile write between the loss and the rebuild (a shift edge, a roster edit) must not
    # stand in for anyone's status.
    await staffing.sync_all(deps)
    assert await deps.live.status_of(mina.id) == Presence.OFFLINE
    before = now_ms()
    assert await livesync.Reconciler(deps).once() == "rebuilt"

    assert {c: await deps.live.status_of(c) for c in (mina.id, jun.id, lead.id, sora.id)} == {
        mina.id: Presence.AVAILABLE, jun.id: Presence.BREAK, lead.id: Presence.BUSY,
        sora.id: Presence.OFFLINE}
    # Present as of the rebuild (no console has beaten since); the signed-out one is not.
    for who in (mina, jun, lead):
        beat = await _heartbeat_ms(deps, who.id)
        assert beat is not None and beat >= before
    assert await _heartbeat_ms(deps, sora.id) is None
    assert await deps.live.owners() == {held: mina.id}
    # Routed again with no heartbeat since: the waiting case is offered to mina, the only one
    # available; the signed-out counselor may take nothing.
    await router.route_once(deps, with_coverage=False)
    assert await deps.live.offers() == {waiting: mina.id}
    assert (await deps.live.take_next(sora.id)).reason == "status"
    # A fresh stamp: nobody is lost yet.
    assert await presence.sweep_lost(deps) == []

    # No heartbeat from mina or the lead; jun's console beats. One timeout later the sweep
    # turns the silent ones offline and flags the case mina holds.
    lost: set[int] = set()

    async def swept() -> bool:
        await presence.beat(deps, jun.id)
        lost.update(await presence.sweep_lost(deps))
        return lost >= {mina.id, lead.id}

    await wait_for(swept, timeout=TIMEOUT_S + 10, interval=0.2)
    assert lost == {mina.id, lead.id}
    for who in (mina, lead):
        assert await deps.live.status_of(who.id) == Presence.OFFLINE
    assert await deps.live.status_of(jun.id) == Presence.BREAK
    assert await _sql_statuses(deps) == {mina.id: Presence.OFFLINE, jun.id: Presence.BREAK,
                                         lead.id: Presence.OFFLINE, sora.id: Presence.OFFLINE}
    async with deps.engine.connect() as conn:
        flagged = {(r.conversation_id, r.kind, r.reasons) for r in await conn.execute(
            select(alerts).where(alerts.c.reasons == "presence_lost"))}
    assert flagged == {(held, "lead", "presence_lost")}


async def test_a_start_after_the_loss_restores_statuses(deps: Deps) -> None:
    mina = await _signed_in(deps, "mina")
    lead = await _signed_in(deps, "lead", Role.LEAD)
    await presence.set_status(deps, lead.id, Presence.BREAK)
    sora = await _signed_in(deps, "sora")
    await presence.sign_out(deps, sora.id)
    await _lose_redis(deps)

    assert await livesync.at_start(deps) == "rebuilt"
    assert await deps.live.status_of(mina.id) == Presence.AVAILABLE
    assert await deps.live.status_of(lead.id) == Presence.BREAK
    assert await deps.live.status_of(sora.id) == Presence.OFFLINE
    assert await deps.live.present() == {mina.id, lead.id}
    case = await _case(deps)
    claimed = await deps.live.take_next(mina.id)
    assert claimed.waiting is not None and claimed.waiting.conversation_id == case
    assert (await deps.live.take_next(sora.id)).reason == "status"


async def test_a_rebuild_over_live_state_keeps_a_stale_console_stale(deps: Deps) -> None:
    """When Redis kept its data (a rebuild for drifted ownership), presence is not refreshed:
    a console that already went quiet is still swept, and the status Redis holds is kept."""
    mina = await _signed_in(deps, "mina")
    jun = await _signed_in(deps, "jun")
    await deps.live.heartbeat(mina.id, at_ms=now_ms() - TIMEOUT_S * 1000 - 5_000)
    # Redis's copy is kept even where SQL is behind it (a status change between the two writes).
    await deps.live.set_status(jun.id, Presence.BREAK)

    await livesync.rebuild(deps)
    assert await deps.live.status_of(jun.id) == Presence.BREAK
    assert await presence.sweep_lost(deps) == [mina.id]
    assert await deps.live.status_of(mina.id) == Presence.OFFLINE
