"""hotline/jobs.py: supervise: a job that raises is started again (with a growing pause, logged
by name, error type and place, never the error's text), a job that returns is done, and a stop
during the pause ends supervision at once; the token-checked lease, the leased loop and the
JobSet that stops a set of jobs together."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable

import pytest
from redis.asyncio import Redis

from hotline.jobs import (
    JOB_FAILURES,
    JobSet,
    release_lease,
    run_leased,
    supervise,
    take_lease,
)
from tests.conftest import RedisProcess

GUARD_S = 10.0  # only a guard against hanging


async def test_a_failing_job_is_started_again_until_it_returns(
        caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    starts: list[float] = []
    loop = asyncio.get_running_loop()
    secret = "+821012345678 said something private"

    async def job() -> None:
        starts.append(loop.time())
        if len(starts) <= 3:
            raise ValueError(secret)

    before = JOB_FAILURES.labels("test-job")._value.get()
    with caplog.at_level(logging.ERROR, logger="hotline.jobs"):
        await asyncio.wait_for(supervise("test-job", job, stop, restart_min_s=0.01,
                                         restart_max_s=0.04), GUARD_S)
    assert len(starts) == 4
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # The pause doubles up to its cap (lower bounds only; the loop may wake a hair early).
    assert gaps[0] >= 0.009 and gaps[1] >= 0.018 and gaps[2] >= 0.036
    assert JOB_FAILURES.labels("test-job")._value.get() == before + 3
    failures = [r for r in caplog.records if r.getMessage().startswith("job failed")]
    assert len(failures) == 3
    for r in failures:
        assert r.__dict__["job"] == "test-job" and r.__dict__["error"] == "ValueError"
        assert r.__dict__["where"].startswith("test_jobs.py:")
        assert secret not in repr(r.__dict__) and secret not in r.getMessage()


async def test_stop_during_the_pause_ends_supervision() -> None:
    stop = asyncio.Event()
    calls = 0

    async def job() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("database is shutting down")

    task = asyncio.create_task(supervise("stopping-job", job, stop, restart_min_s=30.0))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, GUARD_S)  # not after the 30 s pause
    assert calls == 1


async def test_cancel_is_not_taken_for_a_failure() -> None:
    stop = asyncio.Event()
    started = asyncio.Event()

    async def job() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = asyncio.create_task(supervise("cancelled-job", job, stop))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_lease_is_released_only_by_its_holder(redis_server: RedisProcess) -> None:
    """A pass that outlived its lease must not free the lease another instance took since."""
    redis = Redis.from_url(redis_server.url, decode_responses=True)
    key = f"lease-{secrets.token_hex(4)}"
    try:
        first = await take_lease(redis, key, 50)
        assert first is not None
        assert await take_lease(redis, key, 10_000) is None  # held
        await asyncio.sleep(0.1)  # the first holder's lease runs out mid-pass
        second = await take_lease(redis, key, 10_000)
        assert second is not None
        assert not await release_lease(redis, key, first)  # too late: not the first's any more
        assert await redis.get(key) == second
        assert await release_lease(redis, key, second)
        assert await redis.get(key) is None
    finally:
        await redis.aclose()


async def test_run_leased_runs_each_pass_on_one_instance(redis_server: RedisProcess) -> None:
    """Two instances' loops over one lease: every period one of them runs the pass."""
    redis = Redis.from_url(redis_server.url, decode_responses=True)
    key = f"lease-{secrets.token_hex(4)}"
    stop = asyncio.Event()
    runs: list[str] = []

    def work(name: str) -> Callable[[], Awaitable[None]]:
        async def one_pass() -> None:
            runs.append(name)
        return one_pass

    try:
        loops = [asyncio.create_task(run_leased(redis, key, 0.2, work(n), stop))
                 for n in ("a", "b")]
        await asyncio.sleep(0.5)  # passes at about 0, 0.2 and 0.4 s
        stop.set()
        async with asyncio.timeout(GUARD_S):
            await asyncio.gather(*loops)
    finally:
        await redis.aclose()
    assert 2 <= len(runs) <= 4  # one per period, never both instances in one period


async def test_a_job_set_stops_its_jobs_and_cancels_a_stuck_one() -> None:
    jobs = JobSet(grace_s=0.2)
    ended: list[str] = []

    async def polite() -> None:
        await jobs.stop.wait()
        ended.append("polite")

    async def stuck() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            ended.append("stuck")

    jobs.start("polite", polite)
    jobs.start("stuck", stuck)
    await asyncio.sleep(0)
    async with asyncio.timeout(GUARD_S):
        await jobs.close()
    assert sorted(ended) == ["polite", "stuck"]
    assert all(t.done() for t in jobs.tasks)
