"""What staff do with a case: take it, read it, reply, close it with the intake form.

Every read of a case goes through `load_case`, the one access check: a case that is missing and
a case the viewer may not see look the same (CaseNotFound). See docs/console.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline import metrics
from hotline.domain.conversation import Direction, Status
from hotline.domain.intake import IntakeForm
from hotline.domain.staff import DEFAULT_CHAT_CAPACITY, Staff, may_read_case
from hotline.services.deps import Deps
from hotline.stores.sql import audit
from hotline.stores.sql import conversations as convs
from hotline.stores.sql.conversations import ConversationRow
from hotline.stores.sql.tables import intake_records

log = logging.getLogger(__name__)


class CaseNotFound(LookupError):
    """No such case, or not one the viewer may see (deliberately indistinguishable)."""


class CaseConflict(Exception):
    """The case is not in a state that allows this (e.g. already closed); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TranscriptLine:
    seq: int
    direction: Direction
    text: str | None
    at: datetime
    delivery: str


def utcnow() -> datetime:
    return datetime.now(UTC)


async def load_case(conn: AsyncConnection, viewer: Staff, conversation_id: str,
                    ) -> ConversationRow:
    """The one access check for reading a case's contents."""
    if not _valid_id(conversation_id):
        raise CaseNotFound(conversation_id)
    conv = await convs.get(conn, conversation_id)
    if conv is None or not may_read_case(viewer, conv.counselor_id):
        raise CaseNotFound(conversation_id)
    return conv


def _valid_id(conversation_id: str) -> bool:
    return len(conversation_id) == 32 and all(c in "0123456789abcdef" for c in conversation_id)


async def take_next(deps: Deps, staff: Staff) -> str | None:
    """Give `staff` the best waiting conversation they can serve; None if none (or full)."""
    for _ in range(5):
        res = await deps.live.take_next(staff.id, staff.languages, DEFAULT_CHAT_CAPACITY)
        if res.status != "ok" or res.waiting is None:
            return None
        if await _commit_assignment(deps, staff, res.waiting.conversation_id):
            return res.waiting.conversation_id
    return None


async def take(deps: Deps, staff: Staff, conversation_id: str) -> None:
    """Claim one named waiting conversation; CaseConflict if gone or over capacity."""
    if not _valid_id(conversation_id):
        raise CaseNotFound(conversation_id)
    res = await deps.live.claim(conversation_id, staff.id, DEFAULT_CHAT_CAPACITY)
    if res.status == "full":
        raise CaseConflict("at capacity")
    if res.status != "ok" or not await _commit_assignment(deps, staff, conversation_id):
        raise CaseConflict("no longer waiting")


async def _commit_assignment(deps: Deps, staff: Staff, conversation_id: str) -> bool:
    now = utcnow()
    async with deps.engine.begin() as conn:
        ok = await convs.assign(conn, conversation_id, staff.id, now)
        if ok:
            await audit.record(conn, at=now, actor_id=staff.id, action="case.assigned",
                               target_kind="conversation", target_id=conversation_id,
                               how="take")
    if not ok:
        # The queue entry was stale (closed or taken elsewhere while Redis lagged): drop it.
        await deps.live.release(conversation_id)
        return False
    await deps.publish({"type": "assigned", "conversation": conversation_id,
                        "counselor": staff.id})
    log.info("case assigned", extra={"conversation": conversation_id, "counselor": staff.id})
    return True


async def transcript(deps: Deps, viewer: Staff, conversation_id: str, after_seq: int = 0
                     ) -> tuple[ConversationRow, list[TranscriptLine]]:
    """A case and its messages after `after_seq`, decrypted, for someone allowed to read it."""
    async with deps.engine.connect() as conn:
        conv = await load_case(conn, viewer, conversation_id)
        rows = await convs.list_messages(conn, conversation_id, after_seq)
    return conv, decrypt_lines(deps, conversation_id, rows)


