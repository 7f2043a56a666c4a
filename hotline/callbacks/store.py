"""SQL for call-back requests (the callbacks room's table); callers own the transaction.
See docs/twilio.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from hotline.callbacks.tables import callbacks


@dataclass(frozen=True)
class Callback:
    id: str
    source_key: str
    source_channel: str
    pseudonym: str
    contact_sealed: bytes | None
    language: str
    window_start: datetime
    window_end: datetime
    leave_message: bool
    status: str
    conversation_id: str | None
    attempts: int


def _callback(r: Any) -> Callback:
    return Callback(r.id, r.source_key, r.source_channel, r.pseudonym,
                    bytes(r.contact_sealed) if r.contact_sealed is not None else None,
                    r.language, r.window_start, r.window_end, bool(r.leave_message), r.status,
                    r.conversation_id, int(r.attempts))


async def add_callback(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(callbacks).values(**values))


async def callback_by_source(conn: AsyncConnection, source_key: str) -> Callback | None:
    row = (await conn.execute(select(callbacks).where(callbacks.c.source_key == source_key))
           ).first()
    return _callback(row) if row else None


async def callback_get(conn: AsyncConnection, callback_id: str) -> Callback | None:
    row = (await conn.execute(select(callbacks).where(callbacks.c.id == callback_id))).first()
    return _callback(row) if row else None


async def callback_for_conversation(conn: AsyncConnection, conversation_id: str
                                    ) -> Callback | None:
    row = (await conn.execute(select(callbacks).where(
        callbacks.c.conversation_id == conversation_id)
        .order_by(callbacks.c.created_at.desc()).limit(1))).first()
    return _callback(row) if row else None


async def callbacks_in(conn: AsyncConnection, statuses: tuple[str, ...], *,
                       start_before: datetime | None = None,
                       end_before: datetime | None = None, limit: int = 100
                       ) -> list[Callback]:
    cond: ColumnElement[bool] = callbacks.c.status.in_(statuses)
    if start_before is not None:
        cond = and_(cond, callbacks.c.window_start <= start_before)
    if end_before is not None:
        cond = and_(cond, callbacks.c.window_end <= end_before)
    rows = await conn.execute(select(callbacks).where(cond)
                              .order_by(callbacks.c.window_start).limit(limit))
    return [_callback(r) for r in rows]


async def update_callback(conn: AsyncConnection, callback_id: str, at: datetime,
                          only_statuses: tuple[str, ...] | None = None, **values: Any) -> bool:
    cond: ColumnElement[bool] = callbacks.c.id == callback_id
    if only_statuses is not None:
        cond = and_(cond, callbacks.c.status.in_(only_statuses))
    res = await conn.execute(update(callbacks).where(cond).values(updated_at=at, **values))
    return res.rowcount == 1
