"""Retention: contact addresses and transcripts are deleted when their time is up.

Intake records are already anonymous and stay. Each purge is audited. See docs/privacy.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import and_, select, update

from hotline.services.deps import Deps
from hotline.services.jobs import pause
from hotline.stores.sql import audit
from hotline.stores.sql import staff as staff_store
from hotline.stores.sql.tables import conversations, messages

log = logging.getLogger(__name__)


async def sweep(deps: Deps, now: datetime | None = None) -> dict[str, int]:
    """Delete due contact addresses and message text, and idle console sessions."""
    now = now or datetime.now(UTC)
    async with deps.engine.begin() as conn:
        due_contacts = list((await conn.execute(select(conversations.c.id).where(and_(
            conversations.c.purge_contact_at <= now,
            conversations.c.contact_sealed.is_not(None))))).scalars())
        if due_contacts:
            await conn.execute(update(conversations)
                               .where(conversations.c.id.in_(due_contacts))
                               .values(contact_sealed=None))
        due_transcripts = list((await conn.execute(select(conversations.c.id).where(
            conversations.c.purge_transcript_at <= now))).scalars())
        purged_messages = 0
        if due_transcripts:
            result = await conn.execute(
                update(messages).where(and_(messages.c.conversation_id.in_(due_transcripts),
                                            messages.c.body_sealed.is_not(None)))
                .values(body_sealed=None))
            purged_messages = int(result.rowcount)
            await conn.execute(update(conversations)
                               .where(conversations.c.id.in_(due_transcripts))
                               .values(purge_transcript_at=None))
        for cid in due_contacts:
            await audit.record(conn, at=now, actor_id=None, action="retention.contact_deleted",
                               target_kind="conversation", target_id=cid)
        for cid in due_transcripts:
            await audit.record(conn, at=now, actor_id=None,
                               action="retention.transcript_deleted",
                               target_kind="conversation", target_id=cid)
        idle = now - timedelta(hours=deps.config.retention.session_hours)
        sessions = await staff_store.end_idle_sessions(conn, idle)
    counts = {"contacts": len(due_contacts), "transcripts": len(due_transcripts),
              "messages": purged_messages, "sessions": sessions}
    if any(counts.values()):
        log.info("retention sweep", extra=counts)
    return counts


async def run_retention(deps: Deps, stop: asyncio.Event) -> None:
    """Forever: one sweep per retention.sweep_seconds, by one instance at a time."""
    period = deps.config.retention.sweep_seconds
    while not stop.is_set():
        with contextlib.suppress(RedisError, OSError):
            if await deps.redis.set(deps.keys.job_lock("retention"), "1", nx=True,
                                    ex=max(1, int(period) - 1)):
                await sweep(deps)
        await pause(stop, period)
