"""The reconciler (hotline/cases/livesync.py) on SQLite and PostgreSQL with a real Redis:
a case SQL has closed but whose Redis release failed (casework.close, callback.abandon,
selfservice.stop and forget log "reconciler will fix it") is released in Redis once two
passes in a row see it: its queue entry, offer or ownership goes, and the counselor's load and
call flag are freed. A case opened between a pass's SQL read and its Redis read is not
touched, nor is any open case.

The drift is made directly in SQL and Redis: a case is queued, offered or claimed through the
live store, then closed by the SQL half of closing only."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hotline.cases import conversations as convs
from hotline.cases import livesync
from hotline.cases.inbox import receive
from hotline.cases.live_records import StaffProfile, Waiting
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Urgency
from hotline.domain.routing import Presence, StaffState
from hotline.domain.staff import Role
from hotline.staff import accounts as staff_store
from tests.conftest import Database, RedisProcess, make_config
from tests.live_reads import unassigned
from tests.service_deps import inbound, open_deps


@pytest.fixture
async def deps(tmp_path: Path, database: Database, redis_server: RedisProcess
               ) -> AsyncIterator[Deps]:
    cfg = make_config(tmp_path / "data", database.url, redis_server.url)
    async with open_deps(cfg) as d:
        await livesync.rebuild(d)  # the epoch marker: a pass repairs instead of rebuilding
        yield d


async def _counselor(deps: Deps, name: str) -> int:
    """A counselor in SQL and in Redis: on shift, available, present, every channel."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        sid = await staff_store.add(conn, name=name, role=Role.COUNSELOR, languages=("ko",),
                                    password_hash="-", at=now)
    await deps.live.put_staff(StaffProfile(sid, 0, 2**50, 3, ("ko",),
                                           tuple(c.value for c in Channel), ()))
    await deps.live.set_status(sid, Presence.AVAILABLE)
    await deps.live.heartbeat(sid)
    return sid


async def _case(deps: Deps, channel: Channel = Channel.SMS) -> str:
    """A new waiting case: in SQL and in the live queue, as the inbox leaves it."""
    stored = await receive(deps, inbound(address=f"+8210{secrets.randbelow(10**8):08d}",
                                         channel=channel))
    return stored.conversation_id


async def _claim(deps: Deps, cid: str, sid: int) -> None:
    """A claim, both halves: Redis, then SQL."""
    assert (await deps.live.claim(cid, sid)).ok
    async with deps.engine.begin() as conn:
        assert await convs.assign(conn, cid, sid, datetime.now(UTC))


async def _close_in_sql(deps: Deps, cid: str) -> None:
    """Closing's SQL half only: as when the Redis release after the commit failed."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        assert await convs.close(conn, cid, now, purge_contact_at=now + timedelta(days=1),
                                 purge_transcript_at=now + timedelta(days=1))


async def _pass(reconciler: livesync.Reconciler) -> str:
    """One reconciler pass now (the job lock of the previous one is let go, as its expiry
    would after storage.reconcile_seconds)."""
    await reconciler.deps.redis.delete(reconciler.deps.keys.job_lock("reconcile"))
    return await reconciler.once()


async def _agent(deps: Deps, sid: int) -> StaffState:
    [state] = [a for a in await deps.live.staff_states() if a.id == sid]
    return state


async def test_closed_cases_are_released_after_two_passes(deps: Deps) -> None:
    ann = await _counselor(deps, "ann")
    bo = await _counselor(deps, "bo")
    # Closed in SQL, still in Redis: a queued chat, a voice call ann holds, an offer to bo.
    queued = await _case(deps)
    call = await _case(deps, Channel.VOICE)
    await _claim(deps, call, ann)
    offered = await _case(deps)
    assert (await deps.live.offer(offered, bo, 2**50)).ok
    # Open, and must stay as they are: a waiting chat and a chat bo holds.
    waiting = await _case(deps)
    held = await _case(deps)
    await _claim(deps, held, bo)
    for cid in (queued, call, offered):
        await _close_in_sql(deps, cid)

    assert await deps.live.owners() == {call: ann, held: bo}
    assert await deps.live.loads() == {ann: 1, bo: 2}
    assert (await _agent(deps, ann)).on_call

    reconciler = livesync.Reconciler(deps)
    # One pass only suspects: a case might have opened between its SQL and Redis reads.
    assert await _pass(reconciler) == "ok"
    assert {w.conversation_id for w in await deps.live.waiting()} == {queued, waiting}
    assert await deps.live.owners() == {call: ann, held: bo}
    assert await deps.live.offers() == {offered: bo}

    assert await _pass(reconciler) == "repaired:3"
    assert [w.conversation_id for w in await deps.live.waiting()] == [waiting]
    assert await deps.live.owners() == {held: bo}
    assert await deps.live.offers() == {}
    assert await deps.live.expired_offers(2**50) == []
    assert await deps.live.loads() == {bo: 1}
    ann_now = await _agent(deps, ann)
    assert (ann_now.load, ann_now.on_call) == (0, False)
    assert {w.conversation_id for w, _ in await unassigned(deps.live)} == {waiting}
    # Nothing of the closed cases is left behind, not even their queue metadata.
    left: Any = await deps.redis.hgetall(deps.keys.queue_meta)
    assert set(left) == {waiting, held}

    # ann is free again: the next call can reach her.
    after = await _case(deps, Channel.VOICE)
    assert (await deps.live.claim(after, ann)).ok

    assert await _pass(reconciler) == "ok"
    assert await deps.live.owners() == {held: bo, after: ann}


async def test_a_case_opened_between_the_reads_is_kept(deps: Deps) -> None:
    """A pass that reads SQL just before a new case commits, and Redis just after it was
    queued, sees the case in Redis only. The next pass finds it in SQL and keeps it."""
    cid = convs.new_conversation_id()
    now = datetime.now(UTC)
    await deps.live.enqueue(Waiting(cid, Channel.SMS, "ko", Urgency.NORMAL,
                                    int(now.timestamp() * 1000)))
    reconciler = livesync.Reconciler(deps)
    assert await _pass(reconciler) == "ok"
    async with deps.engine.begin() as conn:
        await convs.insert_conversation(conn, conversation_id=cid, channel=Channel.SMS,
                                        pseudonym="p-" + cid, language="ko",
                                        urgency=Urgency.NORMAL, at=now)
    for _ in range(2):
        assert await _pass(reconciler) == "ok"
        assert [w.conversation_id for w in await deps.live.waiting()] == [cid]
