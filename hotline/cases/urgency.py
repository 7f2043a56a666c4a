"""How a case's urgency changes: triage of its text and intake answers (only ever up), waiting
too long (up one level per configured age), or a lead's decision with a reason (up or down).

Each change is written to SQL with its reasons, audited, re-ranked in the live queue and
announced; a case newly found to be spreading alerts the takedown staff. See docs/routing.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import and_, bindparam, select, update

from hotline.audit import log as audit
from hotline.cases import alerts, floor_queries, signals
from hotline.cases import conversations as convs
from hotline.cases import signal_store as signals_store
from hotline.cases.livesync import as_waiting
from hotline.cases.tables import conversations
from hotline.deps import Deps
from hotline.domain.conversation import Status, Urgency
from hotline.domain.event_types import EventType
from hotline.domain.signal_terms import FLAGGED
from hotline.domain.triage import (
    Certainty,
    Finding,
    IntakeAnswers,
    Signal,
    Triage,
    aged,
    escalate,
    parse_reason,
    triage,
    without,
)
from hotline.jobs import run_leased
from hotline.limits import flood
from hotline.stores.sql.direct import Prebuilt, Sql, run

log = logging.getLogger(__name__)

# Reason codes that are not triage signals.
AGED = "aged"
LEAD = "lead"
# Why a lead changed a case's urgency (codes only: the audit log holds no free text).
LEAD_REASONS = ("new_information", "risk_higher", "risk_lower", "triage_missed",
                "triage_wrong", "other")


@dataclass(frozen=True)
class Change:
    """An urgency change made in a transaction, to announce after the commit."""

    conversation_id: str
    urgency: Urgency
    reasons: tuple[str, ...]
    newly: tuple[str, ...]
    # What triage found, to note which terms raised each signal after the commit.
    found: tuple[Finding, ...] = ()


def current_triage(conv: convs.ConversationRow | convs.OpenCase) -> Triage:
    return Triage.from_codes(conv.urgency, conv.reasons)


def answers_from_json(text: str) -> IntakeAnswers:
    try:
        raw = json.loads(text or "{}")
        return IntakeAnswers(**{k: raw[k] for k in ("spreading", "age_group", "safe_now",
                                                     "platform") if k in raw})
    except (ValueError, TypeError):
        return IntakeAnswers()


_SET_URGENCY = Prebuilt(update(conversations).where(conversations.c.id == bindparam("b_id"))
                        .values(urgency=bindparam("b_urgency"),
                                urgency_reasons=bindparam("b_reasons")))


def raised(deps: Deps, conv: convs.ConversationRow | convs.OpenCase, found: Triage
           ) -> tuple[Urgency, tuple[str, ...]] | None:
    """The case's urgency and reason codes once raised to what triage found; None if that
    changes nothing (never lower). Signals staff withdrew from the case are not raised."""
    if not (conv.reasons or found.reasons or found.possible) \
            and found.urgency is Urgency.NORMAL:
        # Nothing found in a case with no reasons (most messages): escalate would give the
        # case back as it is, at 10 us a message.
        return None
    if conv.withdrawn:
        found = without(found, conv.withdrawn, deps.config.triage)
    after = escalate(current_triage(conv), found, rules=deps.config.triage)
    extra = tuple(r for r in conv.reasons if parse_reason(r) is None)
    reasons = after.codes() + extra
    if after.urgency == conv.urgency and reasons == conv.reasons:
        return None
    return after.urgency, reasons


async def held_back(deps: Deps, conv: convs.ConversationRow | None, pseudonym: str,
                    address: str | None, found: Triage) -> bool:
    """Whether the sender's flood limit holds back the move `found` would make: opening a
    case above normal (`conv` None) or raising `conv`. What changes nothing is not counted."""
    if not found.codes() or (conv is not None and raised(deps, conv, found) is None):
        return False
    return not (await flood.escalation(deps, pseudonym, address)).allowed


async def raise_in_tx(conn: Sql, deps: Deps, conv: convs.ConversationRow | convs.OpenCase,
                      found: Triage, at: datetime) -> Change | None:
    """Within the caller's transaction: raise the case to what triage found, never lower.
    A signal found only as possible never pages: only fired codes ("content_spreading", not
    "possible:content_spreading") alert takedown in `announce`."""
    change = raised(deps, conv, found)
    if change is None:
        return None
    level, reasons = change
    await run(conn, _SET_URGENCY, {"b_id": conv.id, "b_urgency": level.value,
                                   "b_reasons": ",".join(reasons)})
    newly = tuple(r for r in reasons if r not in conv.reasons)
    await audit.record(conn, at=at, actor_id=None, action="case.triaged",
                       target_kind="conversation", target_id=conv.id,
                       urgency=level.value, reasons=list(reasons), new=list(newly))
    return Change(conv.id, level, reasons, newly, found.findings)


async def announce(deps: Deps, change: Change) -> None:
    """After the commit: note what raised the signals, re-rank in the live queue, tell the
    consoles, alert if spreading."""
    if change.found:
        await signals.note(deps, change.conversation_id, change.found)
    async with deps.engine.connect() as conn:
        conv = await convs.get(conn, change.conversation_id)
    if conv is None:
        return
    try:
        await deps.live.refresh_item(as_waiting(conv))
    except (RedisError, OSError) as e:
        log.warning("urgency not re-ranked live", extra={"conversation": conv.id,
                                                         "error": type(e).__name__})
    await deps.publish({"type": EventType.URGENCY, "conversation": conv.id,
                        "urgency": change.urgency.value, "reasons": list(change.reasons)})
    if Signal.CONTENT_SPREADING.value in change.newly and conv.status != Status.CLOSED:
        await alerts.raise_takedown_alert(deps, conv.id, change.reasons)


async def set_answers(deps: Deps, conversation_id: str, answers: IntakeAnswers) -> Change | None:
    """Record a case's intake answers and re-triage it; LookupError if it is missing or
    closed (answers arriving after the close change nothing). Answers that would move the
    case up count against its sender's flood limit, as its words do (services/inbox.py)."""
    now = datetime.now(UTC)
    found = triage(answers, (), deps.config.triage)
    held: tuple[str, ...] = ()
    if found.codes():
        async with deps.engine.connect() as conn:
            before = await convs.get(conn, conversation_id)
        if before is None:
            raise LookupError(conversation_id)
        if await held_back(deps, before, before.pseudonym, None, found):
            found, held = Triage(Urgency.NORMAL), found.codes()
    async with deps.engine.begin() as conn:
        conv = await convs.get(conn, conversation_id)
        if conv is None or conv.status == Status.CLOSED:
            raise LookupError(conversation_id)
        await conn.execute(update(conversations).where(conversations.c.id == conversation_id)
                           .values(intake_answers=json.dumps({
                               "spreading": answers.spreading, "age_group": answers.age_group,
                               "safe_now": answers.safe_now, "platform": answers.platform})))
        change = await raise_in_tx(conn, deps, conv, found, now)
        if held:
            await audit.record(conn, at=now, actor_id=None, action="case.escalation_held",
                               target_kind="conversation", target_id=conversation_id,
                               reasons=list(held))
    if change:
        await announce(deps, change)
    return change


