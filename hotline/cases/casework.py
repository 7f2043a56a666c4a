"""What staff do with a case: take it, read it, reply, close it with the intake form.

Every read of a case goes through `load_case`, the one access check: a case that is missing and
a case the viewer may not see look the same (CaseNotFound). See docs/console.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline import metrics
from hotline.audit import log as audit
from hotline.cases import conversations as convs
from hotline.cases import intake_store, livesync, outbox
from hotline.cases.conversations import ConversationRow
from hotline.cases.tables import alerts, conversations
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Direction, Status, Urgency
from hotline.domain.event_types import EventType
from hotline.domain.intake import IntakeForm
from hotline.domain.policy import may_act_on_case, may_read_case
from hotline.domain.referrals import Referral, for_case
from hotline.domain.staff import Role, Staff
from hotline.staff import exposure
from hotline.stores.live.keys import CASE_VIEW_AUDIT_TTL_S
from hotline.victim import casefile

log = logging.getLogger(__name__)

# A case that raised a takedown alert may be read by takedown staff (domain.staff).
_TAKEDOWN_ALERT = alerts.c.kind == "takedown"


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
    if conv is None:
        raise CaseNotFound(conversation_id)
    alerted = False
    if viewer.role == Role.TAKEDOWN and conv.counselor_id != viewer.id:
        alerted = (await conn.execute(select(alerts.c.id).where(and_(
            alerts.c.conversation_id == conversation_id, _TAKEDOWN_ALERT))
            .limit(1))).first() is not None
    if not CaseFacts(conv.counselor_id, alerted).readable_by(viewer):
        raise CaseNotFound(conversation_id)
    return conv


@dataclass(frozen=True)
class CaseFacts:
    """What the read rule needs to know of a case (a console's event stream keeps these)."""

    holder: int | None
    takedown_alerted: bool = False

    def readable_by(self, viewer: Staff) -> bool:
        return may_read_case(viewer, self.holder, self.takedown_alerted)


async def readable_cases(conn: AsyncConnection, viewer: Staff, since: datetime
                         ) -> dict[str, CaseFacts]:
    """The cases `viewer` may read among those open at some time after `since`: the ones
    they hold, and for takedown staff the ones that raised a takedown alert. Leads and admins
    read every case; for them this is not needed (and empty)."""
    if viewer.sees_all_cases:
        return {}
    recent = or_(conversations.c.closed_at.is_(None), conversations.c.closed_at > since)
    found = {r.id: CaseFacts(r.counselor_id) for r in await conn.execute(
        select(conversations.c.id, conversations.c.counselor_id).where(and_(
            conversations.c.counselor_id == viewer.id, recent)))}
    if viewer.role == Role.TAKEDOWN:
        for r in await conn.execute(
                select(conversations.c.id, conversations.c.counselor_id).distinct()
                .join(alerts, alerts.c.conversation_id == conversations.c.id)
                .where(and_(_TAKEDOWN_ALERT, recent))):
            found[r.id] = CaseFacts(r.counselor_id, takedown_alerted=True)
    return {cid: f for cid, f in found.items() if f.readable_by(viewer)}


def _valid_id(conversation_id: str) -> bool:
    return len(conversation_id) == 32 and all(c in "0123456789abcdef" for c in conversation_id)


async def take_next(deps: Deps, staff: Staff) -> str:
    """Give `staff` the best waiting case they may take (pull mode).

    Raises CaseConflict with the reason when there is none: "empty", "capacity", "shift",
    "ending", "status", ... (the routing eligibility codes)."""
    await deps.live.heartbeat(staff.id)
    for _ in range(5):
        # A case already offered to this counselor is theirs to take first (the router may
        # make that offer while we look, hence the loop).
        for cid, holder in (await deps.live.offers()).items():
            if holder == staff.id and (await deps.live.accept(cid, staff.id)).ok \
                    and await commit_assignment(deps, staff.id, cid, how="offer",
                                                actor_id=staff.id):
                return cid
        res = await deps.live.take_next(staff.id)
        if res.ok and res.waiting is not None:
            if await commit_assignment(deps, staff.id, res.waiting.conversation_id,
                                       how="take_next", actor_id=staff.id):
                return res.waiting.conversation_id
            continue
        if res.reason == "empty" and staff.id in (await deps.live.offers()).values():
            continue
        raise CaseConflict(res.reason)
    raise CaseConflict("empty")


async def take(deps: Deps, staff: Staff, conversation_id: str) -> None:
    """Claim one named waiting case; CaseConflict with the reason if it cannot be had."""
    if not _valid_id(conversation_id):
        raise CaseNotFound(conversation_id)
    await deps.live.heartbeat(staff.id)
    res = await deps.live.claim(conversation_id, staff.id)
    if not res.ok and res.reason == "gone":
        # Not in the queue: a case that is missing, or held by someone else, is a 404 like
        # every other case route (missing and forbidden look the same); only a case the
        # viewer may see is "no longer waiting".
        async with deps.engine.connect() as conn:
            conv = await convs.get(conn, conversation_id)
        if conv is None or (conv.status != Status.WAITING
                            and not may_read_case(staff, conv.counselor_id)):
            raise CaseNotFound(conversation_id)
        raise CaseConflict("no longer waiting")
    if not res.ok:
        raise CaseConflict(res.reason)
    if not await commit_assignment(deps, staff.id, conversation_id, how="take",
                                   actor_id=staff.id):
        raise CaseConflict("no longer waiting")


async def commit_assignment(deps: Deps, counselor_id: int, conversation_id: str, how: str,
                            actor_id: int | None) -> bool:
    """The SQL half of a claim made in Redis: waiting -> active for this counselor.

    If SQL says the case is no longer waiting, the Redis claim is undone and False returned."""
    now = utcnow()
    async with deps.engine.begin() as conn:
        ok = await convs.assign(conn, conversation_id, counselor_id, now)
        if ok:
            await audit.record(conn, at=now, actor_id=actor_id, action="case.assigned",
                               target_kind="conversation", target_id=conversation_id,
                               how=how, counselor=counselor_id)
    if not ok:
        # The queue entry was stale (closed or taken while Redis lagged): drop the claim; the
        # reconciler settles anything else.
        await deps.live.release(conversation_id)
        return False
    await deps.publish({"type": EventType.ASSIGNED, "conversation": conversation_id,
                        "counselor": counselor_id})
    log.info("case assigned", extra={"conversation": conversation_id,
                                     "counselor": counselor_id, "how": how})
    return True


async def transcript(deps: Deps, viewer: Staff, conversation_id: str, after_seq: int = 0
                     ) -> tuple[ConversationRow, list[TranscriptLine]]:
    """A case and its messages after `after_seq`, decrypted, for someone allowed to read it."""
    async with deps.engine.connect() as conn:
        conv = await load_case(conn, viewer, conversation_id)
        rows = await convs.list_messages(conn, conversation_id, after_seq)
    await _note_view(deps, viewer, conv)
    return conv, decrypt_lines(deps, conversation_id, rows)


async def _note_view(deps: Deps, viewer: Staff, conv: ConversationRow) -> None:
    """Audit who read a case's transcript (once per reader, case and shift): "who saw a
    record" must be answerable after the fact."""
    try:
        first = bool(await deps.redis.set(deps.keys.case_viewed(conv.id, viewer.id), "1",
                                          nx=True, ex=CASE_VIEW_AUDIT_TTL_S))
    except (RedisError, OSError):
        first = True  # unsure: an extra audit row beats a missing one
    if not first:
        return
    async with deps.engine.begin() as conn:
        await audit.record(conn, at=utcnow(), actor_id=viewer.id, action="case.viewed",
                           target_kind="conversation", target_id=conv.id,
                           role=viewer.role.value, holder=conv.counselor_id == viewer.id)


def decrypt_lines(deps: Deps, conversation_id: str, rows: list[convs.MessageRow]
                  ) -> list[TranscriptLine]:
    """The transcript in clear text; a line whose text is gone (retention) or cannot be
    unsealed (damaged, or sealed under another key) has none: one bad line must not make the
    whole case unreadable to the counselor holding it."""
    return [TranscriptLine(
        r.seq, r.direction,
        deps.keyring.open_text_or_none(r.body_sealed, f"msg:{conversation_id}:{r.seq}")
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
            seq = await convs.next_seq_held(conn, conversation_id, staff.id, now)
            if seq is None:
                # Checked with the row locked: a close or reassignment that committed since
                # the read above counts (it raced this reply).
                raise CaseConflict("only the counselor holding an open case can reply")
            # The web chat's page fetches replies itself; other channels push them (outbox).
            pushed = conv.channel != Channel.WEBCHAT
            await convs.insert_message(
                conn, conversation_id=conversation_id, seq=seq, direction=Direction.OUT,
                body_sealed=deps.keyring.seal_text(text, f"msg:{conversation_id}:{seq}"),
                at=now, provider_key=provider_key, counselor_id=staff.id,
                delivery="pending" if pushed else "delivered")
    except IntegrityError:
        # The same client id raced itself; the first one won.
        async with deps.engine.connect() as conn:
            dup = await convs.find_by_provider_key(conn, provider_key)
        if dup is None:
            raise
        return dup[1]
    # The victim's next message is guessed right (cases/inbound_sql.py: one statement).
    deps.guesses.stored(conv.channel.value, conv.pseudonym, conversation_id, seq)
    metrics.MESSAGES_OUT.labels(conv.channel.value).inc()
    await deps.publish({"type": EventType.MESSAGE, "conversation": conversation_id, "seq": seq,
                        "direction": Direction.OUT.value})
    if pushed:
        outbox.submit(deps, conversation_id, seq)
    return seq


# Channels where the victim is not looking at our page: they are told the case ended.
_TOLD_ON_CLOSE = (Channel.SMS, Channel.TELEGRAM)


async def close(deps: Deps, staff: Staff, conversation_id: str, form: IntakeForm,
                notice: Callable[[str], str] | None = None,
                referrals: Callable[[str, tuple[Referral, ...]], str] | None = None) -> None:
    """Close a case and write its anonymized intake record (pseudonym and form fields only).

    On SMS and Telegram the victim is told, in the case's language, with `notice(language)`
    followed by `referrals(language, entries)` (the directory entries that match the case's
    situation; the web chat page shows both by itself; a call has ended already). The entries
    are recorded as given and counted in the record with those the counselor gave."""
    now = utcnow()
    notice_seq: int | None = None
    retention = deps.config.retention
    async with deps.engine.begin() as conn:
        conv = await load_case(conn, staff, conversation_id)
        if conv.status == Status.CLOSED:
            raise CaseConflict("already closed")
        if not may_act_on_case(staff, conv.counselor_id):
            raise CaseConflict("only the counselor holding the case or a lead can close it")
        raw_answers = (await conn.execute(select(conversations.c.intake_answers).where(
            conversations.c.id == conversation_id))).scalar_one()
        offered = for_case(deps.config.referrals.entries, raw_answers, conv.reasons)
        if notice is not None and conv.channel in _TOLD_ON_CLOSE and conv.has_contact:
            notice_seq = await convs.next_seq(conn, conversation_id, now)
            text = notice(conv.language)
            if referrals is not None and offered:
                text = f"{text}\n\n{referrals(conv.language, offered)}"
            await convs.insert_message(
                conn, conversation_id=conversation_id, seq=notice_seq,
                direction=Direction.SYSTEM,
                body_sealed=deps.keyring.seal_text(text, f"msg:{conversation_id}:{notice_seq}"),
                at=now, delivery="pending")
        if not await convs.close(
                conn, conversation_id, now,
                purge_contact_at=now + timedelta(days=retention.contact_days),
                purge_transcript_at=now + timedelta(days=retention.transcript_days),
                held_by=None if staff.sees_all_cases else staff.id):
            # A close or reassignment committed after the read above (the update waited for
            # its row lock): this close changes nothing, its notice included.
            after = await convs.get(conn, conversation_id)
            raise CaseConflict("already closed" if after is None or after.status == Status.CLOSED
                               else "only the counselor holding the case or a lead can close it")
        started = conv.assigned_at or now
        await intake_store.write(conn, intake_store.record_of(
            conv, closed_at=now, wait_seconds=int((started - conv.enqueued_at).total_seconds()),
            handling_seconds=int((now - started).total_seconds()),
            harm_type=form.harm_type, platforms=",".join(form.platforms),
            age_band=form.age_band, urgency=form.urgency.value,
            referrals=",".join(form.referrals), outcome=form.outcome,
            relation=form.relation, counselor_id=conv.counselor_id, referred_to=",".join(
                await _given(conn, conversation_id, [e.code for e in offered], now))))
        await audit.record(conn, at=now, actor_id=staff.id, action="case.closed",
                           target_kind="conversation", target_id=conversation_id,
                           outcome=form.outcome)
    await livesync.release_closed(deps, conversation_id, "close")
    await deps.publish({"type": EventType.CLOSED, "conversation": conversation_id,
                        "counselor": conv.counselor_id})
    await exposure.after_close(deps, conv.counselor_id, conversation_id,
                               Urgency.CRITICAL in (conv.urgency, form.urgency),
                               conv.assigned_at, now)
    if notice_seq is not None:
        outbox.submit(deps, conversation_id, notice_seq)


async def _given(conn: AsyncConnection, conversation_id: str, offered: list[str],
                 now: datetime) -> list[str]:
    """Record the referrals offered at close; every referral the case was given."""
    await casefile.add_referrals(conn, conversation_id, offered, "auto", now)
    return await casefile.referrals_of(conn, conversation_id)
