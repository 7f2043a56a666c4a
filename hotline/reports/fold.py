"""The folds: the statements that keep the reports' rollups current from the source tables
(takedown steps and requests, intake records), which they only read. Callers own the
transactions (one batch each).

A fold reads what was added since its mark (`report_marks`): the work is proportional to what
changed. It claims its batch by moving the mark conditionally, so a second instance that read
the same mark writes nothing. On PostgreSQL a row whose transaction is still open may hold a
lower id than one already committed, so a fold stops at rows younger than SETTLE_SECONDS (a
minute; the writers' transactions last milliseconds); on SQLite writers are serialized and
nothing waits. See docs/reports.md, "How the figures are kept".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, and_, case, cast, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.cases.tables import intake_records
from hotline.reports import figures, intake
from hotline.reports.tables import (
    report_intake_daily,
    report_marks,
    report_takedown_facts,
    report_takedown_hours,
    report_takedown_monthly,
)
from hotline.takedown.tables import takedown_items, takedown_requests, takedown_steps

facts = report_takedown_facts
SETTLE_SECONDS = {"postgresql": 60.0, "sqlite": 0.0}
_ANSWERS = ("acknowledged", "removed", "partially_removed", "refused", "info_requested")
_DECISIONS = ("removed", "partially_removed", "refused", "verified")
_TIMES = ("sent_at", "answered_at", "decided_at", "removed_at", "refused_at", "overdue_at",
          "escalated_at", "verified_at")
_GROUP = ("month", "platform", "route", "legal_basis")


def _insert(conn: AsyncConnection) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)


async def _mark(conn: AsyncConnection, name: str) -> int:
    stmt = select(report_marks.c.last_id).where(report_marks.c.name == name)
    found = (await conn.execute(stmt)).scalar_one_or_none()
    if found is None:
        await conn.execute(_insert(conn)(report_marks).values(name=name, last_id=0)
                           .on_conflict_do_nothing())
        found = (await conn.execute(stmt)).scalar_one()
    return int(found)


async def _claim(conn: AsyncConnection, name: str, old: int, new: int) -> bool:
    """Move the mark from old to new; False if another fold moved it first."""
    res = await conn.execute(update(report_marks).where(and_(
        report_marks.c.name == name, report_marks.c.last_id == old)).values(last_id=new))
    return res.rowcount == 1


def _settled_prefix(rows: Sequence[Any], cutoff: datetime) -> int | None:
    """The highest id of the leading rows written before `cutoff` (rows ordered by id)."""
    last = None
    for r in rows:
        if r[1] > cutoff:
            break
        last = int(r[0])
    return last


def _seconds_between(conn: AsyncConnection, a: Any, b: Any) -> ColumnElement[Any]:
    if conn.dialect.name == "postgresql":
        return cast(func.extract("epoch", b - a), BigInteger)
    return cast(func.round((func.julianday(b) - func.julianday(a)) * 86400), Integer)


def _first(step: str | tuple[str, ...]) -> Any:
    steps = (step,) if isinstance(step, str) else step
    return func.min(case((takedown_steps.c.step.in_(steps), takedown_steps.c.at)))


async def _facts_of(conn: AsyncConnection, touched: Any) -> dict[int, figures.Fact]:
    f = facts.c
    return {r.request_id: figures.Fact(
        r.platform, r.route, r.legal_basis, r.rung, r.kind, r.sent_at, r.answered_at,
        r.decided_at, r.removed_at, r.refused_at, r.overdue_at, r.escalated_at, r.verified_at,
        r.removal_seconds)
        for r in await conn.execute(select(facts).where(and_(
            f.request_id.in_(touched), f.sent_at.is_not(None))))}


def _deltas(old: dict[int, figures.Fact], new: dict[int, figures.Fact], tz: str
            ) -> tuple[Counter[tuple[Any, ...]], dict[tuple[Any, ...], list[int]]]:
    """How the touched requests move the monthly counts and the hour buckets."""
    hours: Counter[tuple[Any, ...]] = Counter()
    counts: dict[tuple[Any, ...], list[int]] = {}
    for sign, found in ((-1, old), (1, new)):
        for f in found.values():
            month = figures.month_of(f.sent_at, tz)
            key = (month, f.platform, f.route, f.legal_basis, f.rung, f.kind)
            acc = counts.setdefault(key, [0] * len(figures.TAKEDOWN_COUNTS))
            for i, v in enumerate(figures.counts_of(f)):
                acc[i] += sign * int(v)
            if f.removal_seconds is not None:
                hours[(month, f.platform, f.route, f.legal_basis,
                       figures.hour_bucket(f.removal_seconds))] += sign
    return hours, counts


async def fold_takedown(conn: AsyncConnection, now: datetime, tz: str, batch: int = 50_000
                        ) -> int:
    """Fold the takedown steps recorded since the mark into the facts and the monthly
    rollups (one batch); how many steps were folded (0: up to date, or taken by another)."""
    last = await _mark(conn, "takedown")
    cutoff = now - timedelta(seconds=SETTLE_SECONDS.get(conn.dialect.name, 60.0))
    rows = (await conn.execute(select(takedown_steps.c.id, takedown_steps.c.recorded_at)
                               .where(takedown_steps.c.id > last)
                               .order_by(takedown_steps.c.id).limit(batch))).all()
    hi = _settled_prefix(rows, cutoff)
    if hi is None or not await _claim(conn, "takedown", last, hi):
        return 0
    s, r, i = takedown_steps, takedown_requests, takedown_items
    new_steps = and_(s.c.id > last, s.c.id <= hi)
    touched = select(s.c.request_id).where(new_steps).distinct().scalar_subquery()
    old = await _facts_of(conn, touched)
    src = (select(r.c.id, r.c.item_id, i.c.kind, r.c.platform, r.c.route, r.c.legal_basis,
                  r.c.rung, r.c.state, r.c.due_at, _first("sent"), _first(_ANSWERS),
                  _first(_DECISIONS), _first("removed"), _first("refused"), _first("overdue"),
                  _first("escalated"), _first("verified"))
           .select_from(s.join(r, r.c.id == s.c.request_id).join(i, i.c.id == r.c.item_id))
           .where(new_steps)
           .group_by(r.c.id, r.c.item_id, i.c.kind, r.c.platform, r.c.route, r.c.legal_basis,
                     r.c.rung, r.c.state, r.c.due_at))
    ins = _insert(conn)(facts).from_select(
        ["request_id", "item_id", "kind", "platform", "route", "legal_basis", "rung", "state",
         "due_at", *_TIMES], src)
    ins = ins.on_conflict_do_update(index_elements=[facts.c.request_id], set_={
        "rung": ins.excluded.rung, "state": ins.excluded.state, "due_at": ins.excluded.due_at,
        **{t: func.coalesce(facts.c[t], ins.excluded[t]) for t in _TIMES}})
    await conn.execute(ins)
    await conn.execute(update(facts).where(and_(
        facts.c.removal_seconds.is_(None), facts.c.removed_at.is_not(None),
        facts.c.sent_at.is_not(None), facts.c.request_id.in_(touched)))
        .values(removal_seconds=_seconds_between(conn, facts.c.sent_at, facts.c.removed_at)))
    hours, counts = _deltas(old, await _facts_of(conn, touched), tz)
    await _add_counts(conn, counts)
    await _add_hours(conn, hours)
    return len([x for x in rows if x[0] <= hi])


async def _add_counts(conn: AsyncConnection, counts: dict[tuple[Any, ...], list[int]]) -> None:
    moved = [(k, v) for k, v in counts.items() if any(v)]
    if not moved:
        return
    m = report_takedown_monthly
    ins = _insert(conn)(m)
    ins = ins.on_conflict_do_update(
        index_elements=[m.c.month, m.c.platform, m.c.route, m.c.legal_basis, m.c.rung,
                        m.c.kind],
        set_={n: m.c[n] + ins.excluded[n] for n in figures.TAKEDOWN_COUNTS})
    await conn.execute(ins, [
        dict(zip((*_GROUP, "rung", "kind"), k, strict=True)) | dict(
            zip(figures.TAKEDOWN_COUNTS, v, strict=True)) for k, v in moved])


async def _add_hours(conn: AsyncConnection, hours: Counter[tuple[Any, ...]]) -> None:
    moved = [(k, n) for k, n in hours.items() if n]
    if not moved:
        return
    h = report_takedown_hours
    ins = _insert(conn)(h)
    ins = ins.on_conflict_do_update(
        index_elements=[h.c.month, h.c.platform, h.c.route, h.c.legal_basis, h.c.hour],
        set_={"removed": h.c.removed + ins.excluded.removed})
    await conn.execute(ins, [dict(zip((*_GROUP, "hour"), k, strict=True)) | {"removed": n}
                             for k, n in moved])


async def fold_intake(conn: AsyncConnection, now: datetime, tz: str, batch: int = 20_000
                      ) -> int:
    """Fold the intake records written since the mark into the daily counts (one batch)."""
    last = await _mark(conn, "intake")
    cutoff = now - timedelta(seconds=SETTLE_SECONDS.get(conn.dialect.name, 60.0))
    i = intake_records
    rows = (await conn.execute(select(
        i.c.id, i.c.closed_at, i.c.opened_at, i.c.channel, i.c.harm_type, i.c.age_band,
        i.c.relation, i.c.platforms, i.c.referrals, i.c.outcome)
        .where(i.c.id > last).order_by(i.c.id).limit(batch))).all()
    hi = _settled_prefix(rows, cutoff)
    if hi is None or not await _claim(conn, "intake", last, hi):
        return 0
    taken = [x for x in rows if x[0] <= hi]
    counts = intake.intake_counts(
        (intake.IntakeRecord(x.opened_at, x.channel, x.harm_type, x.age_band, x.relation,
                              x.platforms, x.referrals, x.outcome) for x in taken), tz)
    if counts:
        d = report_intake_daily
        ins = _insert(conn)(d)
        ins = ins.on_conflict_do_update(index_elements=[d.c.day, d.c.dimension, d.c.value],
                                        set_={"records": d.c.records + ins.excluded.records})
        await conn.execute(ins, [{"day": day, "dimension": dim, "value": v, "records": n}
                                 for (day, dim, v), n in counts.items()])
    return len(taken)