async def set_answer(deps: Deps, conversation_id: str, name: str, value: object
                     ) -> Change | None:
    """One intake answer (`name`: an IntakeAnswers field; None skips it) with those the case
    has already, recorded and re-triaged as `set_answers` does (LookupError as there)."""
    async with deps.engine.connect() as conn:
        raw = (await conn.execute(select(conversations.c.intake_answers)
                                  .where(conversations.c.id == conversation_id))).scalar_one()
    values: dict[str, Any] = {name: value}
    answers = dataclasses.replace(answers_from_json(raw), **values)
    return await set_answers(deps, conversation_id, answers)


async def flag_spreading(deps: Deps, conversation_id: str, actor_id: int) -> Change | None:
    """A counselor marks a case as content spreading now (same path as triage)."""
    now = datetime.now(UTC)
    found = Triage(deps.config.triage.levels[Signal.CONTENT_SPREADING],
                   (Signal.CONTENT_SPREADING,), (),
                   (Finding(Signal.CONTENT_SPREADING, Certainty.FIRED, (FLAGGED,)),))
    async with deps.engine.begin() as conn:
        conv = await convs.get(conn, conversation_id)
        # A closed case is not re-triaged (its live queue record is gone for good).
        if conv is None or conv.status == Status.CLOSED:
            raise LookupError(conversation_id)
        if Signal.CONTENT_SPREADING.value in conv.withdrawn:
            # Staff withdrew it from the victim's words; a counselor's own flag raises it.
            kept = tuple(w for w in conv.withdrawn if w != Signal.CONTENT_SPREADING.value)
            await conn.execute(update(conversations).where(conversations.c.id == conv.id)
                               .values(signals_withdrawn=",".join(kept)))
            await signals_store.reinstate(conn, conv.id, Signal.CONTENT_SPREADING)
            conv = dataclasses.replace(conv, withdrawn=kept)
        change = await raise_in_tx(conn, deps, conv, found, now)
        await audit.record(conn, at=now, actor_id=actor_id, action="case.flagged_spreading",
                           target_kind="conversation", target_id=conversation_id)
    if change:
        await announce(deps, change)
    return change


