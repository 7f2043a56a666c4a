"""Every statement of the reports: the folds that keep the rollups current, and the reads the
figures are made from. The source tables (takedown requests and steps, intake records, voice
calls) are only read here, never written. Callers own the transactions.

The folds read what was added since their mark (`report_marks`), so the work is proportional
to what changed. On PostgreSQL a row whose transaction is still open may hold a lower id than
one already committed, so the folds stop at rows younger than SETTLE_SECONDS (a minute; the
writers' transactions last milliseconds); on SQLite writers are serialized and nothing waits.
See docs/reports.md, "How the figures are kept".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.reports import figures
from hotline.reports.tables import report_intake_daily, report_marks, report_takedown_facts
from hotline.stores.sql.tables import callbacks, intake_records, voice_calls
from hotline.takedown.tables import takedown_items, takedown_requests, takedown_steps

facts = report_takedown_facts
SETTLE_SECONDS = {"postgresql": 60.0, "sqlite": 0.0}
_AWAITING = ("sent", "acknowledged")
_ANSWERS = ("acknowledged", "removed", "partially_removed", "refused", "info_requested")
_DECISIONS = ("removed", "partially_removed", "refused", "verified")


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
    """Move the mark from old to new; False if another fold moved it first (it did this
    batch: this one must write nothing)."""
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


async def fold_takedown(conn: AsyncConnection, now: datetime, batch: int = 50_000) -> int:
    """Fold the takedown steps recorded since the mark into the facts (one batch); how many
    steps were folded (0: up to date, or another instance folded them)."""
    last = await _mark(conn, "takedown")
    cutoff = now - timedelta(seconds=SETTLE_SECONDS.get(conn.dialect.name, 60.0))
    rows = (await conn.execute(select(takedown_steps.c.id, takedown_steps.c.recorded_at)
                               .where(takedown_steps.c.id > last)
                               .order_by(takedown_steps.c.id).limit(batch))).all()
    hi = _settled_prefix(rows, cutoff)
    if hi is None or not await _claim(conn, "takedown", last, hi):
        return 0
    s, r = takedown_steps, takedown_requests
    src = (select(r.c.id, r.c.item_id, r.c.platform, r.c.route, r.c.legal_basis, r.c.rung,
                  r.c.state, r.c.due_at, _first("sent"), _first(_ANSWERS),
                  _first(_DECISIONS), _first("removed"), _first("refused"), _first("overdue"),
                  _first("escalated"), _first("verified"))
           .select_from(s.join(r, r.c.id == s.c.request_id))
           .where(and_(s.c.id > last, s.c.id <= hi))
           .group_by(r.c.id, r.c.item_id, r.c.platform, r.c.route, r.c.legal_basis,
                     r.c.rung, r.c.state, r.c.due_at))
    times = ("sent_at", "answered_at", "decided_at", "removed_at", "refused_at",
             "overdue_at", "escalated_at", "verified_at")
    ins = _insert(conn)(facts).from_select(
        ["request_id", "item_id", "platform", "route", "legal_basis", "rung", "state",
         "due_at", *times], src)
    ins = ins.on_conflict_do_update(index_elements=[facts.c.request_id], set_={
        "rung": ins.excluded.rung, "state": ins.excluded.state, "due_at": ins.excluded.due_at,
        **{t: func.coalesce(facts.c[t], ins.excluded[t]) for t in times}})
    await conn.execute(ins)
    await conn.execute(update(facts).where(and_(
        facts.c.removal_seconds.is_(None), facts.c.removed_at.is_not(None),
        facts.c.sent_at.is_not(None),
        facts.c.request_id.in_(select(s.c.request_id).where(and_(s.c.id > last,
                                                                   s.c.id <= hi)))))
        .values(removal_seconds=_seconds_between(conn, facts.c.sent_at, facts.c.removed_at)))
    return len([x for x in rows if x[0] <= hi])


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
    counts = figures.intake_counts(
        (figures.IntakeRecord(x.opened_at, x.channel, x.harm_type, x.age_band, x.relation,
                              x.platforms, x.referrals, x.outcome) for x in taken), tz)
    if counts:
        ins = _insert(conn)(report_intake_daily)
        ins = ins.on_conflict_do_update(
            index_elements=[report_intake_daily.c.day, report_intake_daily.c.dimension,
                            report_intake_daily.c.value],
            set_={"records": report_intake_daily.c.records + ins.excluded.records})
        await conn.execute(ins, [{"day": d, "dimension": dim, "value": v, "records": n}
                                 for (d, dim, v), n in counts.items()])
    return len(taken)


# --- reads ---------------------------------------------------------------------------------

def _count(cond: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _takedown_aggregates(now: datetime) -> list[Any]:
    f = facts.c
    overdue = or_(f.overdue_at.is_not(None),
                  and_(f.state.in_(_AWAITING), f.due_at.is_not(None), f.due_at < now))
    return [
        func.count().label("requests"), func.count(f.removed_at).label("removed"),
        func.count(f.verified_at).label("verified"),
        _count(and_(f.refused_at.is_not(None), f.removed_at.is_(None))).label("refused"),
        _count(f.answered_at.is_(None)).label("unanswered"),
        _count(overdue).label("overdue"),
        _count(or_(f.decided_at.is_not(None), overdue)).label("settled"),
        func.count(f.escalated_at).label("escalated"),
        _count(f.removal_seconds <= 24 * 3600).label("within_24h"),
        _count(f.removal_seconds <= 48 * 3600).label("within_48h"),
    ]


async def takedown_groups(conn: AsyncConnection, period: figures.Period, now: datetime,
                          keys: Sequence[str], *, platform: str | None = None,
                          kind: str | None = None
                          ) -> list[tuple[tuple[Any, ...], figures.TakedownCounts]]:
    """The takedown figures per group of `keys` (fact columns) of the requests sent in the
    period. Percentiles: percentile_cont in PostgreSQL; on SQLite the same interpolation in
    Python over the period's removal times (one column, read in order)."""
    cols = [facts.c[k] for k in keys]
    where = [facts.c.sent_at >= period.utc_start, facts.c.sent_at < period.utc_end]
    if platform is not None:
        where.append(facts.c.platform == platform)
    if kind is not None:
        where.append(facts.c.item_id.in_(select(takedown_items.c.id).where(
            takedown_items.c.kind == kind)))
    pg = conn.dialect.name == "postgresql"
    aggs = _takedown_aggregates(now)
    if pg:
        aggs += [func.percentile_cont(q).within_group(facts.c.removal_seconds).label(n)
                 for q, n in ((0.5, "median"), (0.9, "p90"))]
    rows = (await conn.execute(select(*cols, *aggs).where(and_(*where)).group_by(*cols)
                               .order_by(*cols))).all()
    spans: dict[tuple[Any, ...], list[float]] = {}
    if not pg:
        for r in await conn.execute(select(*cols, facts.c.removal_seconds).where(and_(
                *where, facts.c.removal_seconds.is_not(None))).order_by(
                *cols, facts.c.removal_seconds)):
            spans.setdefault(tuple(r[:-1]), []).append(float(r[-1]))
    out = []
    for r in rows:
        key = tuple(r[: len(keys)])
        m = r._mapping
        if pg:
            med = None if m["median"] is None else float(m["median"])
            p90 = None if m["p90"] is None else float(m["p90"])
        else:
            vals = spans.get(key, [])
            med, p90 = figures.percentile_cont(vals, 0.5), figures.percentile_cont(vals, 0.9)
        out.append((key, figures.TakedownCounts(
            int(m["requests"]), int(m["removed"]), int(m["verified"]), int(m["refused"]),
            int(m["unanswered"]), int(m["overdue"]), int(m["settled"]), int(m["escalated"]),
            int(m["within_24h"]), int(m["within_48h"]), med, p90)))
    return out


