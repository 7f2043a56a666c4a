"""The append-only audit log: who did what to which record, with ids only."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.audit.tables import audit_events
from hotline.domain.audit_search import AuditQuery
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


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search(conn: AsyncConnection, q: AuditQuery) -> list[dict[str, Any]]:
    """Events matching `q`, newest first (hotline.domain.audit_search). The person and the
    action are read through their indexes (migration 0023), the time through ix_..._at."""
    c = audit_events.c
    where: list[ColumnElement[bool]] = []
    if q.kinds is not None:
        where.append(c.target_kind.in_(sorted(q.kinds)))
    if q.actor_id is not None:
        where.append(c.actor_id == q.actor_id)
    if q.case_id is not None:
        where += [c.target_kind == "conversation", c.target_id == q.case_id]
    if q.action is not None:
        where.append(c.action.like(_escape_like(q.action) + "%", escape="\\")
                     if q.action.endswith(".") else c.action == q.action)
    if q.since is not None:
        where.append(c.at >= q.since)
    if q.until is not None:
        where.append(c.at < q.until)
    if q.target_kind is not None:
        where.append(c.target_kind == q.target_kind)
    if q.target_id is not None:
        where.append(c.target_id == q.target_id)
    if q.before_id is not None:
        where.append(c.id < q.before_id)
    stmt = select(audit_events).order_by(c.id.desc()).limit(q.limit)
    if where:
        stmt = stmt.where(and_(*where))
    return [{"id": r.id, "at": r.at.isoformat(), "actor_id": r.actor_id, "action": r.action,
             "target_kind": r.target_kind, "target_id": r.target_id,
             "detail": json.loads(r.detail)} for r in await conn.execute(stmt)]
