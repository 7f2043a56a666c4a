"""The centre-wide holiday calendar (hotline/domain/holidays.py): admins set closed and
reduced days; the roster honours them at once (routing windows are written again)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hotline.audit import log as audit
from hotline.cases import staffing
from hotline.deps import Deps
from hotline.domain.event_types import EventType
from hotline.domain.holidays import Holiday
from hotline.staff import store


async def upcoming(deps: Deps) -> list[Holiday]:
    """Holidays from yesterday on."""
    async with deps.engine.connect() as conn:
        return await store.holidays_from(conn, datetime.now(UTC).date() - timedelta(days=1))


async def put(deps: Deps, actor_id: int, h: Holiday) -> None:
    async with deps.engine.begin() as conn:
        await store.put_holiday(conn, h)
        await audit.record(conn, at=datetime.now(UTC), actor_id=actor_id, action="holiday.set",
                           target_kind="holiday", target_id=h.day.isoformat(), kind=h.kind)
    await _changed(deps)


async def remove(deps: Deps, actor_id: int, day: date) -> bool:
    async with deps.engine.begin() as conn:
        done = await store.remove_holiday(conn, day)
        if done:
            await audit.record(conn, at=datetime.now(UTC), actor_id=actor_id,
                               action="holiday.removed", target_kind="holiday",
                               target_id=day.isoformat())
    if done:
        await _changed(deps)
    return done


async def _changed(deps: Deps) -> None:
    # As a roster edit: bump first so a sync that read before this change cannot land after.
    await deps.live.bump_roster_version()
    await staffing.sync_all(deps)
    await deps.publish({"type": EventType.ROSTER})
