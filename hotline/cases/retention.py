"""Retention: contact addresses and transcripts are deleted when their time is up.

Intake records are already anonymous and stay. Each purge is audited. See docs/privacy.md.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.audit import log as audit
from hotline.cases.tables import conversations, messages
from hotline.deps import Deps
from hotline.evidence import service as evidence_service
from hotline.jobs import in_batches, run_leased
from hotline.staff import accounts as staff_store

log = logging.getLogger(__name__)


# Conversations per transaction (jobs.in_batches). A sweep after a long pause, or the first
# after a retention period is shortened, can find tens of thousands due: in one transaction
# that failed on PostgreSQL every time, and nothing was purged.
SWEEP_BATCH = 500


async def sweep(deps: Deps, now: datetime | None = None, batch: int = SWEEP_BATCH
                ) -> dict[str, int]:
    """Delete due contact addresses and message text, and idle console sessions, `batch`
    conversations per transaction."""
    now = now or datetime.now(UTC)
    _seen, contacts = await in_batches(deps.engine, lambda c: _contacts(c, now, batch), batch)
    transcripts, purged = await in_batches(deps.engine, lambda c: _transcripts(c, now, batch),
                                           batch)
    counts = {"contacts": contacts, "transcripts": transcripts, "messages": purged,
              "sessions": 0}
    idle = now - timedelta(hours=deps.config.retention.session_hours)
    async with deps.engine.begin() as conn:
        counts["sessions"] = await staff_store.end_idle_sessions(conn, idle)
    if any(counts.values()):
        log.info("retention sweep", extra=counts)
    return counts


async def _contacts(conn: AsyncConnection, now: datetime, batch: int) -> tuple[int, int]:
    # The deadline is cleared with the address (and where there was none, as for a web chat):
    # the index on purge_contact_at then holds only what is still to do. Left set, every sweep
    # walked every conversation ever closed.
    due = list(await conn.execute(select(
        conversations.c.id, conversations.c.contact_sealed.is_not(None)).where(
        conversations.c.purge_contact_at <= now).limit(batch)))
    if due:
        await conn.execute(update(conversations)
                           .where(conversations.c.id.in_([r[0] for r in due]))
                           .values(contact_sealed=None, purge_contact_at=None))
    had = [r[0] for r in due if r[1]]
    for cid in had:
        await audit.record(conn, at=now, actor_id=None, action="retention.contact_deleted",
                           target_kind="conversation", target_id=cid)
    return len(due), len(had)


async def _transcripts(conn: AsyncConnection, now: datetime, batch: int) -> tuple[int, int]:
    due = list((await conn.execute(select(conversations.c.id).where(
        conversations.c.purge_transcript_at <= now).limit(batch))).scalars())
    if not due:
        return 0, 0
    result = await conn.execute(
        update(messages).where(and_(messages.c.conversation_id.in_(due),
                                    messages.c.body_sealed.is_not(None)))
        .values(body_sealed=None))
    await conn.execute(update(conversations).where(conversations.c.id.in_(due))
                       .values(purge_transcript_at=None))
    # The victim's note on where their evidence appeared is their words too: it goes with the
    # transcript (the evidence's fingerprints stay).
    await evidence_service.forget_locations(conn, due)
    for cid in due:
        await audit.record(conn, at=now, actor_id=None, action="retention.transcript_deleted",
                           target_kind="conversation", target_id=cid)
    return len(due), int(result.rowcount)


async def run_retention(deps: Deps, stop: asyncio.Event) -> None:
    """Forever: one sweep per retention.sweep_seconds, by one instance at a time."""
    period = deps.config.retention.sweep_seconds
    await run_leased(deps.redis, deps.keys.job_lock("retention"), period, lambda: sweep(deps),
                     stop, lease_ms=max(1, int(period) - 1) * 1000)
