"""The append-only audit log: who did what to which record, with ids only."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.audit.tables import audit_events
from hotline.stores.sql.direct import Prebuilt, Sql, run

_INSERT = Prebuilt(insert(audit_events),
                   keys=("at", "actor_id", "action", "target_kind", "target_id", "detail"))


async def record(conn: Sql, *, at: datetime, actor_id: int | None, action: str,
                 target_kind: str, target_id: str, **detail: Any) -> None:
    """Append one audit event. `detail` must hold ids and enumerations, never personal data."""
    await run(conn, _INSERT, {
        "at": at, "actor_id": actor_id, "action": action, "target_kind": target_kind,
        "target_id": target_id, "detail": json.dumps(detail, sort_keys=True,
                                                     separators=(",", ":"))})


async def any_for(conn: AsyncConnection, target_kind: str, target_id: str) -> bool:
    """Whether anything was ever recorded about this target."""
    return (await conn.execute(select(audit_events.c.id).where(
        (audit_events.c.target_kind == target_kind) & (audit_events.c.target_id == target_id))
        .limit(1))).first() is not None


async def for_target(conn: AsyncConnection, target_kind: str, target_id: str
                     ) -> list[dict[str, Any]]:
    rows = await conn.execute(select(audit_events).where(
        (audit_events.c.target_kind == target_kind) & (audit_events.c.target_id == target_id))
        .order_by(audit_events.c.id))
    return [{"at": r.at.isoformat(), "actor_id": r.actor_id, "action": r.action,
             "detail": json.loads(r.detail)} for r in rows]


async def recent(conn: AsyncConnection, limit: int, before_id: int | None = None,
                 target_kind: str | None = None, target_id: str | None = None
                 ) -> list[dict[str, Any]]:
    """The newest events first (the admin's audit view), optionally of one target."""
    q = select(audit_events).order_by(audit_events.c.id.desc()).limit(limit)
    if before_id is not None:
        q = q.where(audit_events.c.id < before_id)
    if target_kind is not None:
        q = q.where(audit_events.c.target_kind == target_kind)
    if target_id is not None:
        q = q.where(audit_events.c.target_id == target_id)
    rows = await conn.execute(q)
    return [{"id": r.id, "at": r.at.isoformat(), "actor_id": r.actor_id, "action": r.action,
             "target_kind": r.target_kind, "target_id": r.target_id,
             "detail": json.loads(r.detail)} for r in rows]
