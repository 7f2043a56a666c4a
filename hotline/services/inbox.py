"""The inbox: the one place every channel hands a victim's message to.

It pseudonymizes the sender, finds or opens the conversation, and stores the message durably
before the channel is answered. A repeat of the same provider message id changes nothing. Only
after the SQL commit does it touch Redis (queue, event): if Redis is down the message is still
safe, and the reconciler queues the conversation once Redis is back. See docs/inbox.md.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError

from hotline import metrics
from hotline.domain.conversation import Direction, Inbound, Stored, Urgency
from hotline.services.deps import Deps
from hotline.stores.live.store import Waiting
from hotline.stores.sql import conversations as convs

log = logging.getLogger(__name__)

# Concurrent first messages from one sender race on the open-conversation unique index; the
# loser retries and finds the winner's conversation.
_ATTEMPTS = 4


class MessageTooLong(ValueError):
    """The message exceeds privacy.max_message_chars."""


async def receive(deps: Deps, msg: Inbound, urgency: Urgency = Urgency.NORMAL) -> Stored:
    """Store one inbound message durably and announce it; idempotent per provider id."""
    if len(msg.text) > deps.config.privacy.max_message_chars:
        raise MessageTooLong(f"message longer than {deps.config.privacy.max_message_chars}")
    pseudonym = deps.keyring.pseudonymize(msg.channel.value, msg.address)
    provider_key = f"{msg.channel.value}:{msg.provider_id}"
    stored: Stored | None = None
    for attempt in range(_ATTEMPTS):
        try:
            stored = await _store(deps, msg, pseudonym, provider_key, urgency)
            break
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    assert stored is not None
    if stored.duplicate:
        log.info("duplicate inbound ignored", extra={"conversation": stored.conversation_id,
                                                     "channel": msg.channel.value})
        return stored
    metrics.MESSAGES_IN.labels(msg.channel.value).inc()
    if stored.new_conversation:
        try:
            await deps.live.enqueue(Waiting(stored.conversation_id, msg.channel, msg.language,
                                            urgency, int(msg.received_at.timestamp() * 1000)))
        except (RedisError, OSError) as e:
            log.warning("queue not updated; reconciler will add it",
                        extra={"conversation": stored.conversation_id,
                               "error": type(e).__name__})
        await deps.publish({"type": "queued", "conversation": stored.conversation_id,
                            "language": msg.language, "channel": msg.channel.value,
                            "urgency": urgency.value})
    await deps.publish({"type": "message", "conversation": stored.conversation_id,
                        "seq": stored.seq, "direction": Direction.IN.value})
    log.info("inbound stored", extra={"conversation": stored.conversation_id,
                                      "seq": stored.seq, "channel": msg.channel.value})
    return stored


async def _store(deps: Deps, msg: Inbound, pseudonym: str, provider_key: str,
                 urgency: Urgency) -> Stored:
    async with deps.engine.begin() as conn:
        dup = await convs.find_by_provider_key(conn, provider_key)
        if dup is not None:
            return Stored(dup[0], dup[1], new_conversation=False, duplicate=True)
        conv = await convs.find_open(conn, msg.channel, pseudonym)
        new = conv is None
        if conv is None:
            cid = convs.new_conversation_id()
            contact = (deps.keyring.seal_text(msg.address, f"contact:{cid}")
                       if msg.keep_contact else None)
            await convs.insert_conversation(
                conn, conversation_id=cid, channel=msg.channel, pseudonym=pseudonym,
                language=msg.language, urgency=urgency, at=msg.received_at,
                contact_sealed=contact)
        else:
            cid = conv.id
        seq = await convs.next_seq(conn, cid, msg.received_at)
        await convs.insert_message(
            conn, conversation_id=cid, seq=seq, direction=Direction.IN,
            body_sealed=deps.keyring.seal_text(msg.text, f"msg:{cid}:{seq}"),
            at=msg.received_at, provider_key=provider_key)
    return Stored(cid, seq, new_conversation=new, duplicate=False)
