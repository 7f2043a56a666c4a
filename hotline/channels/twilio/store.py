"""SQL access for the phone and SMS channels: SMS opt-outs, SMS intake state, sent SMS parts
and voice calls (the twilio room's tables; counselors' phones are the staff room's,
hotline.staff.store, call-back requests the callbacks room's, hotline.callbacks.store).
Callers own the transaction.

No phone number is stored here: opt-outs go by the sender's keyed pseudonym, texts and
calls by Twilio's ids. See docs/twilio.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from hotline.cases import case_rows
from hotline.channels.twilio.tables import sms_intake, sms_optouts, sms_parts, voice_calls
from hotline.domain.conversation import Stored
from hotline.stores.sql import direct
from hotline.stores.sql.direct import Prebuilt, Sql, run

# --- SMS opt-outs (STOP / START) ---


async def is_opted_out(conn: AsyncConnection, pseudonym: str) -> bool:
    row = (await conn.execute(select(sms_optouts.c.pseudonym)
                              .where(sms_optouts.c.pseudonym == pseudonym))).first()
    return row is not None


async def opt_out(conn: AsyncConnection, pseudonym: str, at: datetime) -> bool:
    """Record a STOP; False if the sender had already opted out."""
    if await is_opted_out(conn, pseudonym):
        return False
    await conn.execute(insert(sms_optouts).values(pseudonym=pseudonym, created_at=at))
    return True


async def opt_in(conn: AsyncConnection, pseudonym: str) -> bool:
    """Record a START; False if the sender had not opted out."""
    res = await conn.execute(delete(sms_optouts).where(sms_optouts.c.pseudonym == pseudonym))
    return res.rowcount > 0


# --- SMS intake state ---


@dataclass(frozen=True)
class SmsCase:
    """What the SMS channel needs after storing a message, read in one statement."""

    status: str
    language: str
    step: str | None
    pending: str | None
    opted_out: bool


def sms_reads(conversation_id: ColumnElement[str]) -> tuple[ColumnElement[Any], ...]:
    """The rest of SmsCase (intake step and pending choice, opted out), as columns the inbox
    reads with the message's own statement on PostgreSQL (inbox.receive's `reads`)."""
    def of(col: ColumnElement[Any]) -> ColumnElement[Any]:
        return select(col).where(sms_intake.c.conversation_id == conversation_id) \
            .scalar_subquery()
    return (of(sms_intake.c.step), of(sms_intake.c.pending),
            exists().where(sms_optouts.c.pseudonym == bindparam("b_pseudonym")))


def sms_case_of(read: Sequence[object]) -> SmsCase:
    """The SmsCase in what the inbox read with `sms_reads` (Stored.read)."""
    status, language, step, pending, opted_out = read
    return SmsCase(str(status), str(language), None if step is None else str(step),
                   None if pending is None else str(pending), bool(opted_out))


async def sms_case(conn: Sql, conversation_id: str, pseudonym: str) -> SmsCase | None:
    """A conversation's status and language, its intake step, and whether its sender opted out,
    when the inbox's statement did not read them: `sms_reads` with the conversation's row, in
    one prebuilt statement of the cases room (case_rows.with_reads)."""
    row = await case_rows.with_reads(conn, conversation_id, pseudonym, sms_reads)
    return None if row is None else sms_case_of(row)


# What the dialogue decides from the case's state: the intake step to move to (step, pending
# choice), or None to stay.
Decide = Callable[[SmsCase | None, Stored], tuple[str, str | None] | None]


def intake_in_tx(pseudonym: str, first_step: str, at: datetime, decide: Decide
                 ) -> Callable[[Sql, Stored], Awaitable[None]]:
    """The SMS dialogue's part of the inbox's transaction (inbox.receive's `in_tx`): a new
    conversation starts its intake questions at `first_step`, the state the next step depends
    on is read (or taken from what the message's own statement read), and the step `decide`
    returns is written, all without a second transaction (`decide` is given None when the
    conversation is not found)."""
    async def in_tx(conn: Sql, stored: Stored) -> None:
        case: SmsCase | None
        if stored.read is not None:  # read with the message's statement (PostgreSQL)
            case = sms_case_of(stored.read)
        else:
            if stored.new_conversation:
                await start_intake(conn, stored.conversation_id, first_step, at)
            case = await sms_case(conn, stored.conversation_id, pseudonym)
        move = decide(case, stored)
        if move is not None:
            await set_intake(conn, stored.conversation_id, *move, at)
    return in_tx


async def intake_state(conn: AsyncConnection, conversation_id: str
                       ) -> tuple[str, str | None] | None:
    row = (await conn.execute(select(sms_intake.c.step, sms_intake.c.pending).where(
        sms_intake.c.conversation_id == conversation_id))).first()
    return (str(row[0]), row[1]) if row else None


_START_INTAKE = Prebuilt(insert(sms_intake),
                         keys=("conversation_id", "step", "pending", "updated_at"))


async def start_intake(conn: Sql, conversation_id: str, step: str, at: datetime) -> None:
    """The first intake step of a conversation just opened (it has no intake row yet)."""
    await run(conn, _START_INTAKE, {"conversation_id": conversation_id, "step": step,
                                    "pending": None, "updated_at": at})


_SET_INTAKE = Prebuilt(update(sms_intake)
                       .where(sms_intake.c.conversation_id == bindparam("b_cid"))
                       .values(step=bindparam("b_step"), pending=bindparam("b_pending"),
                               updated_at=bindparam("b_at", type_=sms_intake.c.updated_at.type)))


async def set_intake(conn: Sql, conversation_id: str, step: str, pending: str | None,
                     at: datetime) -> None:
    """Move a conversation's intake to `step` (a row is added if it has none)."""
    if await run(conn, _SET_INTAKE, {"b_cid": conversation_id, "b_step": step,
                                     "b_pending": pending, "b_at": at}) == 0:
        await run(conn, _START_INTAKE, {"conversation_id": conversation_id, "step": step,
                                        "pending": pending, "updated_at": at})


async def move_intake(engine: AsyncEngine, conversation_id: str, step: str,
                      pending: str | None, at: datetime) -> None:
    """`set_intake` in a transaction of its own (after the message's transaction: the last
    call-back answer, once the request is recorded)."""
    async with direct.begin(engine) as conn:
        await set_intake(conn, conversation_id, step, pending, at)


# --- SMS parts of a counselor's reply ---


@dataclass(frozen=True)
class Part:
    message_sid: str
    conversation_id: str
    seq: int
    part: int
    parts: int
    status: str
    error: str | None


async def sent_parts(conn: AsyncConnection, conversation_id: str, seq: int) -> dict[int, str]:
    """Parts of one reply Twilio already accepted: part index -> MessageSid."""
    rows = await conn.execute(select(sms_parts.c.part, sms_parts.c.message_sid).where(and_(
        sms_parts.c.conversation_id == conversation_id, sms_parts.c.seq == seq)))
    return {int(r[0]): str(r[1]) for r in rows}


async def add_part(conn: AsyncConnection, *, message_sid: str, conversation_id: str, seq: int,
                   part: int, parts: int, at: datetime) -> None:
    await conn.execute(insert(sms_parts).values(
        message_sid=message_sid, conversation_id=conversation_id, seq=seq, part=part,
        parts=parts, status="sent", error=None, created_at=at))


# Delivery reports for one part can arrive out of order: a later state is never overwritten
# by an earlier one ("sent" arriving after "delivered").
STATUS_RANK = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3,
               "receiving": 3, "received": 3, "delivered": 4, "read": 5, "undelivered": 6,
               "failed": 6, "canceled": 6}


async def set_part_status(conn: AsyncConnection, message_sid: str, status: str,
                          error: str | None) -> list[Part] | None:
    """Record a status callback; returns every part of the same reply (None: unknown sid)."""
    row = (await conn.execute(select(sms_parts.c.conversation_id, sms_parts.c.seq,
                                     sms_parts.c.status)
                              .where(sms_parts.c.message_sid == message_sid))).first()
    if row is None:
        return None
    if STATUS_RANK.get(status, 0) >= STATUS_RANK.get(row[2], 0):
        await conn.execute(update(sms_parts).where(sms_parts.c.message_sid == message_sid)
                           .values(status=status, error=error))
    rows = await conn.execute(select(sms_parts).where(and_(
        sms_parts.c.conversation_id == row[0], sms_parts.c.seq == row[1]))
        .order_by(sms_parts.c.part))
    return [Part(r.message_sid, r.conversation_id, r.seq, r.part, r.parts, r.status, r.error)
            for r in rows]


# --- voice calls ---


@dataclass(frozen=True)
class Call:
    call_sid: str
    direction: str
    conversation_id: str | None
    language: str | None
    state: str
    pending: str | None
    counselor_id: int | None
    created_at: datetime


def _call(r: Any) -> Call:
    return Call(r.call_sid, r.direction, r.conversation_id, r.language, r.state, r.pending,
                r.counselor_id, r.created_at)


async def get_call(conn: AsyncConnection, call_sid: str) -> Call | None:
    row = (await conn.execute(select(voice_calls).where(voice_calls.c.call_sid == call_sid))
           ).first()
    return _call(row) if row else None


async def add_call(conn: AsyncConnection, *, call_sid: str, direction: str, state: str,
                   at: datetime, conversation_id: str | None = None,
                   language: str | None = None, counselor_id: int | None = None) -> None:
    await conn.execute(insert(voice_calls).values(
        call_sid=call_sid, direction=direction, state=state, conversation_id=conversation_id,
        language=language, counselor_id=counselor_id, created_at=at, updated_at=at))


async def update_call(conn: AsyncConnection, call_sid: str, at: datetime,
                      only_states: tuple[str, ...] | None = None, **values: Any) -> bool:
    """Change a call; with `only_states`, only from one of those states (True if changed)."""
    cond: ColumnElement[bool] = voice_calls.c.call_sid == call_sid
    if only_states is not None:
        cond = and_(cond, voice_calls.c.state.in_(only_states))
    res = await conn.execute(update(voice_calls).where(cond).values(updated_at=at, **values))
    return res.rowcount == 1


async def calls_in_state(conn: AsyncConnection, state: str, limit: int = 100) -> list[Call]:
    rows = await conn.execute(select(voice_calls).where(voice_calls.c.state == state)
                              .order_by(voice_calls.c.created_at).limit(limit))
    return [_call(r) for r in rows]


async def inbound_call_for(conn: AsyncConnection, conversation_id: str) -> Call | None:
    """The victim's live inbound call for a conversation (the newest one)."""
    row = (await conn.execute(select(voice_calls).where(and_(
        voice_calls.c.conversation_id == conversation_id, voice_calls.c.direction == "in"))
        .order_by(voice_calls.c.created_at.desc()).limit(1))).first()
    return _call(row) if row else None
