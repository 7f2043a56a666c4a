"""SQL access for the ban list (docs/limits.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.domain.bans import Ban, Kind
from hotline.limits.tables import bans


def _ban(r: Row[Any]) -> Ban:
    m = r._mapping
    return Ban(m["id"], Kind(m["kind"]), m["channel"], m["reason"], m["created_at"],
               m["created_by"], m["expires_at"], m["conversation_id"])


async def add(conn: AsyncConnection, *, kind: Kind, subject: str, channel: str | None,
              reason: str, conversation_id: str | None, at: datetime, by: int | None,
              expires_at: datetime) -> Ban:
    row = (await conn.execute(insert(bans).values(
        kind=kind.value, subject=subject, channel=channel, reason=reason,
        conversation_id=conversation_id, created_at=at, created_by=by, expires_at=expires_at,
    ).returning(bans))).one()
    return _ban(row)


async def active(conn: AsyncConnection, now: datetime) -> list[Ban]:
    """Bans in force at `now`, oldest first."""
    rows = await conn.execute(select(bans).where(bans.c.expires_at > now).order_by(bans.c.id))
    return [_ban(r) for r in rows]


async def in_force(conn: AsyncConnection, now: datetime) -> list[tuple[Kind, str, datetime]]:
    """(kind, subject, end) of every ban in force: what each instance checks against."""
    rows = await conn.execute(select(bans.c.kind, bans.c.subject, bans.c.expires_at)
                              .where(bans.c.expires_at > now))
    return [(Kind(r.kind), r.subject, r.expires_at) for r in rows]


async def remove(conn: AsyncConnection, ban_id: int) -> Ban | None:
    """Delete one ban; what it was, or None if there is no such ban."""
    row = (await conn.execute(delete(bans).where(bans.c.id == ban_id).returning(bans))).first()
    return _ban(row) if row is not None else None


async def purge_expired(conn: AsyncConnection, now: datetime) -> int:
    """Delete bans that have ended (their decision stays in the audit log)."""
    result = await conn.execute(delete(bans).where(bans.c.expires_at <= now))
    return int(result.rowcount or 0)
