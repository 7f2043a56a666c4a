"""Counselors as routing sees them: roster from SQL, shift windows and skills into Redis.

The Lua eligibility check reads each counselor's shift window from Redis; this module writes
it from the roster at start, on every roster or account change, and at every shift edge, so a
stale window can only be as old as the last edge. Whether a person follows the roster is their
own setting (`counselors.rostered`): one who does not is on shift whenever present, except
their time off (small centres without rotas, a lead who backs up the floor). See
docs/floor.md.
"""

from __future__ import annotations

import functools
import logging
import weakref
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.cases.live import LiveStore
from hotline.cases.live_records import StaffProfile
from hotline.cases.tables import shift_overrides
from hotline.cases.tables import shifts as shifts_table
from hotline.deps import Deps
from hotline.domain import holidays, shifts
from hotline.staff import roster_people
from hotline.staff import store as staff_store
from hotline.steps import in_parts

log = logging.getLogger(__name__)

# An open-ended window (someone not rostered, no time off near): the epoch to far ahead.
ALWAYS = (0, 2**50)
# Shift windows worked out in one step of the loop: someone on a weekly rota costs 25-75 us
# (a few us off it), twice that on a loaded machine, where 200 a step held the loop 20-50 ms
# in the rostered surge bench (bench/roster_bench.py measures each read alone).
WINDOWS_PART = 50
# Weekly shifts built in one step of the loop (5,000, a floor of 1,000 on the roster, took
# 25-30 ms in one).
_SHIFTS_PART = 500
# The roster's next edge as this process's shift-edge job last found it (roster.py: at every
# edge, every minute, at once on a roster edit), and when: the floor names the edge on every
# read, and finding it again read every shift and override. Trusted for two of the job's
# minutes (a job that stopped finding it, Redis down, leaves it to be worked out afresh).
_edges: weakref.WeakKeyDictionary[LiveStore, tuple[datetime, datetime | None]] = (
    weakref.WeakKeyDictionary())
EDGE_KEPT = timedelta(minutes=2)


async def load_roster(conn: AsyncConnection, since: datetime | None = None,
                      staff: Collection[int] | None = None) -> shifts.Roster:
    """Weekly shifts, overrides (those not ended before `since`), holidays and who does not
    follow the roster, from SQL; only these staff members' when `staff` is given (a window
    depends on the person's own entries and the holidays alone)."""
    # Only the columns used: the rest (created_at's timestamp parsed on every row) cost as
    # much again at 5,000 shifts.
    wq = select(shifts_table.c.counselor_id, shifts_table.c.weekday,
                shifts_table.c.start_minute, shifts_table.c.end_minute, shifts_table.c.tz)
    q = select(shift_overrides.c.counselor_id, shift_overrides.c.starts_at,
               shift_overrides.c.ends_at, shift_overrides.c.on_shift, shift_overrides.c.reason)
    if staff is not None:
        wq = wq.where(shifts_table.c.counselor_id.in_(staff))
        q = q.where(shift_overrides.c.counselor_id.in_(staff))
    weekly: list[shifts.WeeklyShift] = []
    async for part in in_parts((await conn.execute(wq)).all(), _SHIFTS_PART):
        weekly += [shifts.WeeklyShift(staff_id=r.counselor_id, weekday=r.weekday,
                                      start=minute(r.start_minute), end=minute(r.end_minute),
                                      tz=r.tz) for r in part]
    if since is not None:
        q = q.where(shift_overrides.c.ends_at > since)
    overrides = tuple(
        shifts.Override(staff_id=r.counselor_id, start=r.starts_at, end=r.ends_at,
                        on_shift=bool(r.on_shift), reason=r.reason)
        for r in await conn.execute(q))
    always = await roster_people.not_rostered(conn, staff)
    # Holidays from a day before `since` (a local day starts up to 14 h before UTC's).
    first = since.date() - timedelta(days=1) if since is not None else date(1970, 1, 1)
    closed = holidays.closures(tuple(await staff_store.holidays_from(conn, first)))
    return shifts.Roster(shifts=tuple(weekly), overrides=overrides, closures=closed,
                         always=always)


