"""SQL access for conversations and their messages. Callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from hotline.cases.tables import conversations, messages
from hotline.domain.conversation import Channel, Direction, Status, Urgency
from hotline.stores.sql.direct import Prebuilt, Row, Sql, first, run


@dataclass(frozen=True)
class ConversationRow:
    id: str
    channel: Channel
    pseudonym: str
    language: str
    status: Status
    urgency: Urgency
    counselor_id: int | None
    created_at: datetime
    enqueued_at: datetime
    assigned_at: datetime | None
    closed_at: datetime | None
    has_contact: bool
    reasons: tuple[str, ...] = ()
    # When the victim left (Quick exit, or silence a holder was told of); None: not known.
    victim_left_at: datetime | None = None
    # The case this conversation returns to (the victim came back with its number).
    return_of: str | None = None
    # Signal codes staff withdrew from the case ("content_spreading").
    withdrawn: tuple[str, ...] = ()


@dataclass(frozen=True)
class MessageRow:
    seq: int
    direction: Direction
    body_sealed: bytes | None
    counselor_id: int | None
    delivery: str
    created_at: datetime


# "Not closed" written as the literal the partial index uq_conversations_open_sender is
# defined with: SQLite re-prepares a statement on every execution when a bound parameter
# might decide whether a partial index applies (measured: 21 us instead of 7 us an UPDATE).
NOT_CLOSED = conversations.c.status != literal_column("'closed'")

CONV_COLS = (
    conversations.c.id, conversations.c.channel, conversations.c.pseudonym,
    conversations.c.language, conversations.c.status, conversations.c.urgency,
    conversations.c.counselor_id, conversations.c.created_at, conversations.c.enqueued_at,
    conversations.c.assigned_at, conversations.c.closed_at,
    conversations.c.contact_sealed.is_not(None).label("has_contact"),
    conversations.c.urgency_reasons, conversations.c.victim_left_at,
    conversations.c.return_of,
    conversations.c.signals_withdrawn,
)


def row_of(r: Row) -> ConversationRow:
    """A row of CONV_COLS."""
    return ConversationRow(
        id=r[0], channel=Channel(r[1]), pseudonym=r[2], language=r[3], status=Status(r[4]),
        urgency=Urgency(r[5]), counselor_id=r[6], created_at=r[7], enqueued_at=r[8],
        assigned_at=r[9], closed_at=r[10], has_contact=bool(r[11]),
        reasons=tuple(x for x in r[12].split(",") if x), victim_left_at=r[13],
        return_of=r[14],
        withdrawn=tuple(x for x in r[15].split(",") if x),
    )


def new_conversation_id() -> str:
    return uuid.uuid4().hex


async def get(conn: AsyncConnection, conversation_id: str) -> ConversationRow | None:
    row = (await conn.execute(select(*CONV_COLS).where(conversations.c.id == conversation_id))
           ).first()
    return row_of(row) if row else None


async def find_open(conn: AsyncConnection, channel: Channel, pseudonym: str
                    ) -> ConversationRow | None:
    row = (await conn.execute(select(*CONV_COLS).where(and_(
        conversations.c.channel == channel.value, conversations.c.pseudonym == pseudonym,
        NOT_CLOSED)))).first()
    return row_of(row) if row else None


# Built and compiled once: the inbound path runs these for every message, on the driver
# connection (direct.py); building a statement costs more than SQLite running it.
_BUMP = (
    update(conversations)
    .where(and_(conversations.c.channel == bindparam("b_channel"),
                conversations.c.pseudonym == bindparam("b_pseudonym"), NOT_CLOSED))
    .returning(conversations.c.id, conversations.c.urgency, conversations.c.urgency_reasons,
               conversations.c.next_seq, conversations.c.signals_withdrawn))
_BUMPED_OPEN = _BUMP.values(
    next_seq=conversations.c.next_seq + 1,
    last_activity_at=bindparam("b_at", type_=conversations.c.last_activity_at.type))
# A victim's own message also moves the rule on abandoned contacts on (domain/abandon.py) and
# undoes a "victim left" their silence had set.
_BUMPED_BY_VICTIM = _BUMP.values(
    next_seq=conversations.c.next_seq + 1,
    last_activity_at=bindparam("b_at", type_=conversations.c.last_activity_at.type),
    abandon_at=bindparam("b_deadline", type_=conversations.c.abandon_at.type),
    victim_left_at=None)
_BUMP_OPEN = Prebuilt(_BUMPED_OPEN)
_BUMP_BY_VICTIM = Prebuilt(_BUMPED_BY_VICTIM)


@dataclass(frozen=True)
class OpenCase:
    """What the inbound path needs of a sender's open conversation (its triage level)."""

    id: str
    urgency: Urgency
    reasons: tuple[str, ...]
    withdrawn: tuple[str, ...] = ()


