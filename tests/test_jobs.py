"""services/jobs.supervise: a job that raises is started again (with a growing pause, logged
by name, error type and place, never the error's text), a job that returns is done, and a stop
during the pause ends supervision at once."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from hotline.jobs import JOB_FAILURES, supervise

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
