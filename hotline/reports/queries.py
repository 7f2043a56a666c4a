"""The reads the reports are made from: the rollups (hotline.reports.fold keeps them) and,
read-only, the source tables (takedown facts' sources, intake records, voice calls,
call-backs). Callers own the transactions. See docs/reports.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.callbacks.tables import callbacks
from hotline.cases.tables import intake_records
from hotline.channels.twilio.tables import voice_calls
from hotline.reports import figures
from hotline.reports.tables import (
    report_intake_daily,
    report_takedown_facts,
    report_takedown_hours,
    report_takedown_monthly,
)
from hotline.takedown.tables import takedown_locations, takedown_reuploads

facts = report_takedown_facts
_AWAITING = ("sent", "acknowledged")


# --- reads ---------------------------------------------------------------------------------

def _count(cond: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _takedown_aggregates(now: datetime | None) -> list[Any]:
    """The counts of figures.TakedownCounts in SQL; with `now` None, "overdue" is the mark
    only (as the monthly rollups count it)."""
    f = facts.c
    overdue = f.overdue_at.is_not(None) if now is None else or_(
        f.overdue_at.is_not(None),
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
    """The takedown figures per group of `keys` of the requests sent in the period: the
    whole calendar months in it from the monthly rollups and the days around them from the
    facts; with a kind filter, or no whole month, all from the facts."""
    months, edges = figures.split(period)
    if kind is None and months:
        return await _monthly_groups(conn, period, now, keys, platform, months, edges)
    return await _scan_groups(conn, period, now, keys, platform=platform, kind=kind)


async def _scan_groups(conn: AsyncConnection, period: figures.Period, now: datetime,
                       keys: Sequence[str], *, platform: str | None = None,
                       kind: str | None = None
                       ) -> list[tuple[tuple[Any, ...], figures.TakedownCounts]]:
    """Every request of the period read from the facts' range index. Percentiles:
    percentile_cont in PostgreSQL; on SQLite the same interpolation in Python over the
    period's removal times (one column, read in order)."""
    cols = [facts.c[k] for k in keys]
    where = [facts.c.sent_at >= period.utc_start, facts.c.sent_at < period.utc_end]
    if platform is not None:
        where.append(facts.c.platform == platform)
    if kind is not None:
        where.append(facts.c.kind == kind)
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


def _in_edges(edges: Sequence[figures.Period]) -> ColumnElement[bool]:
    return or_(*[and_(facts.c.sent_at >= e.utc_start, facts.c.sent_at < e.utc_end)
                 for e in edges])


async def _monthly_groups(conn: AsyncConnection, period: figures.Period, now: datetime,
                          keys: Sequence[str], platform: str | None, months: list[str],
                          edges: list[figures.Period]
                          ) -> list[tuple[tuple[Any, ...], figures.TakedownCounts]]:
    """The counts summed from report_takedown_monthly for whole months and counted from the
    facts for the days around them, the requests still waiting past their due time counted
    live (partial index), and exact percentiles in two steps: the hour buckets say in which
    hour each rank falls, then only that hour's removal times are read from the facts."""
    m = report_takedown_monthly
    cols = [m.c[k] for k in keys]
    where = [m.c.month.in_(months)] + ([m.c.platform == platform] if platform else [])
    found = {tuple(r[: len(keys)]): [int(v) for v in r[len(keys):]]
             for r in await conn.execute(
                 select(*cols, *[func.sum(m.c[n]) for n in figures.TAKEDOWN_COUNTS])
                 .where(and_(*where)).group_by(*cols))}
    f = facts.c
    if edges:
        fk = [f[k] for k in keys]
        cond = [_in_edges(edges)] + ([f.platform == platform] if platform else [])
        for r in await conn.execute(select(*fk, *_takedown_aggregates(None))
                                    .where(and_(*cond)).group_by(*fk)):
            acc = found.setdefault(tuple(r[: len(keys)]), [0] * len(figures.TAKEDOWN_COUNTS))
            for i, v in enumerate(r[len(keys):]):
                acc[i] += int(v)
    late = [f.state.in_(_AWAITING), f.overdue_at.is_(None), f.due_at < now,
            f.sent_at >= period.utc_start, f.sent_at < period.utc_end]
    if platform:
        late.append(f.platform == platform)
    fcols = [f[k] for k in keys]
    over, settled = figures.TAKEDOWN_COUNTS.index("overdue"), figures.TAKEDOWN_COUNTS.index(
        "settled")
    for r in await conn.execute(select(*fcols, func.count()).where(and_(*late))
                                .group_by(*fcols)):
        acc = found.setdefault(tuple(r[: len(keys)]), [0] * len(figures.TAKEDOWN_COUNTS))
        acc[over] += int(r[-1])
        acc[settled] += int(r[-1])
    spans = await _percentiles(conn, period, keys, platform, months, edges)
    out = []
    for key in sorted(found):
        c = found[key]
        med, p90 = spans.get(key, (None, None))
        out.append((key, figures.TakedownCounts(
            **dict(zip(figures.TAKEDOWN_COUNTS, c, strict=True)), median_seconds=med,
            p90_seconds=p90)))
    return out