# A channel's reads of its own state, as columns of the conversation id (scalar subqueries);
# they may use the statement's "b_pseudonym" parameter (the sender's pseudonym).
Reads = Callable[[ColumnElement[str]], tuple[ColumnElement[Any], ...]]
_BUMP_READING: dict[tuple[bool, Reads], Prebuilt] = {}


def _bump_reading(victim: bool, reads: Reads) -> Prebuilt:
    """The bump returning, after its own columns, the status, the language and `reads`."""
    found = _BUMP_READING.get((victim, reads))
    if found is None:
        base = _BUMPED_BY_VICTIM if victim else _BUMPED_OPEN
        found = _BUMP_READING[(victim, reads)] = Prebuilt(base.returning(
            conversations.c.status, conversations.c.language, *reads(conversations.c.id)))
    return found


async def bump_open(conn: Sql, channel: Channel, pseudonym: str, at: datetime,
                    victim: bool = False, deadline: datetime | None = None,
                    reads: Reads | None = None
                    ) -> tuple[OpenCase, int, tuple[object, ...] | None] | None:
    """The sender's open conversation with its next message number allocated, in one
    statement (row-locked on PostgreSQL, write-locked on SQLite); None if there is none.
    A `victim`'s message also sets the abandonment `deadline`. With `reads` (SQLite only:
    on PostgreSQL an UPDATE that waited for the row lock returns subqueries of its snapshot
    from before the wait), the third item is the status, the language and their columns."""
    params: dict[str, object] = {"b_channel": channel.value, "b_pseudonym": pseudonym,
                                 "b_at": at}
    if victim:
        params["b_deadline"] = deadline
    stmt = (_BUMP_BY_VICTIM if victim else _BUMP_OPEN) if reads is None \
        else _bump_reading(victim, reads)
    row = await first(conn, stmt, params)
    if row is None:
        return None
    return (OpenCase(row[0], Urgency(row[1]), tuple(x for x in row[2].split(",") if x),
                     tuple(x for x in row[4].split(",") if x)), int(row[3]),
            None if reads is None else tuple(row[5:]))


_INSERT_CONVERSATION = Prebuilt(insert(conversations), keys=(
    "id", "channel", "pseudonym", "language", "status", "urgency", "contact_sealed",
    "created_at", "enqueued_at", "last_activity_at", "urgency_reasons", "next_seq",
    "abandon_at"))


async def insert_conversation(conn: Sql, *, conversation_id: str, channel: Channel,
                              pseudonym: str, language: str, urgency: Urgency, at: datetime,
                              contact_sealed: bytes | None = None,
                              reasons: tuple[str, ...] = (), next_seq: int = 0,
                              abandon_at: datetime | None = None) -> None:
    """A new waiting conversation; `next_seq` 1 when its first message is inserted at once."""
    await run(conn, _INSERT_CONVERSATION, {
        "id": conversation_id, "channel": channel.value, "pseudonym": pseudonym,
        "language": language, "status": Status.WAITING.value, "urgency": urgency.value,
        "contact_sealed": contact_sealed, "created_at": at, "enqueued_at": at,
        "last_activity_at": at, "urgency_reasons": ",".join(reasons), "next_seq": next_seq,
        "abandon_at": abandon_at})


# The n-th newest conversation a sender opened since a time (ix_conversations_sender): it
# exists iff the sender opened at least n since then; at most n index entries are read.
_NTH_SINCE = Prebuilt(
    select(conversations.c.created_at)
    .where(and_(conversations.c.channel == bindparam("b_channel"),
                conversations.c.pseudonym == bindparam("b_pseudonym"),
                conversations.c.created_at > bindparam(
                    "b_since", type_=conversations.c.created_at.type)))
    .order_by(conversations.c.created_at.desc())
    .limit(1).offset(bindparam("b_skip")))


async def opened_since(conn: Sql, channel: Channel, pseudonym: str, since: datetime, n: int
                       ) -> bool:
    """Whether the sender opened at least `n` conversations after `since`."""
    return await first(conn, _NTH_SINCE, {"b_channel": channel.value,
                                          "b_pseudonym": pseudonym, "b_since": since,
                                          "b_skip": n - 1}) is not None


