"""The inbox: the one place every channel hands a victim's message to.

It pseudonymizes the sender, finds or opens the conversation, and stores the message durably
before the channel is answered. A repeat of the same provider message id changes nothing. Only
after the SQL commit does it touch Redis (queue, event): if Redis is down the message is still
safe, and the reconciler queues the conversation once Redis is back. See docs/inbox.md.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, IntegrityError

from hotline import metrics
from hotline.audit import log as audit
from hotline.cases import alerts, inbound_sql, signals, urgency
from hotline.cases import conversations as convs
from hotline.cases.live_records import Waiting
from hotline.deps import Deps
from hotline.domain import abandon
from hotline.domain.conversation import Direction, Inbound, Stored, Urgency
from hotline.domain.event_types import EventType
from hotline.domain.routing import needs_for
from hotline.domain.triage import IntakeAnswers, Signal, Triage, triage
from hotline.events import encode as encode_event
from hotline.limits import flood
from hotline.stores.sql import direct
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
# Asked outside any transaction, only when the message would open a new conversation; it
# raises to refuse it (nothing is stored). The web chat counts new cases per client address
# this way, at no cost to messages in an open conversation.
Admit = Callable[[], Awaitable[None]]


async def receive(deps: Deps, msg: Inbound, answers: IntakeAnswers | None = None,
                  in_tx: InTx | None = None, pseudonym: str | None = None,
                  limited: bool = True, admit: Admit | None = None,
                  reads: convs.Reads | None = None,
                  claim: str | None = None) -> Stored:
    """Store one inbound message durably and announce it; idempotent per provider id.

    The text (and, for a new conversation, the channel's intake answers) is triaged on the way:
    a case only ever moves up automatically. `in_tx` runs last in the same transaction.
    `pseudonym`: the sender's, when the channel has already computed it. With `limited`, the
    sender's flood limits apply (docs/limits.md): past them the message is still stored, but
    its triage does not move the case up, and a new case is held (closed, never queued).
    `reads`: the channel's state, read with the message's own statement where that saves a
    round trip (PostgreSQL: `Stored.read`). `claim`: a Redis key a new conversation reads and
    deletes in its queue round trip (`Stored.claimed`), instead of a round trip of the
    channel's own."""
    if len(msg.text) > deps.config.privacy.max_message_chars:
        raise MessageTooLong(f"message longer than {deps.config.privacy.max_message_chars}")
    if pseudonym is None:
        pseudonym = deps.keyring.pseudonymize(msg.channel.value, msg.address)
    provider_key = f"{msg.channel.value}:{msg.provider_id}"
    found = triage(answers or IntakeAnswers(), () if msg.system else (msg.text,),
                   deps.config.triage)
    held: tuple[str, ...] = ()
    if limited and found.codes():
        # Only a message with urgent words or answers pays for this check (a read and, when
        # it would move its case up, a limit).
        async with deps.engine.connect() as conn:
            conv = await convs.find_open(conn, msg.channel, pseudonym)
        if await urgency.held_back(deps, conv, pseudonym, msg.origin, found):
            found, held = Triage(Urgency.NORMAL), found.codes()
    stored: Stored | None = None
    change: urgency.Change | None = None
    admitted = admit is None
    for attempt in range(_ATTEMPTS):
        try:
            try:
                stored, change = await _store(deps, msg, pseudonym, provider_key, found,
                                              in_tx, held, limited, admitted, reads)
            except _NewCase:
                assert admit is not None
                await admit()
                admitted = True
                stored, change = await _store(deps, msg, pseudonym, provider_key, found,
                                              in_tx, held, limited, admitted, reads)
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
    if stored.held:
        metrics.FLOOD_REFUSED.labels("sender_cases").inc()
        log.warning("new case held by its sender's flood limit",
                    extra={"conversation": stored.conversation_id, "channel": msg.channel.value})
        return dataclasses.replace(stored, calm_due=await flood.ban_notice(deps, pseudonym))
    direction = Direction.SYSTEM if msg.system else Direction.IN
    announced = {"type": EventType.MESSAGE, "conversation": stored.conversation_id,
                 "seq": stored.seq, "direction": direction.value}
    if stored.new_conversation:
        reasons = found.codes()
        queued = {"type": EventType.QUEUED, "conversation": stored.conversation_id,
                  "language": msg.language, "channel": msg.channel.value,
                  "urgency": found.urgency.value, "reasons": list(reasons)}
        # The case joins the queue and both events go out (the channel's `claim` read) in one
        # script call.
        try:
            claimed = await deps.live.admit(
                Waiting(stored.conversation_id, msg.channel, msg.language, found.urgency,
                        int(msg.received_at.timestamp() * 1000), needs_for(reasons)),
                [encode_event(queued), encode_event(announced)], origin=msg.origin,
                claim=claim)
            if claim is not None:
                stored = dataclasses.replace(stored, claim_read=True, claimed=claimed)
        except (RedisError, OSError) as e:
            log.warning("queue or events not updated; reconciler will queue it",
                        extra={"conversation": stored.conversation_id,
                               "error": type(e).__name__})
        if found.findings:
            await signals.note(deps, stored.conversation_id, found.findings)
        # Fired only: a possible signal ("아직 퍼졌는지는 몰라요") raises urgency, pages nobody.
        if Signal.CONTENT_SPREADING in found.reasons:
            await alerts.raise_takedown_alert(deps, stored.conversation_id, reasons)
    else:
        if change is not None:
            await urgency.announce(deps, change)
        await deps.publish(announced)
    # DEBUG: at INFO the access log already has a line for each webhook or chat message, and
    # hotline_messages_in counts them; a second line per message cost the loop as much again.
    log.debug("inbound stored", extra={"conversation": stored.conversation_id,
                                       "seq": stored.seq, "channel": msg.channel.value})
    return stored


class _Duplicate(Exception):
    """The provider's message id is already stored: roll the transaction back."""


class _NewCase(Exception):
    """The message would open a conversation not admitted yet: ask, try again."""


async def _store(deps: Deps, msg: Inbound, pseudonym: str, provider_key: str,
                 found: Triage, in_tx: InTx | None, held: tuple[str, ...], limited: bool,
                 admitted: bool, reads: convs.Reads | None
                 ) -> tuple[Stored, urgency.Change | None]:
    """One transaction, two statements on the common path: allocate the next number in the
    open conversation (or open one), insert the message unless its provider key exists (on
    PostgreSQL one statement, with the channel's `reads`, when the number is guessed right:
    inbound_sql.py). It runs on the driver connection (direct.py), its transaction shared
    with concurrent messages' (group.py): this is every inbound message's cost."""
    sender = f"{msg.channel.value}:{pseudonym}"
    guess = deps.guesses.get(msg.channel.value, pseudonym)
    # SQLite: the channel's reads ride on the bump (a statement less for each message in an
    # open conversation); PostgreSQL reads them in `ahead`'s statement, when its guess holds.
    bump_reads = deps.engine.dialect.name == "sqlite"
    ahead = None if guess is None else inbound_sql.ahead(
        channel=msg.channel.value, pseudonym=pseudonym, at=msg.received_at,
        deadline=abandon.deadline(msg.channel, msg.received_at, deps.config.abandoned),
        victim=not msg.system, guess=guess,
        direction=(Direction.SYSTEM if msg.system else Direction.IN).value,
        provider_key=provider_key, reads=reads,
        body_sealed=deps.keyring.seal_text(msg.text, f"msg:{guess[0]}:{guess[1]}"))

    async def body(conn: Sql) -> tuple[Stored, urgency.Change | None] | None:
        did = None
        if ahead is not None and guess is not None:
            did = inbound_sql.bumped(await ahead.first(conn), guess)
        done = await _store_in_tx(conn, deps, msg, pseudonym, provider_key, found,
                                  held, limited, admitted, ahead is not None, did,
                                  reads if bump_reads else None)
        if done is not None and in_tx is not None:
            await in_tx(conn, done[0])
        return done

    try:
        # Shared with concurrent messages' transactions (group commit), keyed by sender so
        # every batch locks conversations in one order; the result comes after the COMMIT.
        done = await deps.commits.run(body, key=sender, ahead=ahead)
    except _Duplicate:
        pass
    else:
        if done is None:
            raise _NewCase
        stored = done[0]
        deps.guesses.stored(msg.channel.value, pseudonym, stored.conversation_id, stored.seq)
        return done
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
                       provider_key: str, found: Triage, held: tuple[str, ...], limited: bool,
                       admitted: bool, guessed: bool, did: inbound_sql.Bumped | None,
                       reads: convs.Reads | None
                       ) -> tuple[Stored, urgency.Change | None] | None:
    """`guessed`: the bump already ran, with the outcome `did` (inbound_sql.py). `reads`:
    the channel's, for the bump to return (Stored.read). None, with nothing written, when
    the message would open a conversation not admitted yet."""
    change = None
    held_case = False
    deadline = abandon.deadline(msg.channel, msg.received_at, deps.config.abandoned)
    direction = Direction.SYSTEM if msg.system else Direction.IN
    bumped: tuple[convs.OpenCase, int] | None
    inserted, read = (None, None) if did is None else (did.inserted, did.read)
    if guessed:
        bumped = None if did is None else (did.case, did.seq)
    else:
        bump = await convs.bump_open(conn, msg.channel, pseudonym, msg.received_at,
                                     victim=not msg.system, deadline=deadline, reads=reads)
        bumped = None if bump is None else bump[:2]
        read = None if bump is None else bump[2]
    if bumped is None and not admitted:
        # Nothing written yet: the UPDATE above found no open conversation. Returned, not
        # raised: an exception raised in a body is kept on its group-commit item, which the
        # frames of its traceback hold, a reference cycle that took each new case's whole
        # request with it until the collector's next pass (bench/README.md).
        return None
    if bumped is None:
        cid, seq = convs.new_conversation_id(), 1
        contact = (deps.keyring.seal_text(msg.address, f"contact:{cid}")
                   if msg.keep_contact else None)
        await convs.insert_conversation(
            conn, conversation_id=cid, channel=msg.channel, pseudonym=pseudonym,
            language=msg.language, urgency=found.urgency, at=msg.received_at,
            contact_sealed=contact, reasons=found.codes(), next_seq=1,
            abandon_at=None if msg.system else deadline)
    else:
        conv, seq = bumped
        cid = conv.id
    if inserted is None:
        inserted = await convs.insert_inbound(
            conn, conversation_id=cid, seq=seq, direction=direction,
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
        held_case = limited and await _over_case_limit(conn, deps, msg, pseudonym)
        if held_case:
            # Its words are kept (closed, under the retention of any closed case); nothing
            # reaches the queue, alerts or consoles.
            at, retention = msg.received_at, deps.config.retention
            await convs.hold(conn, cid, at,
                             purge_contact_at=at + timedelta(days=retention.contact_days),
                             purge_transcript_at=at + timedelta(days=retention.transcript_days))
            await audit.record(conn, at=at, actor_id=None, action="case.held",
                               target_kind="conversation", target_id=cid,
                               limit="sender_cases")
    else:
        change = await urgency.raise_in_tx(conn, deps, bumped[0], found, msg.received_at)
    if held:
        # Who decided the case stays where it is, and on which words: the flood limit.
        await audit.record(conn, at=msg.received_at, actor_id=None,
                           action="case.escalation_held", target_kind="conversation",
                           target_id=cid, reasons=list(held))
    return Stored(cid, seq, new_conversation=bumped is None, duplicate=False,
                  held=held_case, read=read), change


async def _over_case_limit(conn: Sql, deps: Deps, msg: Inbound, pseudonym: str) -> bool:
    """Whether this new case takes the sender past limits.sender_cases_per_hour cases opened
    in the last hour (this one included, held ones too). Counted in SQL, where the cases are:
    exact across instances, and one index read only when a case opens."""
    return await convs.opened_since(conn, msg.channel, pseudonym,
                                    msg.received_at - timedelta(hours=1),
                                    deps.config.limits.sender_cases_per_hour + 1)