def decrypt_lines(deps: Deps, conversation_id: str, rows: list[convs.MessageRow]
                  ) -> list[TranscriptLine]:
    return [TranscriptLine(
        r.seq, r.direction,
        deps.keyring.open_text(r.body_sealed, f"msg:{conversation_id}:{r.seq}")
        if r.body_sealed is not None else None,
        r.created_at, r.delivery) for r in rows]


async def reply(deps: Deps, staff: Staff, conversation_id: str, text: str, client_id: str
                ) -> int:
    """Store a counselor's reply (idempotent per client_id) and announce it; returns its seq."""
    now = utcnow()
    provider_key = f"console:{staff.id}:{client_id}"
    try:
        async with deps.engine.begin() as conn:
            dup = await convs.find_by_provider_key(conn, provider_key)
            if dup is not None:
                if dup[0] != conversation_id:
                    raise CaseConflict("client id reused")
                return dup[1]
            conv = await load_case(conn, staff, conversation_id)
            if conv.status != Status.ACTIVE or conv.counselor_id != staff.id:
                raise CaseConflict("only the counselor holding an open case can reply")
            seq = await convs.next_seq(conn, conversation_id, now)
            await convs.insert_message(
                conn, conversation_id=conversation_id, seq=seq, direction=Direction.OUT,
                body_sealed=deps.keyring.seal_text(text, f"msg:{conversation_id}:{seq}"),
                at=now, provider_key=provider_key, counselor_id=staff.id)
    except IntegrityError:
        # The same client id raced itself; the first one won.
        async with deps.engine.connect() as conn:
            dup = await convs.find_by_provider_key(conn, provider_key)
        if dup is None:
            raise
        return dup[1]
    metrics.MESSAGES_OUT.labels(conv.channel.value).inc()
    await deps.publish({"type": "message", "conversation": conversation_id, "seq": seq,
                        "direction": Direction.OUT.value})
    return seq


async def close(deps: Deps, staff: Staff, conversation_id: str, form: IntakeForm) -> None:
    """Close a case and write its anonymized intake record (pseudonym and form fields only)."""
    now = utcnow()
    retention = deps.config.retention
    async with deps.engine.begin() as conn:
        conv = await load_case(conn, staff, conversation_id)
        if conv.status == Status.CLOSED:
            raise CaseConflict("already closed")
        if conv.status == Status.ACTIVE and conv.counselor_id != staff.id \
                and not staff.sees_all_cases:
            raise CaseNotFound(conversation_id)
        await convs.close(conn, conversation_id, now,
                          purge_contact_at=now + timedelta(days=retention.contact_days),
                          purge_transcript_at=now + timedelta(days=retention.transcript_days))
        started = conv.assigned_at or now
        await conn.execute(insert(intake_records).values(
            conversation_id=conversation_id, pseudonym=conv.pseudonym,
            channel=conv.channel.value, language=conv.language, opened_at=conv.created_at,
            closed_at=now, wait_seconds=int((started - conv.enqueued_at).total_seconds()),
            handling_seconds=int((now - started).total_seconds()),
            harm_type=form.harm_type, platforms=",".join(form.platforms),
            age_band=form.age_band, urgency=form.urgency.value,
            referrals=",".join(form.referrals), outcome=form.outcome,
            counselor_id=conv.counselor_id))
        await audit.record(conn, at=now, actor_id=staff.id, action="case.closed",
                           target_kind="conversation", target_id=conversation_id,
                           outcome=form.outcome)
    try:
        if conv.status == Status.WAITING:
            await deps.live.remove(conversation_id)
        else:
            await deps.live.release(conversation_id)
    except (RedisError, OSError) as e:
        log.warning("live state not updated on close; reconciler will fix it",
                    extra={"conversation": conversation_id, "error": type(e).__name__})
    await deps.publish({"type": "closed", "conversation": conversation_id,
                        "counselor": conv.counselor_id})
