"""Outbound delivery: every reply to a victim reaches them, or the counselor sees that it did not.

A reply is stored first (SQL, delivery "pending"), then handed to its channel's `Sender`. A
failure is retried with backoff (or after the delay the provider asked for) up to
MAX_ATTEMPTS, and every change of state is an event the console shows. Per conversation, only
the oldest undelivered reply is attempted, so a victim never receives replies out of order.
Delivery is at least once: a crash between the provider's acceptance and our update may send a
reply twice, never zero times. See docs/outbox.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError
from sqlalchemy import (
    Integer,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    update,
)

from hotline.cases.senders import Outgoing, SendResult
from hotline.cases.tables import conversations, messages
from hotline.domain.conversation import Channel, Direction
from hotline.domain.event_types import EventType
from hotline.jobs import pause, release_lease, take_lease
from hotline.stores.sql.schema import UTCDateTime

if TYPE_CHECKING:
    from hotline.deps import Deps

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Backoff between tries: 2 s, 4 s, ... capped at 5 minutes.
_BACKOFF_BASE_S = 2.0
_BACKOFF_CAP_S = 300.0
# A send taking longer than this counts as failed (and is retried).
SEND_TIMEOUT_S = 15.0
_LOCK_MS = 30_000


def backoff_s(attempts: int) -> float:
    """Delay before try number attempts+1."""
    return float(min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2 ** max(0, attempts - 1)))


# What the outbox pushes: counselors' replies, and the service's own words that are queued
# for delivery (the close notice; inbound system notes are never "pending").
_PUSHED = (Direction.OUT.value, Direction.SYSTEM.value)


def submit(deps: Deps, conversation_id: str, seq: int) -> None:
    """Try to deliver a just-stored reply now, in the background (the worker retries)."""
    task = asyncio.create_task(attempt(deps, conversation_id, seq))
    deps.outbox.tasks.add(task)
    task.add_done_callback(deps.outbox.tasks.discard)


async def attempt(deps: Deps, conversation_id: str, seq: int) -> str | None:
    """One delivery attempt; returns the new delivery state (None if not attempted)."""
    lock = deps.keys.send_lock(conversation_id, seq)
    try:
        token = await take_lease(deps.redis, lock, _LOCK_MS)
    except (RedisError, OSError):
        return None  # without the lock two instances could both send; the worker retries
    if token is None:
        return None
    try:
        return await _attempt(deps, conversation_id, seq)
    finally:
        with contextlib.suppress(RedisError, OSError):
            await release_lease(deps.redis, lock, token)


async def _attempt(deps: Deps, conversation_id: str, seq: int) -> str | None:
    # Replies of one conversation go out in order: an earlier one still undelivered blocks.
    earlier = messages.alias("earlier")
    blocked = (select(func.count()).select_from(earlier).where(and_(
        earlier.c.conversation_id == conversation_id, earlier.c.seq < seq,
        earlier.c.direction.in_(_PUSHED), earlier.c.delivery.in_(("pending", "retrying"))))
        .scalar_subquery())
    async with deps.engine.connect() as conn:
        row = (await conn.execute(
            select(messages.c.body_sealed, messages.c.delivery, messages.c.attempts,
                   conversations.c.channel, conversations.c.language,
                   conversations.c.contact_sealed, blocked.label("blocked"))
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(and_(messages.c.conversation_id == conversation_id,
                        messages.c.seq == seq)))).first()
    if row is None or row.delivery not in ("pending", "retrying") or row.blocked:
        return None
    channel = Channel(row.channel)
    sender = deps.outbox.senders.get(channel)
    if sender is None:
        return await _record(deps, conversation_id, seq, row.attempts,
                             SendResult(False, permanent=True, error="channel_off"))
    if row.contact_sealed is None or row.body_sealed is None:
        return await _record(deps, conversation_id, seq, row.attempts,
                             SendResult(False, permanent=True, error="no_contact"))
    address = deps.keyring.open_text_or_none(row.contact_sealed, f"contact:{conversation_id}")
    text = deps.keyring.open_text_or_none(row.body_sealed, f"msg:{conversation_id}:{seq}")
    if address is None or text is None:
        # Sealed under another key, or damaged: no retry can read it. Failing it visibly keeps
        # it from blocking this conversation's later replies (they go out in order) for ever.
        return await _record(deps, conversation_id, seq, row.attempts,
                             SendResult(False, permanent=True, error="unreadable"))
    out = Outgoing(conversation_id, seq, channel, row.language, address, text)
    try:
        async with asyncio.timeout(SEND_TIMEOUT_S):
            result = await sender.send(out)
    except TimeoutError:
        result = SendResult(False, error="timeout")
    except Exception as e:  # a channel bug must not lose the reply: retry and show it
        log.exception("sender raised", extra={"conversation": conversation_id, "seq": seq})
        result = SendResult(False, error=type(e).__name__[:64])
    return await _record(deps, conversation_id, seq, row.attempts, result)


async def _record(deps: Deps, conversation_id: str, seq: int, attempts: int,
                  result: SendResult) -> str:
    now = datetime.now(UTC)
    tries = attempts + 1
    if result.ok:
        state, next_at, error = "sent", None, None
    elif result.permanent or tries >= MAX_ATTEMPTS:
        state, next_at, error = "failed", None, result.error or "failed"
    else:
        wait = result.retry_after_s if result.retry_after_s is not None else backoff_s(tries)
        state, next_at, error = "retrying", now + timedelta(seconds=wait), result.error
    # A provider's report can beat us here (Twilio calls back before create() returns): a
    # "delivered" or "failed" it already recorded is not overwritten by "sent".
    delivery: Any = state
    if result.ok:
        delivery = case((messages.c.delivery.in_(("delivered", "failed")), messages.c.delivery),
                        else_=state)
    async with deps.engine.begin() as conn:
        state = (await conn.execute(update(messages).where(and_(
            messages.c.conversation_id == conversation_id, messages.c.seq == seq)).values(
            delivery=delivery, attempts=tries, next_attempt_at=next_at, last_error=error,
            provider_ref=result.provider_ref).returning(messages.c.delivery))).scalar_one()
    state = str(state)
    log.info("delivery", extra={"conversation": conversation_id, "seq": seq, "state": state,
                                "attempts": tries, "error": error})
    await deps.publish({"type": EventType.DELIVERY, "conversation": conversation_id, "seq": seq,
                        "delivery": state, "error": error})
    if result.ok:
        # The next reply of this conversation may have been waiting for this one.
        nxt = await _next_pending(deps, conversation_id)
        if nxt is not None:
            submit(deps, conversation_id, nxt)
    return state


async def _next_pending(deps: Deps, conversation_id: str) -> int | None:
    async with deps.engine.connect() as conn:
        seq = (await conn.execute(select(func.min(messages.c.seq)).where(and_(
            messages.c.conversation_id == conversation_id,
            messages.c.direction.in_(_PUSHED),
            messages.c.delivery == "pending")))).scalar_one()
    return None if seq is None else int(seq)


async def mark_seq(deps: Deps, conversation_id: str, seq: int, state: str,
                   error: str | None = None) -> bool:
    """A provider's status report about one known reply (e.g. every SMS part delivered).
    A repeated report changes nothing and announces nothing: False then."""
    async with deps.engine.begin() as conn:
        changed = (await conn.execute(update(messages).where(and_(
            messages.c.conversation_id == conversation_id, messages.c.seq == seq,
            messages.c.delivery != state)).values(delivery=state, last_error=error))
        ).rowcount == 1
    if changed:
        await deps.publish({"type": EventType.DELIVERY, "conversation": conversation_id, "seq": seq,
                            "delivery": state, "error": error})
    return changed


# Written as the literal the partial index ix_messages_undelivered is defined with, so both
# databases can prove the index applies (with bound values they re-plan or scan).
_UNDELIVERED = messages.c.delivery.in_([literal_column("'pending'"),
                                        literal_column("'retrying'")])


def _due_query() -> Select[Any]:
    heads = (select(messages.c.conversation_id.label("cid"), func.min(messages.c.seq)
                    .label("seq"))
             .where(and_(messages.c.direction.in_(_PUSHED), _UNDELIVERED))
             .group_by(messages.c.conversation_id).subquery())
    return (select(heads.c.cid, heads.c.seq)
            .join(messages, and_(messages.c.conversation_id == heads.c.cid,
                                 messages.c.seq == heads.c.seq))
            .where(or_(messages.c.next_attempt_at.is_(None),
                       messages.c.next_attempt_at <= bindparam("now", type_=UTCDateTime())))
            .limit(bindparam("limit", type_=Integer())))


# Built once: built every second, its subquery's copied columns made reference cycles, a few
# hundred objects a second left for the garbage collector.
_DUE = _due_query()


async def due(deps: Deps, now: datetime, limit: int = 100) -> list[tuple[str, int]]:
    """The oldest undelivered reply of each conversation that is due for a try."""
    async with deps.engine.connect() as conn:
        rows = await conn.execute(_DUE, {"now": now, "limit": limit})
        return [(r[0], int(r[1])) for r in rows]


async def run_outbox(deps: Deps, stop: asyncio.Event, every_s: float = 1.0) -> None:
    """Forever: retry what is due (every instance may run this; a per-message lock decides)."""
    while not stop.is_set():
        with contextlib.suppress(RedisError, OSError):
            for cid, seq in await due(deps, datetime.now(UTC)):
                try:
                    await attempt(deps, cid, seq)
                except (RedisError, OSError):
                    raise
                except Exception as e:
                    # One reply that cannot be attempted must not hold up every reply after it
                    # in the list (the job would fail on it first at every pass).
                    log.error("delivery attempt failed", extra={
                        "conversation": cid, "seq": seq, "error": type(e).__name__})
        await pause(stop, every_s)