@functools.cache
def minute(m: int) -> time:
    """A time of day from minutes after midnight, as the shifts table stores it."""
    return time((m // 60) % 24, m % 60)


def window_ms(roster: shifts.Roster, staff_id: int, at: datetime) -> tuple[int, int]:
    """The shift window that routing should see for one counselor at `at` (ms since epoch).

    A window running past the roster's look-around either side (someone not rostered, with
    no time off near) is open at that end: ALWAYS's start or end."""
    win = shifts.next_window(roster, staff_id, at)
    if win is None:
        return (0, 0)
    start = ALWAYS[0] if win[0] <= at - shifts.LOOKAROUND else int(win[0].timestamp() * 1000)
    end = ALWAYS[1] if win[1] >= at + shifts.LOOKAROUND else int(win[1].timestamp() * 1000)
    return start, end


def is_on_shift(roster: shifts.Roster, staff_id: int, at: datetime) -> bool:
    start, end = window_ms(roster, staff_id, at)
    return start <= at.timestamp() * 1000 < end


async def profiles(conn: AsyncConnection, at: datetime, only: int | None = None,
                   roster: shifts.Roster | None = None) -> list[StaffProfile]:
    """Routing profiles of every active counselor (all roles can hold cases), or of `only`;
    from `roster` when the caller has read it already."""
    if roster is None:
        roster = await load_roster(conn, since=at, staff=None if only is None else (only,))
    out = []
    # 1,000 windows in one step held the loop 15-22 ms at a surge (bench/README.md).
    async for part in in_parts(await roster_people.active(conn, only), WINDOWS_PART):
        for p in part:
            start, end = window_ms(roster, p.id, at)
            out.append(StaffProfile(
                id=p.id, shift_start_ms=start, shift_end_ms=end, max_chats=p.max_chats,
                languages=p.languages, channels=p.channels, skills=p.specialisms))
    return out


async def intervals_of(roster: shifts.Roster, ids: Sequence[int], start: datetime,
                       end: datetime) -> dict[int, list[shifts.Interval]]:
    """Each of `ids`' on-shift intervals within [start, end), WINDOWS_PART people a step."""
    out: dict[int, list[shifts.Interval]] = {}
    async for part in in_parts(ids, WINDOWS_PART):
        out.update((i, shifts.intervals(roster, i, start, end)) for i in part)
    return out


async def sync_all(deps: Deps, at: datetime | None = None) -> shifts.Roster:
    """Rewrite every counselor's window and skills in Redis; returns the roster they were
    worked out from (the shift-edge job finds its next edge in it, instead of reading it
    again).

    A roster edit landing between our SQL read and our write bumps the roster version, and
    the write is refused (the edit's own window stays): read again, a few times at most."""
    at = at or datetime.now(UTC)
    roster = shifts.Roster()
    for _ in range(_SYNC_ATTEMPTS):
        version = await deps.live.roster_version()
        # Every counselor and the roster: read on the reader (SQLite: off the loop's thread).
        async with deps.reads.connect() as conn:
            roster = await load_roster(conn, since=at)
            found = await profiles(conn, at, roster=roster)
        if await deps.live.put_staff_if(found, version):
            return roster
    log.warning("routing profiles not re-synced: the roster kept changing; next pass will")
    return roster


_SYNC_ATTEMPTS = 3


async def sync_one(deps: Deps, counselor_id: int, at: datetime | None = None) -> None:
    """Rewrite one counselor's routing profile (after a login, roster or account change)."""
    at = at or datetime.now(UTC)
    async with deps.engine.connect() as conn:
        found = await profiles(conn, at, only=counselor_id)
    if found:
        await deps.live.put_staff(found[0])
    else:
        await deps.live.drop_staff(counselor_id)


def edge_found(deps: Deps, at: datetime, edge: datetime | None) -> None:
    """The shift-edge job found the roster's next edge after `at` to be `edge` (None: none)."""
    _edges[deps.live] = (at, edge)


async def edge_of(roster: shifts.Roster, at: datetime) -> datetime | None:
    """shifts.next_edge, WINDOWS_PART people a step (700 on the roster took 13-14 ms in one:
    the shift-edge job's every pass)."""
    best: datetime | None = None
    async for part in in_parts(sorted(shifts.staff_ids(roster)), WINDOWS_PART):
        found = shifts.next_edge(roster, at, shifts.HORIZON if best is None else best - at,
                                 among=part)
        if found is not None:
            best = found  # never later than best: the horizon ended there
    return best


def forget_edge(deps: Deps) -> None:
    """The roster changed here: the edge last found may be wrong until the job's next pass."""
    _edges.pop(deps.live, None)


async def next_edge(deps: Deps, now: datetime) -> datetime | None:
    """The roster's next edge after `now`: as the shift-edge job last found it, while that is
    recent and still ahead; otherwise from the roster, read on the reader."""
    known = _edges.get(deps.live)
    if known is not None and now - known[0] < EDGE_KEPT and (known[1] is None
                                                             or known[1] > now):
        return known[1]
    async with deps.reads.connect() as conn:
        roster = await load_roster(conn, since=now - timedelta(days=1))
    return await edge_of(roster, now)
