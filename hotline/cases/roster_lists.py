"""The roster's lists, a page at a time: who is on shift at a time, the weekly shifts, the
overrides not yet over and the people who may follow the roster. Each is filtered by a name
(or #id), and comes with how many match in all and the cursor of its next page (`next`;
None on the last), so the Roster page draws 50 rows at 1,000 staff, not every one.
See docs/floor.md ("The Roster page at 1,000 staff").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.cases import staffing
from hotline.cases.paging import BadCursor
from hotline.cases.tables import shift_overrides
from hotline.cases.tables import shifts as shifts_table
from hotline.domain import shift_text, shifts
from hotline.staff import accounts as staff_store
from hotline.staff import roster_people
from hotline.steps import in_parts

# Override cursors count microseconds from here: never negative, whatever the start.
_ORIGIN = datetime(1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Rows:
    items: list[dict[str, Any]]
    total: int  # every row matching
    next: str | None  # the cursor of the next page; None: this was the last


def _ints(text: str | None, parts: int, digits: int = 9) -> list[int] | None:
    """A cursor of `parts` numbers joined by dots; BadCursor for anything else. Nine digits
    keep an id inside PostgreSQL's integer."""
    if text is None:
        return None
    found = text.split(".")
    if len(found) != parts or not all(
            p.isascii() and p.isdigit() and len(p) <= digits for p in found):
        raise BadCursor(text)
    return [int(p) for p in found]