_HOLD = Prebuilt(
    update(conversations).where(conversations.c.id == bindparam("b_id"))
    .values(status=Status.CLOSED.value,
            closed_at=bindparam("b_at", type_=conversations.c.closed_at.type),
            purge_contact_at=bindparam("b_contact", type_=conversations.c.purge_contact_at.type),
            purge_transcript_at=bindparam("b_transcript",
                                          type_=conversations.c.purge_transcript_at.type)))


async def hold(conn: Sql, conversation_id: str, at: datetime, purge_contact_at: datetime,
               purge_transcript_at: datetime) -> None:
    """Close a conversation the moment it opened (held by a flood limit): never queued."""
    await run(conn, _HOLD, {"b_id": conversation_id, "b_at": at, "b_contact": purge_contact_at,
                            "b_transcript": purge_transcript_at})


async def next_seq(conn: AsyncConnection, conversation_id: str, at: datetime) -> int:
    """Allocate the next message number (row-locked on PostgreSQL, write-locked on SQLite)."""
    result = await conn.execute(
        update(conversations).where(conversations.c.id == conversation_id)
        .values(next_seq=conversations.c.next_seq + 1, last_activity_at=at)
        .returning(conversations.c.next_seq))
    return int(result.scalar_one())


async def next_seq_held(conn: AsyncConnection, conversation_id: str, counselor_id: int,
                        at: datetime) -> int | None:
    """next_seq, only while `counselor_id` holds the case open; None otherwise. The check
    and the allocation are one statement: a close or a reassignment committed after the
    caller read the case is seen here (the row lock waits for it)."""
    result = await conn.execute(
        update(conversations).where(and_(conversations.c.id == conversation_id,
                                         conversations.c.status == Status.ACTIVE.value,
                                         conversations.c.counselor_id == counselor_id))
        .values(next_seq=conversations.c.next_seq + 1, last_activity_at=at)
        .returning(conversations.c.next_seq))
    seq = result.scalar_one_or_none()
    return None if seq is None else int(seq)


async def insert_message(conn: AsyncConnection, *, conversation_id: str, seq: int,
                         direction: Direction, body_sealed: bytes, at: datetime,
                         provider_key: str | None = None, counselor_id: int | None = None,
                         delivery: str = "stored") -> None:
    await conn.execute(insert(messages).values(
        conversation_id=conversation_id, seq=seq, direction=direction.value,
        body_sealed=body_sealed, provider_key=provider_key, counselor_id=counselor_id,
        delivery=delivery, created_at=at,
    ))


_INBOUND_KEYS = ("conversation_id", "seq", "direction", "body_sealed", "provider_key",
                 "delivery", "counselor_id", "created_at")
