"""Debrief flags: a counselor marks a case as hard; the leads see it and clear it once they
have talked (docs/staff.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from hotline.audit import log as audit
from hotline.cases import casework
from hotline.deps import Deps
from hotline.domain.event_types import EventType
from hotline.domain.staff import Staff
from hotline.staff import exposure_store as q


async def mark_hard(deps: Deps, staff: Staff, conversation_id: str) -> int:
    """A debrief flag on a case `staff` may read (CaseNotFound otherwise)."""
    async with deps.engine.connect() as conn:
        await casework.load_case(conn, staff, conversation_id)
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        flag = await q.add_debrief(conn, staff.id, conversation_id, now)
        await audit.record(conn, at=now, actor_id=staff.id, action="debrief.flagged",
                           target_kind="conversation", target_id=conversation_id, flag=flag)
    await deps.publish({"type": EventType.DEBRIEF, "counselor": staff.id, "flag": flag})
    return flag


async def clear_debrief(deps: Deps, actor_id: int, flag_id: int) -> bool:
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        done = await q.clear_debrief(conn, flag_id, actor_id, now)
        if done:
            await audit.record(conn, at=now, actor_id=actor_id, action="debrief.cleared",
                               target_kind="debrief", target_id=str(flag_id))
    return done
