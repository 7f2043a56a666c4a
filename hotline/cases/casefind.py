"""Finding a case, closed ones too, by its case number (HL-XXXX-XXXX) or by the day it was
closed (the centre's day, [roster] timezone). Each result passes the one read rule
(casework.load_case), so a lead finds any case and a counselor only the ones they held, as
for open cases. The search is audited (`case.searched`: how, and the ids found).
See docs/audit.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hotline.audit import search as audit_log
from hotline.cases import case_rows, casework
from hotline.cases import conversations as convs
from hotline.deps import Deps
from hotline.domain.audit_search import AuditInputError
from hotline.domain.staff import Staff
from hotline.victim import casefile
from hotline.victim.casecode import display, normalise

DAY_LIMIT = 200


def _day(raw: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise AuditInputError("date", "expected a date like 2026-12-01")
    start = datetime.combine(day, time(0), tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tz)


async def find(deps: Deps, staff: Staff, params: Mapping[str, str]) -> dict[str, Any]:
    """`{cases: [{id, status, channel, created_at, closed_at}]}` for `?number=` or `?date=`."""
    given = {k: v for k, v in params.items() if v != ""}
    unknown = sorted(set(given) - {"number", "date"})
    if unknown:
        raise AuditInputError(unknown[0], "unknown parameter")
    if ("number" in given) == ("date" in given):
        raise AuditInputError("number", "expected a case number or a date (one of them)")
    # Read-only, then the audit row in a short transaction of its own: a day's search reads
    # up to DAY_LIMIT cases, which on SQLite must not hold the write lock every message waits on.
    async with deps.engine.connect() as conn:
        if "number" in given:
            number = normalise(given["number"][:40])
            if number is None:
                raise AuditInputError("number", "expected a case number like HL-ABCD-1234")
            root = await casefile.root_of_number(conn, number)
            ids = [c.id for c in await case_rows.case_conversations(conn, root)] if root else []
            how = {"number": display(number)}
        else:
            start, end = _day(given["date"], ZoneInfo(deps.config.roster.timezone))
            ids = await case_rows.closed_between(conn, start, end, DAY_LIMIT)
            how = {"date": given["date"]}
        found = []
        for cid in ids:
            try:
                conv = await casework.load_case(conn, staff, cid)
            except casework.CaseNotFound:
                continue
            found.append(conv)
    await audit_log.note(deps, staff.id, "case.searched", "case_search",
                         next(iter(how.values())), found=[c.id for c in found], **how)
    return {"cases": [_case(c) for c in found]}


def _case(c: convs.ConversationRow) -> dict[str, Any]:
    return {"id": c.id, "status": c.status.value, "channel": c.channel.value,
            "created_at": c.created_at.isoformat(),
            "closed_at": c.closed_at.isoformat() if c.closed_at else None}
