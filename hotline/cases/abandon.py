"""Contacts whose victim is gone: the job that applies the rule of domain/abandon.py to every
case whose deadline (`conversations.abandon_at`) has passed, read through its partial index
(only what is due, never a scan of the open cases).

A waiting case is closed as abandoned at once: out of the queue, an intake record with the
outcome "abandoned" (never counted as answered), the `hotline_abandoned` metric. A case a
counselor holds is never closed unannounced: the holder is first told "the victim left" (a
line in the transcript and a `victim.left` event) and it closes after
abandoned.holder_notice_minutes unless the victim writes again. See docs/floor.md.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline import metrics
from hotline.audit import log as audit
from hotline.cases import conversations as convs
from hotline.cases import intake_store, livesync
from hotline.cases.tables import conversations
from hotline.deps import Deps
from hotline.domain import abandon as rule
from hotline.domain.conversation import Channel, Direction, Status
from hotline.domain.event_types import EventType
from hotline.jobs import run_leased
from hotline.prompts import Prompts

log = logging.getLogger(__name__)

OUTCOME = "abandoned"
LEFT = EventType.VICTIM_LEFT


@dataclass(frozen=True)
class Due:
    id: str
    deadline: datetime


async def due(conn: AsyncConnection, now: datetime, limit: int) -> list[Due]:
    """Cases whose deadline has passed, earliest first (ix_conversations_abandon_at)."""
    rows = await conn.execute(
        select(conversations.c.id, conversations.c.abandon_at)
        .where(conversations.c.abandon_at <= now)
        .order_by(conversations.c.abandon_at).limit(limit))
    return [Due(r.id, r.abandon_at) for r in rows]


async def renew_page(deps: Deps, pseudonym: str, at: datetime) -> None:
    """A victim's web chat page still has its event stream open: move its open case's
    deadline on (not once the victim left with Quick exit)."""
    async with deps.engine.begin() as conn:
        await conn.execute(update(conversations).where(and_(
            conversations.c.channel == Channel.WEBCHAT.value,
            conversations.c.pseudonym == pseudonym,
            conversations.c.status != Status.CLOSED.value,
            conversations.c.victim_left_at.is_(None)))
            .values(abandon_at=rule.deadline(Channel.WEBCHAT, at, deps.config.abandoned)))


async def apply(deps: Deps, prompts: Prompts, item: Due, now: datetime) -> rule.Step | None:
    """Apply the rule to one due case; what was done, or None if the case moved on since it
    was read (a message, a close: its deadline is no longer the one read)."""
    async with deps.engine.begin() as conn:
        # Claim the row at the deadline read (row-locked on PostgreSQL, write-locked on
        # SQLite, until the commit): a victim's message in between moved it, and one arriving
        # now waits for this decision and then moves it on.
        claimed = await conn.execute(update(conversations).where(and_(
            conversations.c.id == item.id, conversations.c.abandon_at == item.deadline))
            .values(abandon_at=item.deadline))
        conv = await convs.get(conn, item.id) if claimed.rowcount == 1 else None
        if conv is None:
            return None
        step = rule.step(conv.status, conv.channel, conv.victim_left_at is not None)
        if step is rule.Step.CLEAR:
            await _set(conn, item.id, abandon_at=None)
            return step
        seq = 0
        if step is rule.Step.TELL:
            seq = await _tell(conn, deps, prompts, conv, now)
        else:
            how = rule.how(conv.channel, conv.victim_left_at is not None)
            if not await _close(conn, deps, conv, now, how):
                return None
    if step is rule.Step.TELL:
        await deps.publish_all([
            {"type": EventType.MESSAGE, "conversation": conv.id, "seq": seq,
             "direction": Direction.SYSTEM.value},
            {"type": LEFT, "conversation": conv.id, "counselor": conv.counselor_id}])
        log.info("holder told the victim left", extra={"conversation": conv.id})
        return step
    how = rule.how(conv.channel, conv.victim_left_at is not None)
    await livesync.release_closed(deps, conv.id, OUTCOME)
    await deps.publish({"type": EventType.CLOSED, "conversation": conv.id,
                        "counselor": conv.counselor_id, "outcome": OUTCOME})
    metrics.ABANDONED.labels(conv.channel.value, how.value).inc()
    log.info("case abandoned", extra={"conversation": conv.id, "how": how.value,
                                      "was": conv.status.value})
    return step


async def _set(conn: AsyncConnection, cid: str, **values: object) -> None:
    await conn.execute(update(conversations).where(conversations.c.id == cid).values(**values))


async def _tell(conn: AsyncConnection, deps: Deps, prompts: Prompts,
                conv: convs.ConversationRow, now: datetime) -> int:
    """The victim went silent while held: mark them gone, say so in the transcript (the
    line's number is returned), and give the holder the notice time."""
    rules = deps.config.abandoned
    await _set(conn, conv.id, victim_left_at=now,
               abandon_at=now + timedelta(minutes=rules.holder_notice_minutes))
    hours = (rules.sms_silent_hours if conv.channel is Channel.SMS
             else rules.telegram_silent_hours)
    seq = await convs.next_seq(conn, conv.id, now)
    text = prompts.render(conv.language, "marker_victim_silent", hours=hours,
                          minutes=rules.holder_notice_minutes)
    await convs.insert_message(conn, conversation_id=conv.id, seq=seq,
                               direction=Direction.SYSTEM,
                               body_sealed=deps.keyring.seal_text(text, f"msg:{conv.id}:{seq}"),
                               at=now)
    await audit.record(conn, at=now, actor_id=None, action="case.victim_left",
                       target_kind="conversation", target_id=conv.id, how="silent",
                       was=conv.status.value)
    return seq


async def _close(conn: AsyncConnection, deps: Deps, conv: convs.ConversationRow,
                 now: datetime, how: rule.How) -> bool:
    retention = deps.config.retention
    if not await convs.close(conn, conv.id, now,
                             purge_contact_at=now + timedelta(days=retention.contact_days),
                             purge_transcript_at=now + timedelta(
                                 days=retention.transcript_days)):
        return False
    # The wait ends when the victim went (Quick exit) or, unknown, now; nobody answered a
    # case still waiting, so it has no handling time and no counselor.
    gone = conv.victim_left_at or now
    started = conv.assigned_at
    await intake_store.write(conn, intake_store.record_of(
        conv, closed_at=now,
        wait_seconds=int(((started or gone) - conv.enqueued_at).total_seconds()),
        handling_seconds=int((now - started).total_seconds()) if started else 0,
        harm_type="unknown", outcome=OUTCOME,
        counselor_id=conv.counselor_id if conv.status is Status.ACTIVE else None))
    await audit.record(conn, at=now, actor_id=None, action="case.abandoned",
                       target_kind="conversation", target_id=conv.id, how=how.value,
                       was=conv.status.value, counselor=conv.counselor_id)
    return True


async def settle(deps: Deps, prompts: Prompts, conversation_id: str) -> rule.Step | None:
    """Apply the rule to one case now if its deadline has passed (after Quick exit)."""
    now = datetime.now(UTC)
    async with deps.engine.connect() as conn:
        deadline = (await conn.execute(select(conversations.c.abandon_at).where(
            conversations.c.id == conversation_id))).scalar_one_or_none()
    if deadline is None or deadline > now:
        return None
    return await apply(deps, prompts, Due(conversation_id, deadline), now)


async def sweep(deps: Deps, prompts: Prompts, now: datetime | None = None,
                batch: int = 100) -> int:
    """Apply the rule to every due case (in batches); how many were acted on."""
    now = now or datetime.now(UTC)
    done = 0
    while True:
        async with deps.engine.connect() as conn:
            items = await due(conn, now, batch)
        for item in items:
            done += await apply(deps, prompts, item, now) is not None
        if len(items) < batch:
            return done


async def run_abandon(deps: Deps, prompts: Prompts, stop: asyncio.Event,
                      every_s: float = 10.0) -> None:
    """Forever: apply the rule to due cases (one instance at a time)."""
    await run_leased(deps.redis, deps.keys.job_lock("abandon"), every_s,
                     lambda: sweep(deps, prompts), stop)
