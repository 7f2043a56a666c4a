"""Statements on cases' rows that other rooms need: the victim's way back (hotline.victim: a
case's conversations, status, language, Quick exit, erasure), call-backs, and a channel's
read of a conversation with its own state (SMS: `with_reads`). The cases room owns these
tables (one owner per table), so the statements live here; callers own the transaction. See
docs/victim.md and docs/privacy.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.cases.conversations import Reads
from hotline.cases.tables import conversations, handovers, messages
from hotline.domain.conversation import Channel, Direction, Status
from hotline.stores.sql.direct import Prebuilt, Row, Sql, first


@dataclass(frozen=True)
class CaseConversation:
    id: str
    channel: str
    status: str
    language: str
    created_at: datetime
    last_activity_at: datetime
    intake_answers: str
    urgency_reasons: str


_WITH_READS: dict[Reads, Prebuilt] = {}


async def with_reads(conn: Sql, conversation_id: str, pseudonym: str, reads: Reads
                     ) -> Row | None:
    """A conversation's status and language followed by the columns of a channel's `reads`
    (inbox.receive's, given the sender's pseudonym as "b_pseudonym"), in one prebuilt
    statement: what `Stored.read` holds when the message's own statement did not read them
    (SQLite; on PostgreSQL a new conversation or a wrong guess). None: no such conversation."""
    stmt = _WITH_READS.get(reads)
    if stmt is None:
        stmt = _WITH_READS[reads] = Prebuilt(
            select(conversations.c.status, conversations.c.language,
                   *reads(conversations.c.id))
            .where(conversations.c.id == bindparam("b_cid")))
    return await first(conn, stmt, {"b_cid": conversation_id, "b_pseudonym": pseudonym})


async def case_conversations(conn: AsyncConnection, root_id: str
                             ) -> list[CaseConversation]:
    """The case's first conversation and its returns, oldest first."""
    rows = await conn.execute(select(
        conversations.c.id, conversations.c.channel, conversations.c.status,
        conversations.c.language, conversations.c.created_at, conversations.c.last_activity_at,
        conversations.c.intake_answers, conversations.c.urgency_reasons).where(
        (conversations.c.id == root_id) | (conversations.c.return_of == root_id))
        .order_by(conversations.c.created_at))
    return [CaseConversation(*r) for r in rows]


async def set_return_of(conn: AsyncConnection, conversation_id: str, root_id: str) -> bool:
    """Mark a conversation as a return of `root_id` (only once, never to itself)."""
    if conversation_id == root_id:
        return False
    result = await conn.execute(update(conversations).where(and_(
        conversations.c.id == conversation_id, conversations.c.return_of.is_(None)))
        .values(return_of=root_id))
    return bool(result.rowcount)


async def sender_in_case(conn: AsyncConnection, pseudonym: str, root_id: str) -> bool:
    """Whether `pseudonym` sent the case's first conversation or one of its returns."""
    found = (await conn.execute(select(conversations.c.id).where(
        conversations.c.pseudonym == pseudonym,
        (conversations.c.id == root_id) | (conversations.c.return_of == root_id)).limit(1))
    ).first()
    return found is not None


async def closed_between(conn: AsyncConnection, start: datetime, end: datetime, limit: int
                         ) -> list[str]:
    """Conversations closed in [start, end), oldest first (ix_conversations_closed_at)."""
    return [str(r) for r in (await conn.execute(
        select(conversations.c.id).where(and_(conversations.c.closed_at >= start,
                                              conversations.c.closed_at < end))
        .order_by(conversations.c.closed_at).limit(limit))).scalars()]


async def last_reply_delivery(conn: AsyncConnection, conversation_id: str) -> str | None:
    """The delivery state of the latest reply sent into the conversation (None: none yet)."""
    return (await conn.execute(select(messages.c.delivery).where(and_(
        messages.c.conversation_id == conversation_id,
        messages.c.direction == Direction.OUT.value)).order_by(messages.c.seq.desc())
        .limit(1))).scalar_one_or_none()


async def set_language(conn: AsyncConnection, conversation_id: str, language: str) -> None:
    await conn.execute(update(conversations).where(conversations.c.id == conversation_id)
                       .values(language=language))


async def mark_left(conn: AsyncConnection, conversation_id: str, at: datetime,
                    abandon_at: datetime | None) -> bool:
    """The victim left (Quick exit): noted once, with when the abandoned rule takes over.
    False when it was already noted."""
    marked = await conn.execute(update(conversations).where(and_(
        conversations.c.id == conversation_id, conversations.c.victim_left_at.is_(None)))
        .values(victim_left_at=at, abandon_at=abandon_at))
    return bool(marked.rowcount == 1)


async def add_reason(conn: AsyncConnection, conversation_id: str,
                     reasons: Sequence[str]) -> None:
    """Store the case's urgency reasons (codes, comma-separated as triage stores them)."""
    await conn.execute(update(conversations).where(conversations.c.id == conversation_id)
                       .values(urgency_reasons=",".join(reasons)))


async def contact_sealed(conn: AsyncConnection, conversation_id: str) -> bytes | None:
    """The victim's sealed reply address, while it is kept."""
    found = (await conn.execute(select(conversations.c.contact_sealed).where(
        conversations.c.id == conversation_id))).scalar_one_or_none()
    return None if found is None else bytes(found)


@dataclass(frozen=True)
class SenderRow:
    id: str
    status: Status
    counselor_id: int | None


async def of_sender(conn: AsyncConnection, channel: Channel, pseudonym: str
                    ) -> list[SenderRow]:
    """Every conversation of this sender on the channel (erasure)."""
    rows = await conn.execute(select(
        conversations.c.id, conversations.c.status, conversations.c.counselor_id).where(and_(
            conversations.c.channel == channel.value, conversations.c.pseudonym == pseudonym)))
    return [SenderRow(r.id, Status(r.status), r.counselor_id) for r in rows]


async def close_now(conn: AsyncConnection, conversation_id: str, at: datetime) -> None:
    """Closed at once, with no retention dates of its own (erasure: nothing is kept)."""
    await conn.execute(update(conversations).where(conversations.c.id == conversation_id)
                       .values(status=Status.CLOSED.value, closed_at=at, last_activity_at=at))


async def erase(conn: AsyncConnection, conversation_ids: Sequence[str],
                pseudonym: Callable[[], str]) -> int:
    """What is personal in these conversations goes: each gets an unlinkable pseudonym
    (`pseudonym()`), the sealed address and answers go, replies not yet delivered are
    cancelled, every message's text and provider key, and handover notes. The conversation
    and message rows stay as bare timings. How many messages lost their text."""
    cids = list(conversation_ids)
    for cid in cids:
        await conn.execute(update(conversations).where(conversations.c.id == cid).values(
            pseudonym=pseudonym(), contact_sealed=None, purge_contact_at=None,
            purge_transcript_at=None, intake_answers="{}"))
    # Undelivered replies are cancelled (their text is going); the console shows why.
    await conn.execute(update(messages).where(and_(
        messages.c.conversation_id.in_(cids), messages.c.direction == Direction.OUT.value,
        messages.c.delivery.in_(("pending", "retrying")))).values(
        delivery="failed", last_error="erased", next_attempt_at=None))
    result = await conn.execute(update(messages).where(
        messages.c.conversation_id.in_(cids)).values(body_sealed=None, provider_key=None))
    await conn.execute(update(handovers).where(handovers.c.conversation_id.in_(cids))
                       .values(note_sealed=None))
    return int(result.rowcount)