_INSERT_INBOUND = {
    name: Prebuilt(dialect_insert(messages)
                   .on_conflict_do_nothing(index_elements=[messages.c.provider_key])
                   .returning(messages.c.id), keys=_INBOUND_KEYS)
    for name, dialect_insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


async def insert_inbound(conn: Sql, *, conversation_id: str, seq: int,
                         direction: Direction, body_sealed: bytes, at: datetime,
                         provider_key: str) -> bool:
    """Insert a provider's message unless its key is already stored (a retry): False then.

    The unique key decides, so two copies racing each other store one row."""
    row = await first(conn, _INSERT_INBOUND[conn.dialect.name], {
        "conversation_id": conversation_id, "seq": seq, "direction": direction.value,
        "body_sealed": body_sealed, "provider_key": provider_key, "delivery": "stored",
        "counselor_id": None, "created_at": at})
    return row is not None


_BY_PROVIDER_KEY = Prebuilt(select(messages.c.conversation_id, messages.c.seq)
                            .where(messages.c.provider_key == bindparam("b_key")))


async def find_by_provider_key(conn: Sql, provider_key: str) -> tuple[str, int] | None:
    row = await first(conn, _BY_PROVIDER_KEY, {"b_key": provider_key})
    return (row[0], row[1]) if row else None


async def list_messages(conn: AsyncConnection, conversation_id: str, after_seq: int = 0,
                        limit: int = 500) -> list[MessageRow]:
    rows = await conn.execute(
        select(messages.c.seq, messages.c.direction, messages.c.body_sealed,
               messages.c.counselor_id, messages.c.delivery, messages.c.created_at)
        .where(and_(messages.c.conversation_id == conversation_id, messages.c.seq > after_seq))
        .order_by(messages.c.seq).limit(limit))
    return [MessageRow(r.seq, Direction(r.direction), r.body_sealed, r.counselor_id, r.delivery,
                       r.created_at) for r in rows]


async def assign(conn: AsyncConnection, conversation_id: str, counselor_id: int,
                 at: datetime) -> bool:
    """Waiting -> active for this counselor; False if it was no longer waiting."""
    result = await conn.execute(
        update(conversations)
        .where(and_(conversations.c.id == conversation_id,
                    conversations.c.status == Status.WAITING.value))
        .values(status=Status.ACTIVE.value, counselor_id=counselor_id, assigned_at=at,
                last_activity_at=at))
    return result.rowcount == 1


async def close(conn: AsyncConnection, conversation_id: str, at: datetime,
                purge_contact_at: datetime, purge_transcript_at: datetime,
                held_by: int | None = None) -> bool:
    """Any status -> closed; False if it was closed already (or, with `held_by`, is not
    held by that counselor). On PostgreSQL a concurrent close waits for this row and then
    finds it closed: exactly one close of a case returns True."""
    held = [] if held_by is None else [conversations.c.counselor_id == held_by]
    result = await conn.execute(
        update(conversations)
        .where(and_(conversations.c.id == conversation_id,
                    conversations.c.status != Status.CLOSED.value, *held))
        .values(status=Status.CLOSED.value, closed_at=at, last_activity_at=at,
                purge_contact_at=purge_contact_at, purge_transcript_at=purge_transcript_at,
                abandon_at=None))
    return result.rowcount == 1


async def open_conversations(conn: AsyncConnection) -> list[ConversationRow]:
    """Every waiting or active conversation (the truth the live store is rebuilt from)."""
    rows = await conn.execute(select(*CONV_COLS)
                              .where(conversations.c.status != Status.CLOSED.value)
                              .order_by(conversations.c.enqueued_at))
    return [row_of(r) for r in rows]


async def held_by(conn: AsyncConnection, counselor_id: int) -> list[ConversationRow]:
    rows = await conn.execute(select(*CONV_COLS).where(and_(
        conversations.c.counselor_id == counselor_id,
        conversations.c.status == Status.ACTIVE.value)).order_by(conversations.c.assigned_at))
    return [row_of(r) for r in rows]


async def latest_for(conn: AsyncConnection, channel: Channel, pseudonym: str
                     ) -> ConversationRow | None:
    """The sender's most recent conversation on a channel, open or closed."""
    row = (await conn.execute(select(*CONV_COLS).where(and_(
        conversations.c.channel == channel.value, conversations.c.pseudonym == pseudonym))
        .order_by(conversations.c.created_at.desc()).limit(1))).first()
    return row_of(row) if row else None


async def reasons_of(conn: AsyncConnection, ids: list[str]) -> dict[str, tuple[str, ...]]:
    """The urgency reason codes of each of `ids` (for the queue and offers: why urgent)."""
    if not ids:
        return {}
    rows = await conn.execute(select(conversations.c.id, conversations.c.urgency_reasons)
                              .where(conversations.c.id.in_(ids)))
    return {r.id: tuple(x for x in r.urgency_reasons.split(",") if x) for r in rows}


async def urgency_and_answers(conn: AsyncConnection, conversation_id: str
                              ) -> tuple[str, str] | None:
    """A case's urgency and its intake answers as stored (JSON text), in one read: what a
    staff alert shows."""
    row = (await conn.execute(select(conversations.c.urgency, conversations.c.intake_answers)
                              .where(conversations.c.id == conversation_id))).first()
    return (str(row.urgency), str(row.intake_answers or "{}")) if row else None


async def intake_answers_json(conn: AsyncConnection, conversation_id: str) -> str:
    """The victim's answers to the first questions, as stored (JSON text)."""
    raw = (await conn.execute(select(conversations.c.intake_answers).where(
        conversations.c.id == conversation_id))).scalar_one_or_none()
    return str(raw or "{}")


async def delivery_errors(conn: AsyncConnection, conversation_id: str, after_seq: int
                          ) -> dict[int, str]:
    """Why each failed reply of a case failed (the provider's error code), by seq."""
    rows = await conn.execute(select(messages.c.seq, messages.c.last_error).where(and_(
        messages.c.conversation_id == conversation_id, messages.c.seq > after_seq,
        messages.c.delivery == "failed", messages.c.last_error.is_not(None))))
    return {r.seq: r.last_error for r in rows}


async def last_inbound_at(conn: AsyncConnection, conversation_id: str) -> datetime | None:
    """When the victim last wrote (None: never)."""
    at: datetime | None = (await conn.execute(select(func.max(messages.c.created_at)).where(and_(
        messages.c.conversation_id == conversation_id,
        messages.c.direction == Direction.IN.value)))).scalar_one_or_none()
    return at
