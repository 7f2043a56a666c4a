"""Two real `hotline serve` processes sharing one Redis and one database, in pull mode: many
counselors press "take next" at once on both, and no case goes to two people, nobody goes over
capacity, every case that can be taken is, and Redis ends in agreement with SQL.

Each process gets its own config.toml and port; both get the same HOTLINE_SECRET_KEY (so a
counselor's session, kept in SQL, works on either), the same redis_url and key prefix (the test's
private redis-server) and the same database: a fresh PostgreSQL database (skipped where none
answers, a failure under CI=true) and a shared SQLite file.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from hotline.audit.tables import audit_events
from hotline.cases.tables import conversations
from hotline.domain.conversation import Status
from hotline.stores.live.keys import Keys
from hotline.stores.sql.engine import open_engine
from tests.conftest import RedisProcess, make_config
from tests.helpers import Counselor, Victim, add_staff
from tests.local_servers import (
    PG_HOST,
    PG_PORT,
    pg_admin,
    pg_database_name,
    pg_reachable,
    pg_url,
)
from tests.serve import At, Instance, browser

COUNSELORS = 20
CHATS = 80
MAX_CHATS = 3  # the counselors table's default
MAX_ROUNDS = 8
# A plain first message: no triage signal, so every case waits at "normal".
TEXT = "hello, someone posted a picture of me and I would like to talk to a counselor"


@pytest.fixture(params=["postgresql", "sqlite"])
async def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """One database both processes use: a fresh PostgreSQL database, or a shared SQLite file."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'shared' / 'hotline.db'}"
        return
    if not pg_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI but {PG_HOST}:{PG_PORT} does not answer")
        pytest.skip(f"no PostgreSQL at {PG_HOST}:{PG_PORT}")
    name = pg_database_name("hotline_test")
    await pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url(name)
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _new_chat(base: str, i: int) -> None:
    """One victim: open the chat page on one instance, send a first message."""
    async with browser() as session:
        victim = Victim(At(session, base))  # type: ignore[arg-type]
        lang = ("ko", "en")[i % 2]
        await victim.open(lang)
        async with await victim.send(TEXT, lang=lang) as resp:
            assert resp.status == 201, await resp.text()


async def _take_next(counselor: Counselor) -> tuple[int, dict[str, Any]]:
    async with await counselor.post("/api/v1/queue/take-next") as resp:
        return resp.status, await resp.json()


