"""What raised each triage signal of a case, as staff see it: noted after triage raised them
(term ids, never message text: domain/signal_terms.py) and shown on the case page with any
withdrawal (services/withdraw.py). See docs/floor.md.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from hotline.cases import conversations as convs
from hotline.cases import signal_store as store
from hotline.deps import Deps
from hotline.domain import signal_terms
from hotline.domain.signals import Certainty, Finding, Signal, parse_reason

log = logging.getLogger(__name__)


async def note(deps: Deps, conversation_id: str, found: tuple[Finding, ...]) -> None:
    """Record the terms behind `found` (after the commit that raised them); a withdrawn
    signal keeps its record as it was."""
    rules = deps.config.triage
    try:
        async with deps.engine.begin() as conn:
            known = await store.for_case(conn, conversation_id)
            by = {k.signal: k for k in known}
            rows = []
            for f in found:
                old = by.get(f.signal)
                if old is not None and old.withdrawn_at is not None:
                    continue
                terms = signal_terms.merge(old.terms if old else (),
                                           signal_terms.terms_of(f, rules))
                rows.append((f.signal, f.certainty, terms))
            await store.record(conn, conversation_id, rows, datetime.now(UTC), known)
    except IntegrityError:
        # Two messages of one case noted at once: the first one's terms stand.
        log.info("signal terms already noted", extra={"conversation": conversation_id})


async def view(deps: Deps, conv: convs.ConversationRow) -> list[dict[str, object]]:
    """Each signal of the case (fired, possible, or withdrawn), with what raised it."""
    rules = deps.config.triage
    async with deps.engine.connect() as conn:
        rows = {r.signal: r for r in await store.for_case(conn, conv.id)}
    current: dict[Signal, Certainty] = {}
    for code in conv.reasons:
        parsed = parse_reason(code)
        if parsed is not None:
            current.setdefault(*parsed)
    out: list[dict[str, object]] = []
    for signal in (*current, *(s for s in rows if s not in current)):
        row = rows.get(signal)
        withdrawn = row is not None and row.withdrawn_at is not None
        if signal not in current and not withdrawn:
            continue
        terms = [signal_terms.show(signal, t, rules) for t in (row.terms if row else ())]
        out.append({
            "signal": signal.value,
            "certainty": current[signal].value if signal in current else row.certainty.value
            if row else Certainty.FIRED.value,
            "terms": [{"kind": t.kind, "text": t.text} for t in terms],
            "withdrawn": None if not withdrawn or row is None else {
                "at": row.withdrawn_at.isoformat() if row.withdrawn_at else None,
                "by": row.withdrawn_by, "reason": row.withdrawn_reason}})
    return out