def _past(columns: Sequence[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """The rows after `values` in the order of `columns` (each bound as its column's type,
    where a row-value comparison would not be)."""
    after: ColumnElement[bool] = columns[-1] > values[-1]
    for col, value in zip(reversed(columns[:-1]), reversed(values[:-1]), strict=True):
        after = or_(col > value, and_(col == value, after))
    return after


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


async def shift_page(conn: AsyncConnection, q: str, limit: int, after: str | None) -> Rows:
    """Weekly shifts of the people matching `q`, by person, day and start, with their
    names: removal is by these ids."""
    t = shifts_table.c
    where: list[ColumnElement[bool]] = (
        [t.counselor_id.in_(roster_people.ids_matching(q))] if q else [])
    total = (await conn.execute(select(func.count()).select_from(shifts_table).where(*where))
             ).scalar_one()
    order = (t.counselor_id, t.weekday, t.start_minute, t.id)
    cursor = _ints(after, 4)
    if cursor is not None:
        where.append(_past(order, cursor))
    rows = (await conn.execute(select(shifts_table).where(*where).order_by(*order)
                               .limit(limit + 1))).all()
    page = rows[:limit]
    names = await staff_store.names(conn, sorted({r.counselor_id for r in page}))
    last = page[-1] if len(rows) > limit else None
    return Rows([{"id": r.id, "counselor_id": r.counselor_id, "name": names.get(r.counselor_id),
                  "day": shift_text.DAY_NAMES[r.weekday], "start": _hhmm(r.start_minute),
                  "end": _hhmm(r.end_minute), "tz": r.tz} for r in page], int(total),
                None if last is None else
                f"{last.counselor_id}.{last.weekday}.{last.start_minute}.{last.id}")


async def override_page(conn: AsyncConnection, now: datetime, q: str, limit: int,
                        after: str | None) -> Rows:
    """Overrides not over at `now` of the people matching `q`, earliest first, with their
    names."""
    t = shift_overrides.c
    where: list[ColumnElement[bool]] = [t.ends_at > now]
    if q:
        where.append(t.counselor_id.in_(roster_people.ids_matching(q)))
    total = (await conn.execute(select(func.count()).select_from(shift_overrides)
                                .where(*where))).scalar_one()
    cursor = _ints(after, 2, digits=18)
    if cursor is not None:
        try:
            start = _ORIGIN + timedelta(microseconds=cursor[0])
        except OverflowError:
            raise BadCursor(after) from None
        if cursor[1] >= 2**31:
            raise BadCursor(after)
        where.append(_past((t.starts_at, t.id), (start, cursor[1])))
    rows = (await conn.execute(select(shift_overrides).where(*where)
                               .order_by(t.starts_at, t.id).limit(limit + 1))).all()
    page = rows[:limit]
    names = await staff_store.names(conn, sorted({r.counselor_id for r in page}))
    last = page[-1] if len(rows) > limit else None
    return Rows([{"id": r.id, "counselor_id": r.counselor_id, "name": names.get(r.counselor_id),
                  "start": r.starts_at.isoformat(), "end": r.ends_at.isoformat(),
                  "on_shift": r.on_shift, "reason": r.reason} for r in page], int(total),
                None if last is None else
                f"{(last.starts_at - _ORIGIN) // timedelta(microseconds=1)}.{last.id}")


async def people_page(conn: AsyncConnection, q: str, limit: int, after: str | None) -> Rows:
    """Active staff matching `q`, by name, and whether each follows the roster: the Roster
    page's list of them and its person pickers."""
    cursor = _ints(after, 1)
    try:
        found = await roster_people.page(conn, q, limit, None if cursor is None else cursor[0])
    except LookupError:
        raise BadCursor(str(after)) from None
    return Rows([{"id": p.id, "name": p.name, "role": p.role, "rostered": p.rostered}
                 for p in found.people], found.total,
                None if found.next is None else str(found.next))


async def entries(conn: AsyncConnection, now: datetime, q: str, limit: int
                  ) -> dict[str, Any]:
    """The first page of each list a lead changes the roster from (weekly shifts, overrides
    not over, people), each with its total and next cursor."""
    out: dict[str, Any] = {}
    for name, rows in (("shifts", await shift_page(conn, q, limit, None)),
                       ("overrides", await override_page(conn, now, q, limit, None)),
                       ("people", await people_page(conn, q, limit, None))):
        out.update({name: rows.items, f"{name}_total": rows.total, f"{name}_next": rows.next})
    return out


@dataclass(frozen=True)
class OnShift:
    at: datetime
    on_shift: list[dict[str, object]]
    next_edge: datetime | None
    total: int  # on shift and matching, in all
    next: str | None


def _iso_or_open(at: datetime, edge: datetime, later: bool) -> str | None:
    """An edge as ISO text; None when it lies past the roster's look-around (open-ended)."""
    far = edge >= at + shifts.LOOKAROUND if later else edge <= at - shifts.LOOKAROUND
    return None if far else edge.isoformat()


async def who_is_on(conn: AsyncConnection, at: datetime, q: str = "",
                    limit: int | None = None, after: str | None = None) -> OnShift:
    """Who matching `q` is on shift at `at` (with their window; None ends are open), by
    name: `limit` of them after the person `after` (everyone when no limit), how many in
    all, and the roster's next edge. Being on shift is worked out from each person's roster
    entries, not stored, so everyone matching is read; only the page is built."""
    cursor = _ints(after, 1)
    past = None if cursor is None else await roster_people.known_name(conn, cursor[0])
    if cursor is not None and past is None:
        raise BadCursor(str(after))
    roster = await staffing.load_roster(conn, since=at - timedelta(days=1))
    on = []
    # As staffing.profiles: 1,000 windows held the loop 10 ms.
    async for part in in_parts(await roster_people.active(conn, q=q), staffing.WINDOWS_PART):
        for p in part:
            if (win := shifts.current_window(roster, p.id, at)) is not None:
                on.append((p, win))
    # By name in Python's order (names are unique): the cursor below compares the same way.
    on.sort(key=lambda pw: pw[0].name)
    total = len(on)
    if past is not None:
        on = [pw for pw in on if pw[0].name > past]
    more = limit is not None and len(on) > limit
    on = on[:limit]
    return OnShift(at, [{"id": p.id, "name": p.name, "role": p.role,
                         "languages": list(p.languages), "rostered": p.rostered,
                         "from": _iso_or_open(at, win[0], False),
                         "until": _iso_or_open(at, win[1], True)} for p, win in on],
                   shifts.next_edge(roster, at), total, str(on[-1][0].id) if more else None)
