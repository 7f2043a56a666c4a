"""The staff subsystem's periodic job: exposure caps worked out again (a new shift starts the
counts afresh) and expired login challenges and reset tokens forgotten."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from redis.exceptions import RedisError

from hotline.deps import Deps
from hotline.jobs import pause
from hotline.staff import exposure, store

log = logging.getLogger(__name__)


async def once(deps: Deps) -> None:
    async with deps.engine.begin() as conn:
        await store.end_stale(conn, datetime.now(UTC))
    try:
        await exposure.refresh(deps)
    except (RedisError, OSError) as e:
        log.warning("exposure caps not refreshed", extra={"error": type(e).__name__})


async def run_upkeep(deps: Deps, stop: asyncio.Event) -> None:
    """Forever, every exposure.REFRESH_S (under `supervise`, like every job)."""
    while not stop.is_set():
        await once(deps)
        await pause(stop, exposure.REFRESH_S)
