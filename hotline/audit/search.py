"""The audit log, readable: search (admins everything, leads the floor's records), the CSV
export (itself audited), and `note`, the one way HTTP edges record that someone saw or
exported something. The query is checked in hotline.domain.audit_search; the statement is
hotline.audit.log.search. See docs/audit.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hotline.audit import log as audit
from hotline.deps import Deps
from hotline.domain.audit_search import AuditQuery, csv_rows, parse_query
from hotline.domain.staff import Staff


async def note(deps: Deps, actor_id: int | None, action: str, target_kind: str,
               target_id: str, **detail: Any) -> None:
    """Record one event in its own transaction (ids and codes only in `detail`)."""
    async with deps.engine.begin() as conn:
        await audit.record(conn, at=datetime.now(UTC), actor_id=actor_id, action=action,
                           target_kind=target_kind, target_id=target_id, **detail)


async def _run(deps: Deps, q: AuditQuery) -> list[dict[str, Any]]:
    async with deps.engine.connect() as conn:
        return await audit.search(conn, q)


async def search(deps: Deps, staff: Staff, params: Mapping[str, str],
                 names: Mapping[int, str]) -> dict[str, Any]:
    """`{events, next}`: a page of events newest first, each with the actor's name (from
    `names`, the staff room's); `next` is the `before` of the next page (None at the end).
    AuditInputError for a bad field."""
    q = parse_query(params, staff.role)
    events = await _run(deps, q)
    for e in events:
        e["actor_name"] = names.get(e["actor_id"]) if e["actor_id"] is not None else None
    more = len(events) == q.limit
    return {"events": events, "next": events[-1]["id"] if more and events else None}


async def export_csv(deps: Deps, staff: Staff, params: Mapping[str, str]) -> bytes:
    """The events matching the search (up to EXPORT_MAX) as CSV (UTF-8 with a BOM, so a
    spreadsheet reads Korean); the export is audited with its filters and row count."""
    q = parse_query(params, staff.role, export=True)
    events = await _run(deps, q)
    out = io.StringIO()
    csv.writer(out).writerows(csv_rows(events))
    await note(deps, staff.id, "audit.exported", "audit", "csv", rows=len(events),
               filter=q.as_filter())
    return ("\ufeff" + out.getvalue()).encode()