async def _hours(conn: AsyncConnection, keys: Sequence[str], platform: str | None,
                 months: list[str], edges: list[figures.Period]
                 ) -> dict[tuple[Any, ...], list[tuple[int, int]]]:
    """Removed requests per group and hour to removal: the months' from
    report_takedown_hours, the days around them counted from the facts."""
    h, f = report_takedown_hours, facts.c
    cols = [h.c[k] for k in keys]
    where = [h.c.month.in_(months)] + ([h.c.platform == platform] if platform else [])
    stmts = [select(*cols, h.c.hour, func.sum(h.c.removed)).where(and_(*where))
             .group_by(*cols, h.c.hour)]
    if edges:
        hour = case((f.removal_seconds >= figures.MAX_HOUR * 3600, figures.MAX_HOUR),
                    else_=f.removal_seconds // 3600).label("hour")
        cond = [_in_edges(edges), f.removal_seconds.is_not(None)] + (
            [f.platform == platform] if platform else [])
        stmts.append(select(*[f[k] for k in keys], hour, func.count()).where(and_(*cond))
                     .group_by(*[f[k] for k in keys], hour))
    counted: dict[tuple[Any, ...], dict[int, int]] = {}
    for stmt in stmts:
        for r in await conn.execute(stmt):
            per = counted.setdefault(tuple(r[: len(keys)]), {})
            per[int(r[-2])] = per.get(int(r[-2]), 0) + int(r[-1])
    return {k: sorted((hr, n) for hr, n in per.items() if n)
            for k, per in counted.items() if any(per.values())}


async def _percentiles(conn: AsyncConnection, period: figures.Period, keys: Sequence[str],
                       platform: str | None, months: list[str], edges: list[figures.Period]
                       ) -> dict[tuple[Any, ...], tuple[float | None, float | None]]:
    """Median and 90th percentile of the removal times per group (groups of platform, or of
    route and legal basis; none for other groupings), exactly as percentile_cont."""
    if tuple(keys) not in (("platform",), ("route", "legal_basis")):
        return {}
    hist = await _hours(conn, keys, platform, months, edges)
    wanted: dict[tuple[tuple[Any, ...], int], None] = {}
    for key, buckets in hist.items():
        n = sum(c for _, c in buckets)
        for q in (0.5, 0.9):
            lo, hi, _w = figures.ranks(n, q)
            wanted[(key, lo)] = wanted[(key, hi)] = None
    values = await _values_at(conn, period, keys, platform, hist, list(wanted))
    out: dict[tuple[Any, ...], tuple[float | None, float | None]] = {}
    for key, buckets in hist.items():
        n = sum(c for _, c in buckets)
        got = []
        for q in (0.5, 0.9):
            lo, hi, w = figures.ranks(n, q)
            got.append(values[(key, lo)] + (values[(key, hi)] - values[(key, lo)]) * w)
        out[key] = (got[0], got[1])
    return out


async def _values_at(conn: AsyncConnection, period: figures.Period, keys: Sequence[str],
                     platform: str | None, hist: dict[tuple[Any, ...], list[tuple[int, int]]],
                     wanted: list[tuple[tuple[Any, ...], int]]
                     ) -> dict[tuple[tuple[Any, ...], int], float]:
    """The removal time at each (group, rank): one small read of one hour bucket each (the
    removal indexes), all in one statement."""
    f = facts.c
    parts = []
    for n, (key, rank) in enumerate(wanted):
        hour, offset = figures.locate(hist[key], rank)
        cond = [f[k] == v for k, v in zip(keys, key, strict=True)]
        cond += [f.removal_seconds >= hour * 3600, f.sent_at >= period.utc_start,
                 f.sent_at < period.utc_end]
        if hour < figures.MAX_HOUR:
            cond.append(f.removal_seconds < (hour + 1) * 3600)
        if platform:
            cond.append(f.platform == platform)
        sub = (select(literal(n).label("n"), f.removal_seconds.label("v"))
               .where(and_(*cond)).order_by(f.removal_seconds).limit(1).offset(offset)
               .subquery())
        parts.append(select(sub.c.n, sub.c.v))
    out: dict[tuple[tuple[Any, ...], int], float] = {}
    for chunk in range(0, len(parts), 200):
        for r in await conn.execute(union_all(*parts[chunk:chunk + 200])):
            out[wanted[int(r.n)]] = float(r.v)
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



async def reuploads(conn: AsyncConnection, period: figures.Period, platform: str | None
                    ) -> tuple[list[tuple[int, int]], list[tuple[str, int, int]]]:
    """Re-uploads found in the range (by `found_at`): per item (item id, re-uploads) and per
    cluster (key, re-uploads, items), most first. `platform` counts those whose location
    is on that platform (re-uploads found through evidence have no location: never then)."""
    r = takedown_reuploads.c
    where: list[ColumnElement[bool]] = [r.found_at >= period.utc_start,
                                        r.found_at < period.utc_end]
    source: Any = takedown_reuploads
    if platform is not None:
        source = takedown_reuploads.join(takedown_locations,
                                         takedown_locations.c.id == r.location_id)
        where.append(takedown_locations.c.platform == platform)
    n = func.count().label("n")
    by_item = await conn.execute(select(r.item_id, n).select_from(source).where(and_(*where))
                                 .group_by(r.item_id).order_by(n.desc(), r.item_id))
    items = func.count(r.item_id.distinct()).label("items")
    by_cluster = await conn.execute(
        select(r.cluster_key, n, items).select_from(source)
        .where(and_(*where, r.cluster_key.is_not(None)))
        .group_by(r.cluster_key).order_by(n.desc(), r.cluster_key))
    return ([(int(row.item_id), int(row.n)) for row in by_item],
            [(str(row.cluster_key), int(row.n), int(row.items)) for row in by_cluster])
