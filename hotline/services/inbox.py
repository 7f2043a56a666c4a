"""The inbox: the one place every channel hands a victim's message to.

It pseudonymizes the sender, finds or opens the conversation, and stores the message durably
before the channel is answered. A repeat of the same provider message id changes nothing. Only
after the SQL commit does it touch Redis (queue, event): if Redis is down the message is still
safe, and the reconciler queues the conversation once Redis is back. See docs/inbox.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, IntegrityError

from hotline import metrics
from hotline.domain.conversation import Direction, Inbound, Stored
from hotline.domain.routing import needs_for
from hotline.domain.triage import IntakeAnswers, Signal, Triage, triage
from hotline.events import publish_on
from hotline.services import alerts, urgency
from hotline.services.deps import Deps
from hotline.stores.live.store import Waiting
from hotline.stores.sql import audit, direct
from hotline.stores.sql import conversations as convs
from hotline.stores.sql.direct import Sql

log = logging.getLogger(__name__)

# Concurrent first messages from one sender race on the open-conversation unique index; the
# loser retries and finds the winner's conversation.
_ATTEMPTS = 4


class MessageTooLong(ValueError):
    """The message exceeds privacy.max_message_chars."""


# A channel's own step inside the inbox's transaction (e.g. SMS reads its intake state there
# instead of opening a second transaction). For a duplicate it runs on a read-only connection.
InTx = Callable[[Sql, Stored], Awaitable[None]]


async def receive(deps: Deps, msg: Inbound, answers: IntakeAnswers | None = None,
                  in_tx: InTx | None = None, pseudonym: str | None = None) -> Stored:
    """Store one inbound message durably and announce it; idempotent per provider id.

    The text (and, for a new conversation, the channel's intake answers) is triaged on the way:
    a case only ever moves up automatically. `in_tx` runs last in the same transaction.
    `pseudonym`: the sender's, when the channel has already computed it."""
    if len(msg.text) > deps.config.privacy.max_message_chars:
        raise MessageTooLong(f"message longer than {deps.config.privacy.max_message_chars}")
    if pseudonym is None:
        pseudonym = deps.keyring.pseudonymize(msg.channel.value, msg.address)
    provider_key = f"{msg.channel.value}:{msg.provider_id}"
    found = triage(answers or IntakeAnswers(), () if msg.system else (msg.text,),
                   deps.config.triage)
    stored: Stored | None = None
    change: urgency.Change | None = None
    for attempt in range(_ATTEMPTS):
        try:
            stored, change = await _store(deps, msg, pseudonym, provider_key, found, in_tx)
            break
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
        except DBAPIError as e:
            # The connection broke (a database restart): the pool dropped it; try again on
            # another. Should the first try have committed, its provider key makes this a
            # duplicate, not a second copy.
            if not e.connection_invalidated or attempt == _ATTEMPTS - 1:
                raise
            log.warning("database connection lost; trying again on a new one",
                        extra={"channel": msg.channel.value})
    assert stored is not None
    if stored.duplicate:
        log.info("duplicate inbound ignored", extra={"conversation": stored.conversation_id,
                                                     "channel": msg.channel.value})
        return stored
    metrics.MESSAGES_IN.labels(msg.channel.value).inc()
    direction = Direction.SYSTEM if msg.system else Direction.IN
    announced = {"type": "message", "conversation": stored.conversation_id,
                 "seq": stored.seq, "direction": direction.value}
    if stored.new_conversation:
        reasons = found.codes()
        queued = {"type": "queued", "conversation": stored.conversation_id,
                  "language": msg.language, "channel": msg.channel.value,
                  "urgency": found.urgency.value, "reasons": list(reasons)}
        # The case joins the queue and both events go out in one round trip.
        try:
            async with deps.redis.pipeline(transaction=True) as p:
                deps.live.enqueue_on(p, Waiting(
                    stored.conversation_id, msg.channel, msg.language, found.urgency,
                    int(msg.received_at.timestamp() * 1000), needs_for(reasons)))
                publish_on(p, deps.keys, queued)
                publish_on(p, deps.keys, announced)
                await p.execute()
        except (RedisError, OSError) as e:
            log.warning("queue or events not updated; reconciler will queue it",
                        extra={"conversation": stored.conversation_id,
                               "error": type(e).__name__})
        # Fired only: a possible signal ("아직 퍼졌는지는 몰라요") raises urgency, pages nobody.
        if Signal.CONTENT_SPREADING in found.reasons:
            await alerts.raise_takedown_alert(deps, stored.conversation_id, reasons)
    else:
        if change is not None:
            await urgency.announce(deps, change)
        await deps.publish(announced)
    log.info("inbound stored", extra={"conversation": stored.conversation_id,
                                      "seq": stored.seq, "channel": msg.channel.value})
    return stored


class _Duplicate(Exception):
    """The provider's message id is already stored: roll the transaction back."""


async def _store(deps: Deps, msg: Inbound, pseudonym: str, provider_key: str,
                 found: Triage, in_tx: InTx | None
                 ) -> tuple[Stored, urgency.Change | None]:
    """One transaction, two statements on the common path: allocate the next number in the
    open conversation (or open one), insert the message unless its provider key exists. It
    runs on the driver connection (direct.py): this is every inbound message's cost."""
    try:
        async with direct.begin(deps.engine) as conn:
            stored, change = await _store_in_tx(conn, deps, msg, pseudonym, provider_key, found)
            if in_tx is not None:
                await in_tx(conn, stored)
            return stored, change
    except _Duplicate:
        pass
    async with direct.begin(deps.engine, write=False) as conn:
        dup = await convs.find_by_provider_key(conn, provider_key)
        if dup is None:
            # The first copy's row went (the victim's data was forgotten) between the conflict
            # and this read: the caller's retry stores it afresh.
            raise IntegrityError("provider key conflict without a row", None, Exception())
        stored = Stored(dup[0], dup[1], new_conversation=False, duplicate=True)
        if in_tx is not None:
            await in_tx(conn, stored)
    return stored, None


async def _store_in_tx(conn: Sql, deps: Deps, msg: Inbound, pseudonym: str,
                       provider_key: str, found: Triage
                       ) -> tuple[Stored, urgency.Change | None]:
    change = None
    bumped = await convs.bump_open(conn, msg.channel, pseudonym, msg.received_at)
    if bumped is None:
        cid, seq = convs.new_conversation_id(), 1
        contact = (deps.keyring.seal_text(msg.address, f"contact:{cid}")
                   if msg.keep_contact else None)
        await convs.insert_conversation(
            conn, conversation_id=cid, channel=msg.channel, pseudonym=pseudonym,
            language=msg.language, urgency=found.urgency, at=msg.received_at,
            contact_sealed=contact, reasons=found.codes(), next_seq=1)
    else:
        conv, seq = bumped
        cid = conv.id
    inserted = await convs.insert_inbound(
        conn, conversation_id=cid, seq=seq,
        direction=Direction.SYSTEM if msg.system else Direction.IN,
        body_sealed=deps.keyring.seal_text(msg.text, f"msg:{cid}:{seq}"),
        at=msg.received_at, provider_key=provider_key)
    if not inserted:
        raise _Duplicate
    if bumped is None:
        if found.codes():
            await audit.record(conn, at=msg.received_at, actor_id=None,
                               action="case.triaged", target_kind="conversation",
                               target_id=cid, urgency=found.urgency.value,
                               reasons=list(found.codes()))
    else:
        change = await urgency.raise_in_tx(conn, deps, bumped[0], found, msg.received_at)
    return Stored(cid, seq, new_conversation=bumped is None, duplicate=False), change
