"""The roster at run time: weekly shifts and dated overrides in SQL, edited by leads (audited),
seeded once from config.toml, and the shift-edge job that keeps routing in step with it.

Every edit changes availability only for the times it covers. One that would end someone's
shift now is refused with WouldEnd unless confirmed; confirmed, the shift-edge job's handover
rules apply at once. Whether a person follows the roster at all is their own setting
(`set_rostered`). See docs/floor.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time
from typing import TypeVar

from redis.exceptions import RedisError
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.audit import log as audit
from hotline.cases import conversations as convs
from hotline.cases import handover, staffing
from hotline.cases.tables import shift_overrides
from hotline.cases.tables import shifts as shifts_table
from hotline.config import RosterConfig
from hotline.deps import Deps
from hotline.domain import shifts
from hotline.domain.event_types import EventType
from hotline.jobs import pause, take_lease
from hotline.staff import roster_people

log = logging.getLogger(__name__)

# Even with no edge ahead, re-sync this often (roster edits made on another instance).
_RESYNC_S = 60.0


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


async def seed(conn: AsyncConnection, cfg: RosterConfig, at: datetime) -> int:
    """Fill the shifts table from config.toml once; names not yet created are skipped.

    Once a seed added shifts (audited as roster.seeded), later starts never seed again: a
    roster the leads emptied on purpose stays empty. Until then (the config named nobody who
    exists yet), every start tries again."""
    if (await conn.execute(select(func.count()).select_from(shifts_table))).scalar_one():
        return 0
    if await audit.any_for(conn, "roster", "config"):
        return 0
    ids = {name: sid for sid, name in (await roster_people.all_names(conn)).items()}
    added = 0
    for s in cfg.shifts:
        cid = ids.get(s.counselor)
        if cid is None:
            log.warning("roster seed names an unknown counselor; skipped")
            continue
        # Named in the config's rota: that is the choice to follow the roster.
        await roster_people.set_rostered(conn, cid, True)
        for day in s.days:
            await conn.execute(insert(shifts_table).values(
                counselor_id=cid, weekday=day, start_minute=_minutes(s.start),
                end_minute=_minutes(s.end), tz=s.tz, created_at=at))
            added += 1
    if added:
        await audit.record(conn, at=at, actor_id=None, action="roster.seeded",
                           target_kind="roster", target_id="config", shifts=added)
    return added


@dataclass(frozen=True)
class ShiftIn:
    counselor_id: int
    weekday: int
    start: time
    end: time
    tz: str


class WouldEnd(Exception):
    """The edit would end someone's shift now: asked again with confirm, it is made."""

    def __init__(self, counselor_id: int, name: str, held_cases: int) -> None:
        super().__init__(counselor_id)
        self.counselor_id, self.name, self.held_cases = counselor_id, name, held_cases


class NotRostered(Exception):
    """Weekly shifts and extra time need a person who follows the roster."""


Change = Callable[[shifts.Roster], shifts.Roster]
_T = TypeVar("_T")


async def _guard(conn: AsyncConnection, counselor_id: int, change: Change, now: datetime,
                 confirm: bool) -> None:
    """Raise WouldEnd if `change` ends the person's shift at `now` and was not confirmed."""
    before = await staffing.load_roster(conn, since=now, staff=(counselor_id,))
    if confirm or not shifts.on_shift(before, counselor_id, now) \
            or shifts.on_shift(change(before), counselor_id, now):
        return
    name = await roster_people.name_of(conn, counselor_id)
    raise WouldEnd(counselor_id, name, len(await convs.held_by(conn, counselor_id)))


async def _require_rostered(conn: AsyncConnection, counselor_id: int) -> None:
    if not await roster_people.rostered(conn, counselor_id):
        raise NotRostered(counselor_id)


def _weekly(s: ShiftIn) -> shifts.WeeklyShift:
    return shifts.WeeklyShift(s.counselor_id, s.weekday, s.start, s.end, s.tz)


def _without(items: tuple[_T, ...], item: _T) -> tuple[_T, ...]:
    i = items.index(item) if item in items else len(items)
    return items[:i] + items[i + 1:]


async def add_shifts(deps: Deps, new: list[ShiftIn], actor_id: int) -> list[int]:
    """Add weekly shifts for one person (validated by the caller through shifts.parse_*).
    Adding time cannot end a shift, but a person must follow the roster: NotRostered."""
    now = datetime.now(UTC)
    cid = new[0].counselor_id
    ids = []
    async with deps.engine.begin() as conn:
        await _require_rostered(conn, cid)
        for s in new:
            sid = int((await conn.execute(insert(shifts_table).values(
                counselor_id=s.counselor_id, weekday=s.weekday, start_minute=_minutes(s.start),
                end_minute=_minutes(s.end), tz=s.tz, created_at=now)
                .returning(shifts_table.c.id))).scalar_one())
            await audit.record(conn, at=now, actor_id=actor_id, action="roster.shift_added",
                               target_kind="counselor", target_id=str(s.counselor_id),
                               shift=sid, weekday=s.weekday,
                               start=s.start.isoformat("minutes"),
                               end=s.end.isoformat("minutes"), tz=s.tz)
            ids.append(sid)
    await _changed(deps, cid)
    return ids


