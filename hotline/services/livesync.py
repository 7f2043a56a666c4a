"""Keeping Redis in step with SQL: a full rebuild at start or after Redis lost its data, and a
periodic repair of waiting conversations that never reached the queue (Redis was down when
they arrived). Losing Redis therefore loses nothing. See docs/stores.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError

from hotline.domain.conversation import Status
from hotline.services.deps import Deps
from hotline.stores.live.keys import JOB_LOCK_MARGIN_S
from hotline.stores.live.store import Waiting
from hotline.stores.sql import conversations as convs

log = logging.getLogger(__name__)

# A waiting conversation younger than this may be in flight between SQL commit and enqueue.
_REPAIR_GRACE = timedelta(seconds=10)


def _waiting(row: convs.ConversationRow) -> Waiting:
    return Waiting(row.id, row.channel, row.language, row.urgency,
                   int(row.enqueued_at.timestamp() * 1000))


async def rebuild(deps: Deps) -> int:
    """Replace the live queue and ownership with SQL's truth; returns conversations placed."""
    async with deps.engine.connect() as conn:
        rows = await convs.open_conversations(conn)
    waiting = [_waiting(r) for r in rows if r.status == Status.WAITING]
    owners = {r.id: r.counselor_id for r in rows
              if r.status == Status.ACTIVE and r.counselor_id is not None}
    await deps.live.rebuild(waiting, owners)
    log.info("live state rebuilt from sql", extra={"waiting": len(waiting),
                                                  "active": len(owners)})
    await deps.publish({"type": "reset"})
    return len(rows)


async def reconcile_once(deps: Deps) -> str:
    """One check: 'rebuilt' if Redis had lost its state, 'repaired:N', or 'ok'."""
    lock = deps.keys.job_lock("reconcile")
    period = max(1, int(deps.config.storage.reconcile_seconds) - JOB_LOCK_MARGIN_S)
    if not await deps.redis.set(lock, "1", nx=True, ex=period):
        return "ok"
    if not await deps.live.has_epoch():
        await rebuild(deps)
        return "rebuilt"
    async with deps.engine.connect() as conn:
        rows = await convs.open_conversations(conn)
    cutoff = datetime.now(UTC) - _REPAIR_GRACE
    queued = {w.conversation_id for w in await deps.live.waiting()}
    missing = [r for r in rows if r.status == Status.WAITING and r.id not in queued
               and r.enqueued_at < cutoff]
    for r in missing:
        await deps.live.enqueue(_waiting(r))
    if missing:
        log.warning("queue repaired from sql", extra={"added": len(missing)})
        return f"repaired:{len(missing)}"
    return "ok"


async def run_reconciler(deps: Deps) -> None:
    """Forever: reconcile every storage.reconcile_seconds; Redis outages are waited out."""
    while True:
        with contextlib.suppress(RedisError, OSError):
            await reconcile_once(deps)
        await asyncio.sleep(deps.config.storage.reconcile_seconds)
