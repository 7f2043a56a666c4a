"""Moving a case between people: a lead's reassignment or return to the queue, and the
handover at a counselor's shift edge. Each move is checked in Redis (atomic, eligibility),
recorded in SQL, audited, and announced to everyone affected. See docs/routing.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.audit import log as audit
from hotline.cases import casework, livesync, staffing, waitinfo
from hotline.cases import conversations as convs
from hotline.cases.casework import CaseConflict, CaseNotFound
from hotline.cases.live import now_ms
from hotline.cases.tables import conversations, handovers
from hotline.deps import Deps
from hotline.domain import routing, shifts
from hotline.domain.conversation import Status
from hotline.domain.event_types import EventType
from hotline.domain.staff import Staff
from hotline.staff import accounts as staff_store
from hotline.steps import in_parts

log = logging.getLogger(__name__)

# Why a lead moved a case; codes only, so the audit log never holds free text about a victim.
REASONS = ("workload", "skills", "language", "continuity", "wellbeing", "shift_end",
           "unresponsive", "deactivated", "other")
_NOTE_MAX = 2000


async def reassign(deps: Deps, conversation_id: str, to_id: int, reason: str,
                   actor_id: int | None, override_capacity: bool = False) -> int | None:
    """Give an open case to `to_id` (eligible, capacity may be overridden with a reason).

    Returns the previous holder (None if it was waiting)."""
    if reason not in REASONS:
        raise ValueError(f"reason: expected one of {', '.join(REASONS)}")
    async with deps.engine.connect() as conn:
        conv = await convs.get(conn, conversation_id)
    if conv is None:
        raise CaseNotFound(conversation_id)
    if conv.status == Status.CLOSED:
        await livesync.release_closed(deps, conversation_id, "lead_move")
        raise CaseNotFound(conversation_id)
    res = await deps.live.reassign(conversation_id, to_id, override_capacity)
    if not res.ok:
        raise CaseConflict(res.reason)
    previous = int(res.reason) if res.reason else None
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        # Guarded: a close committed since our read must not be undone (the case reopened).
        result = await conn.execute(
            update(conversations).where(and_(conversations.c.id == conversation_id,
                                             conversations.c.status != Status.CLOSED.value))
            .values(status=Status.ACTIVE.value, counselor_id=to_id,
                    assigned_at=conv.assigned_at or now, last_activity_at=now))
        moved = result.rowcount == 1
        if moved:
            await audit.record(conn, at=now, actor_id=actor_id, action="case.reassigned",
                               target_kind="conversation", target_id=conversation_id,
                               previous=previous, to=to_id, reason=reason,
                               override_capacity=override_capacity)
    if not moved:
        # Closed meanwhile: what our Redis step just gave `to_id` goes too.
        await livesync.release_closed(deps, conversation_id, "lead_move")
        raise CaseNotFound(conversation_id)
    await deps.publish({"type": EventType.ASSIGNED, "conversation": conversation_id,
                        "counselor": to_id,
                        "previous": previous, "reason": reason})
    return previous


async def requeue(deps: Deps, conversation_id: str, reason: str, actor_id: int | None) -> None:
    """Put an open case back in the queue at its old position (it keeps its wait)."""
    if reason not in REASONS:
        raise ValueError(f"reason: expected one of {', '.join(REASONS)}")
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        conv = await convs.get(conn, conversation_id)
        if conv is None:
            raise CaseNotFound(conversation_id)
        if conv.status == Status.WAITING:
            raise CaseConflict("already waiting")
        closed = conv.status == Status.CLOSED
        if not closed:
            # Guarded: a close committed since our read must not be undone (the case reopened).
            result = await conn.execute(
                update(conversations).where(and_(conversations.c.id == conversation_id,
                                                 conversations.c.status == Status.ACTIVE.value))
                .values(status=Status.WAITING.value, counselor_id=None, assigned_at=None,
                        last_activity_at=now))
            if result.rowcount == 1:
                await audit.record(conn, at=now, actor_id=actor_id, action="case.requeued",
                                   target_kind="conversation", target_id=conversation_id,
                                   previous=conv.counselor_id, reason=reason)
            else:
                # Moved since our read: closed, or already back in the queue.
                found = await convs.get(conn, conversation_id)
                if found is not None and found.status != Status.CLOSED:
                    raise CaseConflict("already waiting")
                closed = True
    if closed:
        await livesync.release_closed(deps, conversation_id, "lead_move")
        raise CaseNotFound(conversation_id)
    await deps.live.release(conversation_id, requeue=True)
    await deps.publish({"type": EventType.QUEUED, "conversation": conversation_id,
                        "previous": conv.counselor_id, "reason": reason,
                        "language": conv.language, "channel": conv.channel.value,
                        "urgency": conv.urgency.value})


async def plan(deps: Deps, conversation_id: str, from_id: int, to_id: int | None,
               note: str) -> None:
    """The holder's instruction for their shift's end: to a colleague, or back to the queue,
    with a note for whoever comes next (sealed; shown on the case)."""
    if len(note) > _NOTE_MAX:
        raise ValueError(f"note: at most {_NOTE_MAX} characters")
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        conv = await convs.get(conn, conversation_id)
        if conv is None or conv.status != Status.ACTIVE or conv.counselor_id != from_id:
            raise CaseNotFound(conversation_id)
        await conn.execute(update(handovers).where(and_(
            handovers.c.conversation_id == conversation_id, handovers.c.done_at.is_(None)))
            .values(done_at=now))
        sealed = deps.keyring.seal_text(note, f"handover:{conversation_id}") if note else None
        await conn.execute(insert(handovers).values(
            conversation_id=conversation_id, from_counselor_id=from_id,
            to_counselor_id=to_id, note_sealed=sealed, created_at=now))
        await audit.record(conn, at=now, actor_id=from_id, action="handover.planned",
                           target_kind="conversation", target_id=conversation_id, to=to_id)
    await deps.publish({"type": EventType.HANDOVER_PLANNED, "conversation": conversation_id,
                        "counselor": from_id, "to": to_id})


async def colleagues(deps: Deps, viewer: Staff, conversation_id: str, limit: int
                     ) -> dict[str, Any]:
    """Whom the holder may plan to hand a case to (`routing.handover_candidates`): the case
    page read the whole roster for this, 121 KB and 40 ms a case opened at 1,000 on shift.
    CaseNotFound unless `viewer` may read the case."""
    found, total, names = await _candidates(
        deps, viewer, conversation_id,
        lambda people, conv: routing.handover_candidates(
            people, viewer.id, conv.language, conv.channel.value, now_ms(), deps.rules, limit))
    return {"colleagues": [
        {"id": p.id, "name": names.get(p.id, f"#{p.id}"), "languages": sorted(p.languages),
         "until": None if p.shift_end_ms >= staffing.ALWAYS[1] else
         datetime.fromtimestamp(p.shift_end_ms / 1000, UTC).isoformat()} for p in found],
        "total": total}


async def takers(deps: Deps, viewer: Staff, conversation_id: str, limit: int
                 ) -> dict[str, Any]:
    """Whom a lead may give the case to now (`routing.reassign_candidates`). CaseNotFound
    unless `viewer` may read the case."""
    found, total, names = await _candidates(
        deps, viewer, conversation_id,
        lambda people, conv: routing.reassign_candidates(
            people, conv.counselor_id, conv.language, conv.channel.value, now_ms(), deps.rules,
            limit))
    return {"takers": [
        {"id": p.id, "name": names.get(p.id, f"#{p.id}"), "status": p.status.value,
         "load": p.load, "max_chats": p.max_chats} for p in found], "total": total}


_Choose = Callable[[list[routing.StaffState], convs.ConversationRow],
                   tuple[list[routing.StaffState], int]]


async def _candidates(deps: Deps, viewer: Staff, conversation_id: str, choose: _Choose
                      ) -> tuple[list[routing.StaffState], int, dict[int, str]]:
    """People for a case, chosen from the counselors' live states shared with the wait
    estimates (at most a second old), after the access check; with their names."""
    people = await waitinfo.staff_now(deps.live)
    async with deps.engine.connect() as conn:
        conv = await casework.load_case(conn, viewer, conversation_id)
        found, total = choose(people, conv)
        names = await staff_store.names(conn, [p.id for p in found])
    return found, total, names


async def notes(deps: Deps, conversation_id: str) -> list[dict[str, object]]:
    """Handover notes of a case, decrypted, oldest first (the caller has checked access)."""
    async with deps.engine.connect() as conn:
        rows = await conn.execute(select(handovers).where(
            handovers.c.conversation_id == conversation_id).order_by(handovers.c.id))
        return [{"from": r.from_counselor_id, "to": r.to_counselor_id,
                 "at": r.created_at.isoformat(), "done": r.done_at is not None,
                 "note": deps.keyring.open_text_or_none(r.note_sealed,
                                                        f"handover:{conversation_id}")
                 if r.note_sealed else ""} for r in rows]


async def at_shift_edge(deps: Deps, now: datetime | None = None,
                        roster: shifts.Roster | None = None) -> list[str]:
    """Hand over every open case held by someone whose shift has ended (by `roster`, when the
    caller has read it at `now` already).

    A planned handover to an eligible colleague is carried out; anything else goes back to
    the queue at its old position. Returns the cases moved."""
    now = now or datetime.now(UTC)
    # On the reader (SQLite: off the loop's thread): at 1,000 on the roster the pass's reads
    # held the loop 86 ms in one step on the server's own engine.
    async with deps.reads.connect() as conn:
        if roster is None:
            roster = await staffing.load_roster(conn, since=now)
        # Only the cases of people off shift are read: each minute's pass reading every open
        # case (10,000 waiting in a surge) held the loop for 200 ms.
        off = []
        # 1,000 holders' windows held the loop 40 ms at once.
        async for part in in_parts(sorted(await _active_holders(conn)), staffing.WINDOWS_PART):
            off += [h for h in part if not staffing.is_on_shift(roster, h, now)]
        active = await _active_held_by_any(conn, off)
        if not active:
            return []
        # Plans of these cases only: a plan whose case closed first is never carried out,
        # and reading every such plan ever made, each minute, grew without end.
        plans = {r.conversation_id: r for r in await conn.execute(
            select(handovers).where(and_(
                handovers.c.done_at.is_(None),
                handovers.c.conversation_id.in_([c.id for c in active]))))}
    moved = []
    for conv in active:
        if conv.counselor_id is None:
            continue
        if await _hand_over(deps, conv.id, conv.counselor_id, plans.get(conv.id), "shift_end",
                            now):
            moved.append(conv.id)
    return moved


async def release_all(deps: Deps, counselor_id: int, reason: str) -> list[str]:
    """Hand over every open case `counselor_id` holds, by the shift-edge rules: a planned
    handover to an eligible colleague is carried out, anything else goes back to the queue
    (a deactivated account). Returns the cases moved."""
    now = datetime.now(UTC)
    async with deps.engine.connect() as conn:
        held = await convs.held_by(conn, counselor_id)
        plans = {r.conversation_id: r for r in await conn.execute(
            select(handovers).where(and_(
                handovers.c.done_at.is_(None),
                handovers.c.conversation_id.in_([c.id for c in held]))))}
    return [c.id for c in held
            if await _hand_over(deps, c.id, counselor_id, plans.get(c.id), reason, now)]


async def _hand_over(deps: Deps, cid: str, holder: int, planned: Any, reason: str,
                     now: datetime) -> bool:
    done = False
    if planned is not None and planned.to_counselor_id is not None:
        try:
            await reassign(deps, cid, planned.to_counselor_id, reason, None)
            done = True
        except (CaseConflict, CaseNotFound) as e:
            log.info("planned handover not possible; returning to queue",
                     extra={"conversation": cid, "why": str(e)})
    if not done:
        try:
            await requeue(deps, cid, reason, None)
        except (CaseConflict, CaseNotFound):
            return False
    async with deps.engine.begin() as conn:
        await conn.execute(update(handovers).where(and_(
            handovers.c.conversation_id == cid, handovers.c.done_at.is_(None)))
            .values(done_at=now))
    await deps.publish({"type": EventType.HANDOVER, "conversation": cid, "from": holder,
                        "to_queue": not done})
    return True


async def _active_holders(conn: AsyncConnection) -> set[int]:
    """Everyone who holds an active case (from the status index: ids, not rows)."""
    rows = await conn.execute(select(conversations.c.counselor_id).distinct().where(and_(
        conversations.c.status == Status.ACTIVE.value,
        conversations.c.counselor_id.is_not(None))))
    return {int(r[0]) for r in rows}


async def _active_held_by_any(conn: AsyncConnection, counselor_ids: Iterable[int]
                             ) -> list[convs.ConversationRow]:
    """The active cases these people hold, oldest assignment first."""
    ids = sorted(set(counselor_ids))
    if not ids:
        return []
    rows = await conn.execute(select(*convs.CONV_COLS).where(and_(
        conversations.c.counselor_id.in_(ids),
        conversations.c.status == Status.ACTIVE.value)).order_by(conversations.c.assigned_at))
    return [convs.row_of(r) for r in rows]
