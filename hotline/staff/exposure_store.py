"""SQL for exposure events and debrief flags (migration 0017)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.staff.tables import counselors, debrief_flags, exposure_events


async def add_event(conn: AsyncConnection, *, counselor_id: int, at: datetime, kind: str,
                    amount: int, conversation_id: str | None) -> None:
    await conn.execute(insert(exposure_events).values(
        counselor_id=counselor_id, at=at, kind=kind, amount=amount,
        conversation_id=conversation_id))


async def sums_of_since(conn: AsyncConnection, counselor_ids: list[int], since: datetime
                        ) -> dict[int, dict[str, int]]:
    """Exposure by kind of each of these people since `since` (people with none left out),
    500 ids a statement."""
    out: dict[int, dict[str, int]] = {}
    for start in range(0, len(counselor_ids), 500):
        e = exposure_events.c
        rows = await conn.execute(
            select(e.counselor_id, e.kind, func.sum(e.amount))
            .where(and_(e.counselor_id.in_(counselor_ids[start:start + 500]), e.at >= since))
            .group_by(e.counselor_id, e.kind))
        for cid, kind, total in rows:
            out.setdefault(int(cid), {})[kind] = int(total)
    return out


async def floor_times(conn: AsyncConnection) -> list[Any]:
    """id, name, role, last login and last break of every active account."""
    return list(await conn.execute(
        select(counselors.c.id, counselors.c.name, counselors.c.role,
               counselors.c.last_login_at, counselors.c.last_break_at)
        .where(counselors.c.active.is_(True))))


async def add_debrief(conn: AsyncConnection, counselor_id: int, conversation_id: str,
                      at: datetime) -> int:
    result = await conn.execute(insert(debrief_flags).values(
        counselor_id=counselor_id, conversation_id=conversation_id, flagged_at=at)
        .returning(debrief_flags.c.id))
    return int(result.scalar_one())


async def open_debriefs(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(debrief_flags).where(debrief_flags.c.cleared_at.is_(None))
                              .order_by(debrief_flags.c.flagged_at))
    return [{"id": r.id, "counselor_id": r.counselor_id, "conversation_id": r.conversation_id,
             "flagged_at": r.flagged_at.isoformat()} for r in rows]


async def clear_debrief(conn: AsyncConnection, flag_id: int, by: int, at: datetime) -> bool:
    result = await conn.execute(update(debrief_flags).where(and_(
        debrief_flags.c.id == flag_id, debrief_flags.c.cleared_at.is_(None)))
        .values(cleared_at=at, cleared_by=by))
    return result.rowcount == 1
