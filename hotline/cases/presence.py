"""Counselor presence: the status they choose, kept alive by their console's heartbeat.

A console that stops beating (a closed laptop, a lost network) turns its counselor offline
within routing.presence_timeout_seconds, and their open cases are flagged to the lead at once.
The status is kept in SQL too (counselors.presence_status), so a Redis that lost its data gets
it back in livesync.rebuild. See docs/routing.md.
"""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError

from hotline.cases import alerts, staffing
from hotline.cases import conversations as convs
from hotline.deps import Deps
from hotline.domain.event_types import EventType
from hotline.domain.routing import Presence
from hotline.domain.staff import Staff
from hotline.jobs import pause, take_lease
from hotline.staff import accounts as staff_store

log = logging.getLogger(__name__)


async def sign_in(deps: Deps, staff: Staff) -> None:
    """After a login: fresh routing profile, present, and the role's starting status."""
    await staffing.sync_one(deps, staff.id)
    await deps.live.heartbeat(staff.id)
    await set_status(deps, staff.id, Presence(staff.status_at_login))


async def sign_out(deps: Deps, counselor_id: int) -> None:
    """After a logout: offline at once (open cases stay theirs; the lead sees them)."""
    await deps.live.forget_presence(counselor_id)
    await set_status(deps, counselor_id, Presence.OFFLINE)


async def set_status(deps: Deps, counselor_id: int, status: Presence) -> None:
    """Record the counselor's status in SQL, then in Redis (which routes on it).

    SQL first, as everywhere: a Redis that restarts empty gets the status back from SQL in
    livesync.rebuild, since no console re-announces it (their heartbeat only keeps presence)."""
    async with deps.engine.begin() as conn:
        await staff_store.set_presence_status(conn, counselor_id, status)
    await deps.live.set_status(counselor_id, status)
    await deps.publish({"type": EventType.PRESENCE, "counselor": counselor_id,
                        "status": status.value})


async def beat(deps: Deps, counselor_id: int) -> None:
    """A heartbeat from an open console; also revives a counselor marked lost."""
    await deps.live.heartbeat(counselor_id)


async def sweep_lost(deps: Deps) -> list[int]:
    """Counselors whose console went quiet: offline now; their open cases flagged to the lead."""
    lost = await deps.live.stale_presence()
    for cid in lost:
        await deps.live.forget_presence(cid)
        was = await deps.live.status_of(cid)
        await set_status(deps, cid, Presence.OFFLINE)
        async with deps.engine.connect() as conn:
            held = [c.id for c in await convs.held_by(conn, cid)]
            # For the lead's banner, which knows only the names of the floor it shows.
            name = (await staff_store.names(conn, [cid])).get(cid) if held else None
        log.warning("counselor console lost", extra={"counselor": cid, "open_cases": len(held),
                                                      "was": was.value})
        if held:
            await deps.publish({"type": EventType.LEAD_ATTENTION, "reason": "presence_lost",
                                "counselor": cid, "name": name, "conversations": held})
            for conv_id in held:
                await alerts.raise_lead_alert(deps, conv_id, alerts.PRESENCE_LOST)
    return lost


async def run_presence(deps: Deps, stop: asyncio.Event) -> None:
    """Forever: find lost consoles every alerts.check_seconds; after Redis was unreachable,
    not before consoles have had a presence timeout to beat again. Their heartbeats failed
    meanwhile: a Redis back with its data would otherwise have every counselor swept offline
    at the first pass, and a lead alert raised for every open case."""
    loop = asyncio.get_running_loop()
    quiet_until = 0.0
    while not stop.is_set():
        try:
            # The lock is asked for on every pass, also while quiet: that is how the end of
            # an outage is seen.
            if await take_lease(deps.redis, deps.keys.job_lock("presence"),
                                int(deps.config.alerts.check_seconds * 900)) \
                    and loop.time() >= quiet_until:
                await sweep_lost(deps)
        except (RedisError, OSError):
            quiet_until = loop.time() + deps.config.routing.presence_timeout_seconds
        await pause(stop, deps.config.alerts.check_seconds)
