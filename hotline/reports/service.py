"""The reports as a service: check a request (name, range, filters), bring the rollups up to
date, compute the tables, suppress small counts, and render JSON or CSV. CSV exports are
audited (who, which report, which range and filters). Used by the HTTP API, the pages and
`hotline report`. See docs/reports.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.audit import log as audit
from hotline.config import Config
from hotline.domain.conversation import Channel
from hotline.domain.takedown import ItemKind
from hotline.reports import figures, fold, intake, queries
from hotline.reports.figures import Cell, Period, ReportInputError, Row

# The fields of each report's tables, in order (the contract's names; docs/reports.md).
_TD = ("requests", "removed", "verified", "refused", "unanswered", "overdue",
       "completion_rate", "median_hours_to_removal", "p90_hours_to_removal", "within_24h",
       "within_48h")
_SERVICE = ("contacts", "answered", "abandoned", "abandoned_queue", "abandoned_ivr",
            "abandoned_after_offer", "average_speed_to_answer_seconds", "answered_within_60s",
            "average_handling_seconds")
COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "takedown-platforms": {"rows": ("platform", *_TD)},
    "takedown-routes": {
        "rows": ("route", "legal_basis", "requests", "removed", "refused", "overdue",
                 "escalated", "completion_rate", "median_hours_to_removal", "within_48h"),
        "by_rung": ("platform", "rung", "requests", "removed", "overdue", "escalated"),
        "reuploads_by_item": ("item", "reuploads"),
        "reuploads_by_cluster": ("cluster", "reuploads", "items")},
    "service": {"rows": ("day", "shift", "channel", *_SERVICE),
                "by_day": ("day", *_SERVICE), "by_channel": ("channel", *_SERVICE),
                "by_shift": ("shift", *_SERVICE)},
    "intake": {"rows": ("month", "dimension", "value", "records"),
               "totals": ("dimension", "value", "records")},
}
# The filters each report takes besides from and to.
FILTERS: dict[str, tuple[str, ...]] = {
    "takedown-platforms": ("platform", "kind"), "takedown-routes": ("platform", "kind"),
    "service": ("channel",), "intake": ("dimension",),
}


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    rows: tuple[dict[str, Cell], ...]


@dataclass(frozen=True)
class Report:
    name: str
    period: Period
    filters: Mapping[str, str]
    suppress_below: int
    tables: tuple[Table, ...]

    def table(self, name: str = "rows") -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise ReportInputError("table", "expected one of " +
                               ", ".join(t.name for t in self.tables))


@dataclass(frozen=True)
class Query:
    name: str
    period: Period
    filters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reports:
    engine: AsyncEngine
    config: Config
    clock: Callable[[], datetime] = field(default=utcnow)

    @property
    def tz(self) -> str:
        return self.config.roster.timezone

    def parse(self, name: str, params: Mapping[str, str], extra: tuple[str, ...] = ()
              ) -> Query:
        """A checked request: the name, from/to and the report's filters; ReportInputError
        naming the first bad one (unknown parameters included)."""
        figures.check_name(name)
        allowed = {"from", "to", *FILTERS[name], *extra}
        for key in params:
            if key not in allowed:
                raise ReportInputError(key, "unknown parameter (expected " +
                                       ", ".join(sorted(allowed)) + ")")
        period = figures.parse_period(params.get("from"), params.get("to"), self.tz)
        filters = {k: params[k] for k in FILTERS[name] if params.get(k)}
        for key, value in filters.items():
            choices = self.choices(key)
            if value not in choices:
                raise ReportInputError(key, "expected one of " + ", ".join(choices))
        return Query(name, period, filters)

    def choices(self, key: str) -> tuple[str, ...]:
        return {"platform": self.config.takedown.directory.codes,
                "kind": tuple(k.value for k in ItemKind),
                "channel": tuple(c.value for c in Channel),
                "dimension": intake.INTAKE_DIMENSIONS}[key]

    async def refresh(self) -> None:
        """Fold everything written since the last report into the rollups."""
        now = self.clock()
        while True:
            async with self.engine.begin() as conn:
                done = await fold.fold_takedown(conn, now, self.tz)
            if not done:
                break
        while True:
            async with self.engine.begin() as conn:
                done = await fold.fold_intake(conn, now, self.tz)
            if not done:
                break

    async def build(self, q: Query) -> Report:
        await self.refresh()
        async with self.engine.connect() as conn:
            raw = await _BUILDERS[q.name](self, conn, q)
        below = self.config.reports.suppress_below
        tables = tuple(Table(n, COLUMNS[q.name][n],
                             tuple(figures.suppress(r, below) for r in rows))
                       for n, rows in raw.items())
        return Report(q.name, q.period, dict(q.filters), below, tables)

    async def export_csv(self, staff_id: int | None, q: Query, table: str = "rows"
                         ) -> tuple[str, str]:
        """The file name and CSV of one table, audited."""
        report = await self.build(q)
        text = to_csv(report.table(table), report.suppress_below)
        async with self.engine.begin() as conn:
            await audit.record(conn, at=self.clock(), actor_id=staff_id,
                               action="report.exported", target_kind="report",
                               target_id=q.name, format="csv", table=table,
                               **{"from": q.period.start.isoformat(),
                                  "to": q.period.end.isoformat()},
                               filters=dict(q.filters))
        name = f"{q.name}_{q.period.start}_{q.period.end}"
        return (name if table == "rows" else f"{name}_{table}") + ".csv", text


async def _takedown_platforms(r: Reports, conn: Any, q: Query) -> dict[str, list[Row]]:
    groups = await queries.takedown_groups(conn, q.period, r.clock(), ("platform",),
                                           **q.filters)
    rows = []
    for key, counts in groups:
        values, made_of = figures.takedown_figures(counts)
        rows.append(({"platform": key[0], **{k: values[k] for k in _TD}}, made_of))
    return {"rows": rows}


async def _takedown_routes(r: Reports, conn: Any, q: Query) -> dict[str, list[Row]]:
    now = r.clock()
    cols = COLUMNS["takedown-routes"]
    out: dict[str, list[Row]] = {}
    for table, keys in (("rows", ("route", "legal_basis")), ("by_rung", ("platform", "rung"))):
        out[table] = []
        for key, counts in await queries.takedown_groups(conn, q.period, now, keys,
                                                         **q.filters):
            values, made_of = figures.takedown_figures(counts)
            named = dict(zip(keys, key, strict=True))
            out[table].append(({c: named[c] if c in named else values[c]
                                for c in cols[table]}, made_of))
    by_item, by_cluster = await queries.reuploads(conn, q.period, q.filters.get("platform"))
    out["reuploads_by_item"] = [({"item": item, "reuploads": n}, {}) for item, n in by_item]
    out["reuploads_by_cluster"] = [({"cluster": key, "reuploads": n, "items": items}, {})
                                   for key, n, items in by_cluster]
    return out


async def _service(r: Reports, conn: Any, q: Query) -> dict[str, list[Row]]:
    found = await queries.contacts(conn, q.period, q.filters.get("channel"))
    return figures.service_rows(found, r.tz, r.config.reports.shift_minutes)


async def _intake(r: Reports, conn: Any, q: Query) -> dict[str, list[Row]]:
    rows = intake.intake_rows(await queries.intake_monthly(conn, q.period,
                                                            q.filters.get("dimension")))
    totals: dict[tuple[str, str], int] = {}
    for values, _ in rows:
        k = (str(values["dimension"]), str(values["value"]))
        totals[k] = totals.get(k, 0) + int(values["records"])  # type: ignore[call-overload]
    order = intake.INTAKE_DIMENSIONS
    return {"rows": rows, "totals": [
        ({"dimension": d, "value": v, "records": n}, {})
        for (d, v), n in sorted(totals.items(), key=lambda kv: (
            order.index(kv[0][0]) if kv[0][0] in order else 99, -kv[1], kv[0][1]))]}


_BUILDERS = {"takedown-platforms": _takedown_platforms, "takedown-routes": _takedown_routes,
             "service": _service, "intake": _intake}


def row_json(row: Mapping[str, Cell]) -> dict[str, object]:
    """A row for JSON: suppressed figures are null and named in `suppressed`."""
    out: dict[str, object] = {k: c.value for k, c in row.items()}
    out["suppressed"] = [k for k, c in row.items() if c.suppressed]
    return out


def to_json(report: Report) -> dict[str, object]:
    return {"report": report.name, "from": report.period.start.isoformat(),
            "to": report.period.end.isoformat(), "time_zone": report.period.tz,
            "filters": dict(report.filters), "suppress_below": report.suppress_below,
            "rows": [row_json(r) for r in report.table().rows],
            "tables": {t.name: [row_json(r) for r in t.rows] for t in report.tables
                       if t.name != "rows"}}


def cell_text(cell: Cell, below: int) -> str:
    """A figure as CSV and the pages show it: "<5" when suppressed, "" when undefined."""
    if cell.suppressed:
        return f"<{below}"
    return "" if cell.value is None else str(cell.value)


def to_csv(table: Table, below: int) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(table.columns)
    for row in table.rows:
        w.writerow([_safe(cell_text(row[c], below)) for c in table.columns])
    return out.getvalue()


def _safe(text: str) -> str:
    # A cell that a spreadsheet would run as a formula is quoted as text.
    return "'" + text if text[:1] in ("=", "+", "@") or (
        text[:1] == "-" and not _number(text)) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
