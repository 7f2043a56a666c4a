"""Withdrawing a wrong triage signal: the holder of a case, a lead or an admin takes a signal
off it with a reason code. Audited; the case's urgency is recomputed from what remains (signal
levels, its wait if still waiting; a lead's own setting stands); a takedown alert the signal
raised is withdrawn; triage does not raise it again from the victim's words (a counselor's own
"spreading now" flag does). See docs/floor.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update

from hotline.audit import log as audit
from hotline.cases import alerts, casework, urgency
from hotline.cases import conversations as convs
from hotline.cases import signal_store as store
from hotline.cases.tables import conversations
from hotline.deps import Deps
from hotline.domain import policy
from hotline.domain.conversation import Status, Urgency
from hotline.domain.signals import Certainty, Signal, reason_code
from hotline.domain.staff import Staff
from hotline.domain.triage import Triage, TriageRules, aged

REASONS = ("misread", "not_current", "unsure", "someone_else", "test", "other")


@dataclass(frozen=True)
class Withdrawn:
    change: urgency.Change
    alerts_withdrawn: list[int]
    alerts_already_acked: list[int]


def recompute(conv: convs.ConversationRow, reasons: tuple[str, ...], now: datetime,
              rules: TriageRules) -> tuple[Urgency, tuple[str, ...]]:
    """The urgency the remaining reasons justify: the signals' levels, raised again for the
    wait if still waiting; a lead's own setting ("lead") is kept as it is."""
    left = Triage.from_codes(Urgency.NORMAL, reasons)
    level = min((*(rules.levels[s] for s in left.reasons),
                 *(rules.possible_urgency(s) for s in left.possible)),
                key=lambda u: u.rank, default=Urgency.NORMAL)
    kept = tuple(r for r in reasons if r != urgency.AGED)
    if conv.status is Status.WAITING:
        waited = aged(level, (now - conv.enqueued_at).total_seconds(), rules)
        if waited != level:
            level, kept = waited, (*kept, urgency.AGED)
    if urgency.LEAD in reasons:
        level = conv.urgency
    return level, kept


async def withdraw(deps: Deps, staff: Staff, conversation_id: str, signal: Signal,
                   reason: str) -> Withdrawn:
    """CaseNotFound if `staff` may not see the case; CaseConflict("not_holder" | "closed" |
    "not_raised") otherwise refused."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        conv = await casework.load_case(conn, staff, conversation_id)
        if not policy.may(staff.role, policy.Action.SUPERVISE) \
                and conv.counselor_id != staff.id:
            raise casework.CaseConflict("not_holder")
        if conv.status is Status.CLOSED:
            raise casework.CaseConflict("closed")
        codes = {reason_code(signal, c) for c in Certainty}
        if not codes & set(conv.reasons):
            raise casework.CaseConflict("not_raised")
        level, reasons = recompute(conv, tuple(r for r in conv.reasons if r not in codes),
                                   now, deps.config.triage)
        gone = ",".join(dict.fromkeys((*conv.withdrawn, signal.value)))
        await conn.execute(update(conversations).where(conversations.c.id == conv.id).values(
            urgency=level.value, urgency_reasons=",".join(reasons), signals_withdrawn=gone))
        certainty = Certainty.FIRED if signal.value in conv.reasons else Certainty.POSSIBLE
        await store.withdraw(conn, conv.id, signal, certainty, staff.id, reason, now)
        await audit.record(conn, at=now, actor_id=staff.id, action="case.signal_withdrawn",
                           target_kind="conversation", target_id=conv.id,
                           signal=signal.value, reason=reason, before=conv.urgency.value,
                           after=level.value)
        ended: list[int] = []
        acked: list[int] = []
        if signal is Signal.CONTENT_SPREADING:
            ended, acked = await alerts.withdraw_takedown(conn, conv.id, staff.id, now)
    change = urgency.Change(conv.id, level, reasons, ())
    await urgency.announce(deps, change)
    await alerts.announce_withdrawn(deps, conv.id, ended, staff.id)
    return Withdrawn(change, ended, acked)