async def contacts(conn: AsyncConnection, period: figures.Period, channel: str | None
                   ) -> list[figures.Contact]:
    """Every contact opened in the period: intake records, and calls that hung up in the
    phone menu before a case was opened (no intake record)."""
    i, v = intake_records, voice_calls
    # A call whose caller asked for a call-back (by the menu, or from the hold queue).
    chose = exists().where(and_(callbacks.c.source_key == literal("voice:") + v.c.call_sid))
    chose_case = exists().where(and_(v.c.conversation_id == i.c.conversation_id,
                                     v.c.direction == "in", chose))
    where = [i.c.opened_at >= period.utc_start, i.c.opened_at < period.utc_end]
    if channel is not None:
        where.append(i.c.channel == channel)
    out = [figures.Contact(r.opened_at, r.channel, r.outcome, r.counselor_id, r.wait_seconds,
                           r.handling_seconds, bool(r.chose))
           for r in await conn.execute(select(
               i.c.opened_at, i.c.channel, i.c.outcome, i.c.counselor_id, i.c.wait_seconds,
               i.c.handling_seconds,
               case((and_(i.c.channel == "voice", chose_case), 1), else_=0).label("chose"))
               .where(and_(*where)))]
    if channel in (None, "voice"):
        out += [figures.Contact(r.created_at, "voice", None, None, 0, 0, bool(r.chose))
                for r in await conn.execute(select(
                    v.c.created_at, case((chose, 1), else_=0).label("chose")).where(and_(
                        v.c.direction == "in", v.c.conversation_id.is_(None),
                        v.c.state == "ended", v.c.created_at >= period.utc_start,
                        v.c.created_at < period.utc_end)))]
    return out


async def intake_monthly(conn: AsyncConnection, period: figures.Period,
                         dimension: str | None) -> list[tuple[str, str, str, int]]:
    """(month "YYYY-MM", dimension, value, records) of the period's days, summed in SQL."""
    d = report_intake_daily
    month = (func.to_char(d.c.day, "YYYY-MM") if conn.dialect.name == "postgresql"
             else func.strftime("%Y-%m", d.c.day)).label("month")
    where = [d.c.day >= period.start, d.c.day <= period.end]
    if dimension is not None:
        where.append(d.c.dimension == dimension)
    return [(r.month, r.dimension, r.value, int(r.records)) for r in await conn.execute(
        select(month, d.c.dimension, d.c.value, func.sum(d.c.records).label("records"))
        .where(and_(*where)).group_by(month, d.c.dimension, d.c.value))]

