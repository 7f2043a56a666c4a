"""Queries of case_signals: the triage signals of a case, what raised them (term ids, see
domain/signal_terms.py) and their withdrawal."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.cases.tables import case_signals
from hotline.domain.signals import Certainty, Signal

# Rows of a signal a later version no longer knows are skipped, not an error.
_KNOWN = frozenset(s.value for s in Signal)


@dataclass(frozen=True)
class CaseSignal:
    signal: Signal
    certainty: Certainty
    terms: tuple[str, ...]
    found_at: datetime
    withdrawn_at: datetime | None
    withdrawn_by: int | None
    withdrawn_reason: str | None


async def for_case(conn: AsyncConnection, conversation_id: str) -> list[CaseSignal]:
    rows = await conn.execute(select(case_signals).where(
        case_signals.c.conversation_id == conversation_id).order_by(case_signals.c.found_at))
    return [CaseSignal(Signal(r.signal), Certainty(r.certainty),
                       tuple(t for t in r.terms.split(",") if t), r.found_at, r.withdrawn_at,
                       r.withdrawn_by, r.withdrawn_reason)
            for r in rows if r.signal in _KNOWN]


async def record(conn: AsyncConnection, conversation_id: str,
                 found: Iterable[tuple[Signal, Certainty, str]], at: datetime,
                 known: Iterable[CaseSignal] = ()) -> None:
    """Write what raised each signal (`terms` already merged with `known`, the case's rows
    read in this transaction); a fired signal stays fired."""
    before = {s.signal: s for s in known}
    for signal, certainty, terms in found:
        old = before.get(signal)
        if old is None:
            await conn.execute(insert(case_signals).values(
                conversation_id=conversation_id, signal=signal.value,
                certainty=certainty.value, terms=terms, found_at=at))
            continue
        kept = Certainty.FIRED if Certainty.FIRED in (old.certainty, certainty) else certainty
        await conn.execute(update(case_signals).where(and_(
            case_signals.c.conversation_id == conversation_id,
            case_signals.c.signal == signal.value)).values(certainty=kept.value, terms=terms))


async def withdraw(conn: AsyncConnection, conversation_id: str, signal: Signal,
                   certainty: Certainty, by: int, reason: str, at: datetime) -> None:
    """Mark the signal withdrawn; a signal raised before its terms were noted (or before
    they were kept at all) gets a row of its own, with no terms."""
    result = await conn.execute(update(case_signals).where(and_(
        case_signals.c.conversation_id == conversation_id,
        case_signals.c.signal == signal.value))
        .values(withdrawn_at=at, withdrawn_by=by, withdrawn_reason=reason))
    if result.rowcount == 0:
        await conn.execute(insert(case_signals).values(
            conversation_id=conversation_id, signal=signal.value, certainty=certainty.value,
            terms="", found_at=at, withdrawn_at=at, withdrawn_by=by, withdrawn_reason=reason))


async def reinstate(conn: AsyncConnection, conversation_id: str, signal: Signal) -> None:
    """A counselor raised a withdrawn signal again themselves: it counts again."""
    await conn.execute(update(case_signals).where(and_(
        case_signals.c.conversation_id == conversation_id,
        case_signals.c.signal == signal.value))
        .values(withdrawn_at=None, withdrawn_by=None, withdrawn_reason=None))
