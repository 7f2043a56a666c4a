"""What the console shows about a case beyond its transcript: how long the victim waited and
whether they are still there, the answers they gave, whether takedown acknowledged the alert,
why replies failed, what the intake form may start from; and why a staff member gets no new
case now (so the floor's status line never contradicts take-next). Reads only."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hotline.cases import alerts, floor_queries
from hotline.cases import conversations as convs
from hotline.cases.live import now_ms
from hotline.deps import Deps
from hotline.domain import routing
from hotline.domain.policy import may_act_on_case
from hotline.domain.signals import Signal
from hotline.domain.staff import Staff
from hotline.staff import accounts as staff_store

# The victim's answers the console shows, in this order (urgency.answers_from_json's keys).
_ANSWER_KEYS = ("spreading", "age_group", "safe_now", "platform")


@dataclass(frozen=True)
class CaseView:
    may_act: bool
    holder_name: str | None
    # Enqueued until a counselor took it (or until now while it waits).
    waited_seconds: int
    last_victim_at: datetime | None
    # Since when the victim's last messages are unanswered (None: answered, or none).
    unanswered_since: datetime | None
    answers: dict[str, Any]
    takedown: list[dict[str, object]]
    suggested_age_band: str | None
    delivery_errors: dict[int, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"may_act": self.may_act, "holder_name": self.holder_name,
                "waited_seconds": self.waited_seconds,
                "last_victim_at": _iso(self.last_victim_at),
                "unanswered_since": _iso(self.unanswered_since),
                "intake_answers": self.answers, "takedown": self.takedown,
                "suggested_age_band": self.suggested_age_band}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def suggested_age_band(reasons: tuple[str, ...], answers: dict[str, Any]) -> str | None:
    """The intake form's age band from what the victim said: their answer when under 14, else
    14-17 when the minor signal fired (they are under 18), else nothing (the counselor picks)."""
    if answers.get("age_group") == "under_14":
        return "under_14"
    if answers.get("age_group") == "14_17" or Signal.MINOR.value in reasons:
        return "14_17"
    return None


async def view(deps: Deps, viewer: Staff, conv: convs.ConversationRow, after: int) -> CaseView:
    now = datetime.now(UTC)
    async with deps.engine.connect() as conn:
        raw = await convs.intake_answers_json(conn, conv.id)
        last_in = await convs.last_inbound_at(conn, conv.id)
        unanswered = (await floor_queries.unanswered_since(conn, [conv.id])).get(conv.id)
        errors = await convs.delivery_errors(conn, conv.id, after)
        holder = (await staff_store.by_id(conn, conv.counselor_id)
                  if conv.counselor_id is not None else None)
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = {}
    answers = {k: parsed[k] for k in _ANSWER_KEYS
               if isinstance(parsed, dict) and parsed.get(k) is not None}
    took = conv.assigned_at or (conv.closed_at if conv.closed_at else now)
    takedown: list[dict[str, object]] = [
        {"at": a.created_at.isoformat(), "acked_at": _iso(a.acked_at),
         "acked_by": a.acked_by_name, "via": a.acked_via}
        for a in await alerts.of_case(deps, conv.id, alerts.TAKEDOWN)]
    return CaseView(
        may_act=may_act_on_case(viewer, conv.counselor_id),
        holder_name=holder.name if holder else None,
        waited_seconds=max(0, int((took - conv.enqueued_at).total_seconds())),
        last_victim_at=last_in, unanswered_since=unanswered, answers=answers,
        takedown=takedown, suggested_age_band=suggested_age_band(conv.reasons, answers),
        delivery_errors=errors)


async def blocked(deps: Deps, staff_id: int) -> str | None:
    """The first routing reason `staff_id` gets no new case now (None: they may get one)."""
    now = now_ms()
    person = await deps.live.staff_state_of(staff_id)
    return "status" if person is None else routing.why_not(person, None, now, deps.rules)
