"""Replay after a reconnect stays inside its window, over the real app and a full event log
(10,000 events spanning two hours): an id older than streams.replay_max_age_seconds gets
"reset" without the log being read; a gap longer than streams.replay_max_events gets at most
that many events, then "reset"; a recent id gets its whole gap. Reads are counted by the
redis-server itself (INFO commandstats). Memory and /healthz latency under 20 such replays at
once are measured by bench/stream_bench.py."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from hotline.domain.staff import Role
from hotline.stores.live.keys import Keys
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import deps_of
from tests.helpers import Counselor, add_staff
from tests.test_sse import SSE

EVENTS = 10_000
STEP_MS = 720  # 10,000 events over two hours
WINDOW = {"replay_max_events": 300, "replay_max_age_seconds": 600}


@pytest.fixture
async def full_log(tmp_path: Path, database: Database, redis_server: RedisProcess
                   ) -> AsyncIterator[tuple[AppRunner, list[str]]]:
    cfg = make_config(tmp_path / "data", database.url, redis_server.url, streams=WINDOW)
    # Written before the app starts: its own events (from now on) come after these.
    start = int(time.time() * 1000) - EVENTS * STEP_MS
    redis = Redis.from_url(redis_server.url, decode_responses=True)
    async with redis.pipeline(transaction=False) as p:
        for i in range(EVENTS):
            ev = {"type": "message", "conversation": f"{i % 200:032x}", "seq": i,
                  "direction": "in"}
            p.xadd(Keys(cfg.storage.redis_prefix).events, {"e": json.dumps(ev)},
                   id=f"{start + i * STEP_MS}-0")
        ids = [str(x) for x in await p.execute()]
    await redis.aclose()
    runner = AppRunner(cfg)
    await runner.start()
    yield runner, ids
    await runner.stop()


async def _xranges(runner: AppRunner) -> int:
    stats: Any = await deps_of(runner).redis.info("commandstats")
    return int(stats.get("cmdstat_xrange", {}).get("calls", 0))


async def _lead(runner: AppRunner) -> Counselor:
    await add_staff(runner.config, "lee", Role.LEAD)
    lee = Counselor(await runner.client())
    assert await lee.login("lee") == 303
    return lee


async def _until_reset(lee: Counselor, last_id: str) -> list[dict[str, Any]]:
    """Events a reconnect with `last_id` gets up to its "reset" (which is included)."""
    resp = await lee.client.get("/api/v1/events", headers={"Last-Event-ID": last_id})
    stream = SSE(resp)
    await stream.until(lambda e: e["type"] == "reset")
    resp.close()
    return stream.seen


async def test_an_id_older_than_the_window_gets_reset_without_reading_the_log(
        full_log: tuple[AppRunner, list[str]]) -> None:
    runner, ids = full_log
    lee = await _lead(runner)
    before = await _xranges(runner)
    got = await _until_reset(lee, ids[0])  # two hours old
    assert [e["type"] for e in got] == ["reset"]
    assert await _xranges(runner) - before == 1  # the first entry's id, nothing more


async def test_a_gap_longer_than_the_window_gets_at_most_the_window_then_reset(
        full_log: tuple[AppRunner, list[str]]) -> None:
    runner, ids = full_log
    lee = await _lead(runner)
    five_minutes = ids[-(5 * 60_000 // STEP_MS)]  # about 416 events back
    before = await _xranges(runner)
    got = await _until_reset(lee, five_minutes)
    assert got[-1]["type"] == "reset"
    replayed = [e["id"] for e in got[:-1]]
    assert replayed == ids[ids.index(five_minutes) + 1:][:WINDOW["replay_max_events"]]
    # Read in chunks of 100 (three, and one more entry to know the gap is longer): the probe
    # of the log's ends, then those, never the whole log.
    assert await _xranges(runner) - before == 1 + 4


async def test_a_recent_id_gets_its_whole_gap(full_log: tuple[AppRunner, list[str]]) -> None:
    runner, ids = full_log
    lee = await _lead(runner)
    resp = await lee.client.get("/api/v1/events", headers={"Last-Event-ID": ids[-84]})
    stream = SSE(resp)
    await stream.until(lambda e: e["id"] == ids[-1])
    assert [e["id"] for e in stream.seen] == ids[-83:]
    resp.close()


async def test_twenty_old_ids_at_once_get_reset_and_the_server_answers(
        full_log: tuple[AppRunner, list[str]]) -> None:
    runner, ids = full_log
    await add_staff(runner.config, "lee", Role.LEAD)
    leads = [Counselor(await runner.client()) for _ in range(20)]  # a session each
    for lee in leads:
        assert await lee.login("lee") == 303
    five_minutes = ids[-(5 * 60_000 // STEP_MS)]
    health = await runner.client()
    results, answer = await asyncio.gather(
        asyncio.gather(*(_until_reset(lee, old) for lee, old in
                         zip(leads, [ids[0], five_minutes] * 10, strict=True))),
        health.get("/healthz"))
    assert answer.status == 200
    assert all(got[-1]["type"] == "reset" and len(got) <= WINDOW["replay_max_events"] + 1
               for got in results)
