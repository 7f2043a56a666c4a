"""SQL of the desk's own alerts (a request past its deadline pages takedown staff, then
escalates; docs/takedown.md, "Deadlines"). Callers own the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.takedown.tables import takedown_alerts as alerts_t


@dataclass(frozen=True)
class AlertRow:
    id: int
    request_id: int
    created_at: datetime
    step: int
    target_id: int | None
    escalate_at: datetime | None
    acked_at: datetime | None
    acked_by: int | None


def _alert(r: object) -> AlertRow:
    m = r._mapping  # type: ignore[attr-defined]
    return AlertRow(m["id"], m["request_id"], m["created_at"], m["step"], m["target_id"],
                    m["escalate_at"], m["acked_at"], m["acked_by"])


async def open_alert_for(conn: AsyncConnection, request_id: int) -> AlertRow | None:
    row = (await conn.execute(select(alerts_t).where(and_(
        alerts_t.c.request_id == request_id, alerts_t.c.acked_at.is_(None))))).first()
    return _alert(row) if row else None


async def insert_alert(conn: AsyncConnection, request_id: int, *, at: datetime,
                       target_id: int | None, escalate_at: datetime | None) -> int:
    return int((await conn.execute(insert(alerts_t).values(
        request_id=request_id, created_at=at, step=0, target_id=target_id,
        escalate_at=escalate_at).returning(alerts_t.c.id))).scalar_one())


async def alerts_due(conn: AsyncConnection, now: datetime) -> list[AlertRow]:
    return [_alert(r) for r in await conn.execute(select(alerts_t).where(and_(
        alerts_t.c.acked_at.is_(None), alerts_t.c.escalate_at.is_not(None),
        alerts_t.c.escalate_at <= now)).order_by(alerts_t.c.id))]


async def move_alert(conn: AsyncConnection, alert_id: int, *, step: int,
                     target_id: int | None, escalate_at: datetime | None) -> None:
    await conn.execute(update(alerts_t).where(alerts_t.c.id == alert_id).values(
        step=step, target_id=target_id, escalate_at=escalate_at))


async def get_alert(conn: AsyncConnection, alert_id: int) -> AlertRow | None:
    row = (await conn.execute(select(alerts_t).where(alerts_t.c.id == alert_id))).first()
    return _alert(row) if row else None


async def ack_alert(conn: AsyncConnection, alert_id: int, by: int, at: datetime) -> bool:
    result = await conn.execute(update(alerts_t).where(and_(
        alerts_t.c.id == alert_id, alerts_t.c.acked_at.is_(None))).values(
        acked_at=at, acked_by=by, escalate_at=None))
    return result.rowcount == 1


async def ack_alerts_of(conn: AsyncConnection, request_id: int, by: int | None,
                        at: datetime) -> list[int]:
    """Close the request's open alerts (it has an outcome now); their ids."""
    ids = [r.id for r in await conn.execute(select(alerts_t.c.id).where(and_(
        alerts_t.c.request_id == request_id, alerts_t.c.acked_at.is_(None))))]
    if ids:
        await conn.execute(update(alerts_t).where(alerts_t.c.id.in_(ids)).values(
            acked_at=at, acked_by=by, escalate_at=None))
    return ids


async def open_alerts(conn: AsyncConnection) -> list[AlertRow]:
    return [_alert(r) for r in await conn.execute(select(alerts_t).where(
        alerts_t.c.acked_at.is_(None)).order_by(alerts_t.c.id))]
