"""The roster at run time: weekly shifts and dated overrides in SQL, edited by leads (audited),
seeded once from config.toml, and the shift-edge job that keeps routing in step with it.
See docs/routing.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from redis.exceptions import RedisError
from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.config import RosterConfig
from hotline.domain import shifts
from hotline.services import agents, handover
from hotline.services.deps import Deps
from hotline.services.jobs import pause
from hotline.stores.sql import audit
from hotline.stores.sql.tables import audit_events, counselors, shift_overrides
from hotline.stores.sql.tables import shifts as shifts_table

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
    seeded = (await conn.execute(select(audit_events.c.id).where(and_(
        audit_events.c.target_kind == "roster", audit_events.c.target_id == "config"))
        .limit(1))).first()
    if seeded is not None:
        return 0
    ids = {r.name: r.id for r in await conn.execute(select(counselors.c.id, counselors.c.name))}
    added = 0
    for s in cfg.shifts:
        cid = ids.get(s.counselor)
        if cid is None:
            log.warning("roster seed names an unknown counselor; skipped")
            continue
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


async def add_shift(deps: Deps, s: ShiftIn, actor_id: int) -> int:
    """Add a weekly shift (validated by the caller through shifts.parse_*)."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        sid = int((await conn.execute(insert(shifts_table).values(
            counselor_id=s.counselor_id, weekday=s.weekday, start_minute=_minutes(s.start),
            end_minute=_minutes(s.end), tz=s.tz, created_at=now)
            .returning(shifts_table.c.id))).scalar_one())
        await audit.record(conn, at=now, actor_id=actor_id, action="roster.shift_added",
                           target_kind="counselor", target_id=str(s.counselor_id), shift=sid,
                           weekday=s.weekday, start=s.start.isoformat("minutes"),
                           end=s.end.isoformat("minutes"), tz=s.tz)
    await _changed(deps, s.counselor_id)
    return sid


async def remove_shift(deps: Deps, shift_id: int, actor_id: int) -> None:
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        row = (await conn.execute(select(shifts_table).where(shifts_table.c.id == shift_id))
               ).first()
        if row is None:
            raise LookupError(shift_id)
        await conn.execute(delete(shifts_table).where(shifts_table.c.id == shift_id))
        await audit.record(conn, at=now, actor_id=actor_id, action="roster.shift_removed",
                           target_kind="counselor", target_id=str(row.counselor_id),
                           shift=shift_id)
    await _changed(deps, row.counselor_id)


async def add_override(deps: Deps, o: shifts.Override, actor_id: int) -> int:
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        oid = int((await conn.execute(insert(shift_overrides).values(
            counselor_id=o.staff_id, starts_at=o.start, ends_at=o.end, on_shift=o.on_shift,
            reason=o.reason, created_by=actor_id, created_at=now)
            .returning(shift_overrides.c.id))).scalar_one())
        await audit.record(conn, at=now, actor_id=actor_id, action="roster.override_added",
                           target_kind="counselor", target_id=str(o.staff_id), override=oid,
                           on_shift=o.on_shift, reason=o.reason, start=o.start.isoformat(),
                           end=o.end.isoformat())
    await _changed(deps, o.staff_id)
    return oid


async def remove_override(deps: Deps, override_id: int, actor_id: int) -> None:
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        row = (await conn.execute(select(shift_overrides).where(
            shift_overrides.c.id == override_id))).first()
        if row is None:
            raise LookupError(override_id)
        await conn.execute(delete(shift_overrides).where(shift_overrides.c.id == override_id))
        await audit.record(conn, at=now, actor_id=actor_id, action="roster.override_removed",
                           target_kind="counselor", target_id=str(row.counselor_id),
                           override=override_id)
    await _changed(deps, row.counselor_id)


async def _changed(deps: Deps, counselor_id: int) -> None:
    # Before the write: a full re-sync that read the roster before this edit must not land
    # after it (agents.sync_all).
    await deps.live.bump_roster_version()
    await agents.sync_one(deps, counselor_id)
    await deps.publish({"type": "roster", "counselor": counselor_id})


@dataclass(frozen=True)
class OnShift:
    at: datetime
    on_shift: list[dict[str, object]]
    next_edge: datetime | None


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


async def entries(conn: AsyncConnection, now: datetime) -> dict[str, list[dict[str, object]]]:
    """Every weekly shift, and the overrides that have not ended, with the staff member's
    name: what a lead needs to see to change the roster (removal is by these ids)."""
    names = {r.id: r.name for r in await conn.execute(select(counselors.c.id,
                                                             counselors.c.name))}
    weekly = [{"id": r.id, "counselor_id": r.counselor_id, "name": names.get(r.counselor_id),
               "day": shifts.DAY_NAMES[r.weekday], "start": _hhmm(r.start_minute),
               "end": _hhmm(r.end_minute), "tz": r.tz}
              for r in await conn.execute(select(shifts_table).order_by(
                  shifts_table.c.counselor_id, shifts_table.c.weekday,
                  shifts_table.c.start_minute))]
    dated = [{"id": r.id, "counselor_id": r.counselor_id, "name": names.get(r.counselor_id),
              "start": r.starts_at.isoformat(), "end": r.ends_at.isoformat(),
              "on_shift": r.on_shift, "reason": r.reason}
             for r in await conn.execute(select(shift_overrides)
                                         .where(shift_overrides.c.ends_at > now)
                                         .order_by(shift_overrides.c.starts_at))]
    return {"shifts": weekly, "overrides": dated}


async def who_is_on(conn: AsyncConnection, at: datetime) -> OnShift:
    """Who is on shift at `at` (with their window) and the next shift edge."""
    roster = await agents.load_roster(conn, since=at - timedelta(days=1))
    rows = list(await conn.execute(select(counselors.c.id, counselors.c.name, counselors.c.role,
                                          counselors.c.languages)
                                   .where(counselors.c.active.is_(True))))
    scheduled = shifts.staff_ids(roster)
    out = []
    for r in rows:
        if r.id not in scheduled:
            continue
        win = shifts.current_window(roster, r.id, at)
        if win is not None:
            out.append({"id": r.id, "name": r.name, "role": r.role,
                        "languages": r.languages.split(","),
                        "from": win[0].isoformat(), "until": win[1].isoformat()})
    unscheduled = [{"id": r.id, "name": r.name, "role": r.role,
                    "languages": r.languages.split(","), "from": None, "until": None}
                   for r in rows if r.id not in scheduled]
    return OnShift(at, out + unscheduled, shifts.next_edge(roster, at))


async def run_shift_edges(deps: Deps, stop: asyncio.Event, wake: asyncio.Event) -> None:
    """Forever: at every shift edge (and every minute), re-sync routing and hand over."""
    while not stop.is_set():
        delay = _RESYNC_S
        with contextlib.suppress(RedisError, OSError):
            now = datetime.now(UTC)
            await agents.sync_all(deps, now)
            if await deps.redis.set(deps.keys.job_lock("handover"), "1", nx=True, px=5000):
                await handover.at_shift_edge(deps, now)
            async with deps.engine.connect() as conn:
                edge = shifts.next_edge(await agents.load_roster(conn, since=now), now)
            if edge is not None:
                delay = min(delay, max(0.05, (edge - datetime.now(UTC)).total_seconds()))
        await pause(stop, delay, wake)