async def lead_set(deps: Deps, conversation_id: str, urgency: Urgency, reason: str,
                   actor_id: int) -> Change | None:
    """A lead sets the urgency (up or down) with a reason code (LEAD_REASONS). The level the
    case already has is no change: None, nothing recorded or announced."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        conv = await convs.get(conn, conversation_id)
        if conv is None or conv.status == Status.CLOSED:
            raise LookupError(conversation_id)
        if conv.urgency == urgency:
            return None
        reasons = (*(r for r in conv.reasons if r != LEAD), LEAD)
        await conn.execute(update(conversations).where(conversations.c.id == conversation_id)
                           .values(urgency=urgency.value, urgency_reasons=",".join(reasons)))
        await audit.record(conn, at=now, actor_id=actor_id, action="case.urgency_set",
                           target_kind="conversation", target_id=conversation_id,
                           before=conv.urgency.value, after=urgency.value, reason=reason)
    change = Change(conversation_id, urgency, reasons, ())
    await announce(deps, change)
    return change


# Cases aged in one transaction; a pass takes batches until none is overdue. Small: on SQLite
# a transaction runs on the loop's thread without a break (the announcements between batches
# let the loop go), and at 10,000 waiting about 150 cases cross a limit between two passes,
# which in one transaction of 200 stalled the loop for tens of ms.
AGING_BATCH = 10


async def age_waiting(deps: Deps, now: datetime | None = None, batch: int = AGING_BATCH) -> int:
    """Move up every waiting case that has waited past its level's limit (none starves).

    Each level's overdue cases are read by deadline from ix_conversations_waiting (only they
    are read, not every open case); levels nearer the top first, so a case moved up in this
    pass is not looked at again in it."""
    now = now or datetime.now(UTC)
    limits = deps.config.triage.age_up_seconds
    total = 0
    for level in sorted(limits, key=lambda u: u.rank):
        cut = now - timedelta(seconds=limits[level])
        while True:
            changed, read = await _age_batch(deps, level, cut, now, batch)
            await _announce_aged(deps, changed)
            total += len(changed)
            if read < batch or not changed:
                break
    return total


async def _announce_aged(deps: Deps, changes: list[Change]) -> None:
    """`announce` for a batch of aged cases (no signals, nothing newly spreading): one read,
    one Redis round trip and one append for the batch instead of three a case."""
    if not changes:
        return
    async with deps.engine.connect() as conn:
        rows = {r.id: r for r in await floor_queries.by_ids(
            conn, [c.conversation_id for c in changes])}
    if not rows:
        return
    try:
        await deps.live.refresh_item(*(as_waiting(r) for r in rows.values()))
    except (RedisError, OSError) as e:
        log.warning("urgency not re-ranked live", extra={"cases": len(rows),
                                                         "error": type(e).__name__})
    await deps.publish_all([{"type": EventType.URGENCY, "conversation": c.conversation_id,
                             "urgency": c.urgency.value, "reasons": list(c.reasons)}
                            for c in changes if c.conversation_id in rows])


async def _age_batch(deps: Deps, level: Urgency, cut: datetime, now: datetime, batch: int
                     ) -> tuple[list[Change], int]:
    """Age up to `batch` cases of `level` enqueued before `cut`; (changes, rows read)."""
    changed = []
    async with deps.engine.begin() as conn:
        due = await floor_queries.overdue(conn, level, cut, batch)
        for conv in due:
            waited = (now - conv.enqueued_at).total_seconds()
            target = aged(conv.urgency, waited, deps.config.triage)
            if target == conv.urgency:
                continue
            reasons = (*(r for r in conv.reasons if r != AGED), AGED)
            # Only from the level read: a lead's change or a claim since (PostgreSQL reads
            # committed data, rows are not locked by the read) is not overwritten.
            moved = await conn.execute(update(conversations).where(and_(
                conversations.c.id == conv.id, conversations.c.urgency == conv.urgency.value,
                conversations.c.status == Status.WAITING.value))
                .values(urgency=target.value, urgency_reasons=",".join(reasons)))
            if moved.rowcount != 1:
                continue
            await audit.record(conn, at=now, actor_id=None, action="case.aged",
                               target_kind="conversation", target_id=conv.id,
                               before=conv.urgency.value, after=target.value,
                               waited_s=int(waited))
            changed.append(Change(conv.id, target, reasons, (AGED,)))
    return changed, len(due)


async def run_aging(deps: Deps, stop: asyncio.Event, every_s: float = 15.0) -> None:
    """Forever: age waiting cases (one instance at a time)."""
    await run_leased(deps.redis, deps.keys.job_lock("aging"), every_s,
                     lambda: age_waiting(deps), stop)