async def test_two_instances_share_the_queue(tmp_path: Path, shared_database: str,
                                             private_redis: RedisProcess,
                                             instances: list[Instance]) -> None:
    prefix = f"t{secrets.token_hex(5)}"
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    # Accounts first: add_staff brings the schema up to date, so the two servers start on a
    # migrated database and never race each other's migrations.
    staff_cfg = make_config(tmp_path / "staff-data", shared_database, private_redis.url)
    names = [f"counselor{i:02d}" for i in range(COUNSELORS)]
    # One at a time: add_staff runs alembic, whose context is not safe to run concurrently.
    ids = {name: await add_staff(staff_cfg, name) for name in names}

    for name in ("a", "b"):
        instances.append(Instance(tmp_path, name, shared_database, private_redis.url, prefix,
                                  secret))
    a, b = instances
    browsers: list[aiohttp.ClientSession] = []
    redis = Redis.from_url(private_redis.url, decode_responses=True)
    engine = open_engine(shared_database)
    try:
        for inst in instances:
            inst.start()
        async with browser() as probe:
            await asyncio.gather(*(inst.wait_ready(probe) for inst in instances))

        # 80 victims, half on each instance, ten at a time.
        gate = asyncio.Semaphore(10)

        async def chat(i: int) -> None:
            async with gate:
                await _new_chat(instances[i % 2].url, i)

        await asyncio.wait_for(asyncio.gather(*(chat(i) for i in range(CHATS))), 240)
        keys = Keys(prefix)
        async with engine.connect() as conn:
            waiting = {r.id for r in await conn.execute(
                select(conversations.c.id).where(conversations.c.status == Status.WAITING))}
        assert len(waiting) == CHATS
        assert set(await redis.zrange(keys.queue, 0, -1)) == waiting

        # Every counselor logs in (alternating instances); their one browser then presses
        # "take next" on both instances at once, all counselors together, round after round.
        pairs: list[tuple[int, Counselor, Counselor]] = []
        for i, name in enumerate(names):
            session = browser()
            browsers.append(session)
            first, second = (a, b) if i % 2 == 0 else (b, a)
            pairs.append((ids[name],
                          Counselor(At(session, first.url)),  # type: ignore[arg-type]
                          Counselor(At(session, second.url))))  # type: ignore[arg-type]
        logins = await asyncio.wait_for(asyncio.gather(
            *(on_first.login(name) for name, (_, on_first, _) in zip(names, pairs, strict=True))),
            120)
        assert logins == [303] * COUNSELORS
        for _, on_first, on_second in pairs:
            on_second.csrf = on_first.csrf  # the session (and its CSRF token) lives in SQL

        answers: list[tuple[int, str]] = []
        refusals: Counter[str] = Counter()
        served_by: Counter[str] = Counter()
        for _round in range(MAX_ROUNDS):
            who = [(cid, c) for cid, on_first, on_second in pairs
                   for c in (on_first, on_second)]
            results = await asyncio.wait_for(
                asyncio.gather(*(_take_next(c) for _, c in who)), 120)
            got = 0
            for (cid, c), (status, body) in zip(who, results, strict=True):
                if status == 200:
                    answers.append((cid, body["conversation"]))
                    served_by[c.client.base] += 1  # type: ignore[attr-defined]
                    got += 1
                else:
                    assert status == 409, (status, body)
                    refusals[body.get("reason", "")] += 1
            if got == 0:
                break

        # No case was handed out twice, and the answers are what SQL recorded.
        taken = [conv for _, conv in answers]
        assert len(taken) == len(set(taken)), "a case was given to two counselors"
        per_counselor = Counter(cid for cid, _ in answers)
        assert max(per_counselor.values()) <= MAX_CHATS
        assert len(taken) == min(CHATS, COUNSELORS * MAX_CHATS)
        assert set(refusals) <= {"capacity", "empty"}, refusals
        assert set(served_by) == {a.url, b.url}, served_by  # both processes handed cases out

        async with engine.connect() as conn:
            rows = (await conn.execute(select(conversations.c.id, conversations.c.status,
                                              conversations.c.counselor_id))).all()
            assigned_audits = Counter(r.target_id for r in await conn.execute(
                select(audit_events.c.target_id)
                .where(audit_events.c.action == "case.assigned")))
        active = {r.id: r.counselor_id for r in rows if r.status == Status.ACTIVE}
        still_waiting = {r.id for r in rows if r.status == Status.WAITING}
        assert active == {conv: cid for cid, conv in answers}
        assert len(still_waiting) == CHATS - len(active)
        assert max(Counter(active.values()).values()) <= MAX_CHATS
        # One assignment per case in the audit log: no case was committed twice.
        assert assigned_audits == dict.fromkeys(active, 1)

        # Redis agrees with SQL: who holds what, each counselor's load, what still waits.
        owners = {c: int(o) for c, o in (await redis.hgetall(keys.owner)).items()}
        loads = {int(c): int(n) for c, n in (await redis.hgetall(keys.load)).items()}
        assert owners == active
        assert loads == dict(Counter(active.values()))
        assert await redis.hgetall(keys.offer) == {}
        assert set(await redis.zrange(keys.queue, 0, -1)) == still_waiting
        for inst in instances:
            assert inst.proc is not None and inst.proc.poll() is None, inst.output()
    except BaseException:
        for inst in instances:
            print(f"--- instance {inst.name} log ---\n{inst.output()[-5000:]}")
        raise
    finally:
        for session in browsers:
            await session.close()
        await redis.aclose()
        await engine.dispose()
        for inst in instances:
            inst.kill()