async def remove_shift(deps: Deps, shift_id: int, actor_id: int, confirm: bool = False) -> None:
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        row = (await conn.execute(select(shifts_table).where(shifts_table.c.id == shift_id))
               ).first()
        if row is None:
            raise LookupError(shift_id)
        gone = shifts.WeeklyShift(row.counselor_id, row.weekday, staffing.minute(row.start_minute),
                                  staffing.minute(row.end_minute), row.tz)
        await _guard(conn, row.counselor_id, lambda r: replace(
            r, shifts=_without(r.shifts, gone)), now, confirm)
        await conn.execute(delete(shifts_table).where(shifts_table.c.id == shift_id))
        await audit.record(conn, at=now, actor_id=actor_id, action="roster.shift_removed",
                           target_kind="counselor", target_id=str(row.counselor_id),
                           shift=shift_id, confirmed=confirm)
    await _changed(deps, row.counselor_id)


async def add_override(deps: Deps, o: shifts.Override, actor_id: int, confirm: bool = False
                       ) -> int:
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        if o.on_shift:
            await _require_rostered(conn, o.staff_id)
        await _guard(conn, o.staff_id, lambda r: replace(r, overrides=(*r.overrides, o)),
                     now, confirm)
        oid = int((await conn.execute(insert(shift_overrides).values(
            counselor_id=o.staff_id, starts_at=o.start, ends_at=o.end, on_shift=o.on_shift,
            reason=o.reason, created_by=actor_id, created_at=now)
            .returning(shift_overrides.c.id))).scalar_one())
        await audit.record(conn, at=now, actor_id=actor_id, action="roster.override_added",
                           target_kind="counselor", target_id=str(o.staff_id), override=oid,
                           on_shift=o.on_shift, reason=o.reason, start=o.start.isoformat(),
                           end=o.end.isoformat(), confirmed=confirm)
    await _changed(deps, o.staff_id)
    return oid


async def remove_override(deps: Deps, override_id: int, actor_id: int, confirm: bool = False
                          ) -> None:
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        row = (await conn.execute(select(shift_overrides).where(
            shift_overrides.c.id == override_id))).first()
        if row is None:
            raise LookupError(override_id)
        gone = shifts.Override(row.counselor_id, row.starts_at, row.ends_at,
                               bool(row.on_shift), row.reason)
        await _guard(conn, row.counselor_id, lambda r: replace(
            r, overrides=_without(r.overrides, gone)), now, confirm)
        await conn.execute(delete(shift_overrides).where(shift_overrides.c.id == override_id))
        await audit.record(conn, at=now, actor_id=actor_id, action="roster.override_removed",
                           target_kind="counselor", target_id=str(row.counselor_id),
                           override=override_id, confirmed=confirm)
    await _changed(deps, row.counselor_id)


async def set_rostered(deps: Deps, counselor_id: int, rostered: bool, actor_id: int,
                       confirm: bool = False) -> bool:
    """Choose whether a person follows the roster; False if that was already so."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        current = await roster_people.rostered(conn, counselor_id)
        if current is None:
            raise LookupError(counselor_id)
        if current == rostered:
            return False
        await _guard(conn, counselor_id, lambda r: replace(
            r, always=r.always - {counselor_id} if rostered else r.always | {counselor_id}),
            now, confirm)
        await roster_people.set_rostered(conn, counselor_id, rostered)
        await audit.record(conn, at=now, actor_id=actor_id, action="roster.rostered_set",
                           target_kind="counselor", target_id=str(counselor_id),
                           rostered=rostered, confirmed=confirm)
    await _changed(deps, counselor_id)
    return True


async def _changed(deps: Deps, counselor_id: int) -> None:
    # This process's floor works the next edge out itself until the job has found it again.
    staffing.forget_edge(deps)
    # Before the write: a full re-sync that read the roster before this edit must not land
    # after it (staffing.sync_all).
    await deps.live.bump_roster_version()
    await staffing.sync_one(deps, counselor_id)
    await deps.publish({"type": EventType.ROSTER, "counselor": counselor_id})
    # That event wakes the shift-edge job on every instance (app._wake_on_events): a confirmed
    # edit that ended a shift is handed over by its rules at once.


async def run_shift_edges(deps: Deps, stop: asyncio.Event, wake: asyncio.Event) -> None:
    """Forever: at every shift edge (and every minute), re-sync routing and hand over."""
    while not stop.is_set():
        delay = _RESYNC_S
        with contextlib.suppress(RedisError, OSError):
            now = datetime.now(UTC)
            roster = await staffing.sync_all(deps, now)
            if await take_lease(deps.redis, deps.keys.job_lock("handover"), 5000):
                await handover.at_shift_edge(deps, now, roster)
            edge = await staffing.edge_of(roster, now)
            staffing.edge_found(deps, now, edge)
            if edge is not None:
                delay = min(delay, max(0.05, (edge - datetime.now(UTC)).total_seconds()))
        await pause(stop, delay, wake)
