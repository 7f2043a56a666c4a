"""Limits that protect counselors (hotline/domain/exposure.py): exposure recorded as it
happens, the set of people at a cap kept in Redis for the router (no new critical offers),
the lead's wellbeing view (who is at a cap and why, who has gone longest without a break),
and debrief flags after a case the counselor marks as hard. See docs/staff.md.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.exceptions import RedisError

from hotline.cases import staffing
from hotline.deps import Deps
from hotline.domain import exposure, shifts
from hotline.domain.exposure import Caps, Totals
from hotline.staff import exposure_store as q
from hotline.steps import in_parts

log = logging.getLogger(__name__)

# How often every cap is worked out again (a new shift starts the counts afresh).
REFRESH_S = 60.0


def caps(deps: Deps) -> Caps:
    w = deps.config.wellbeing
    return Caps(w.critical_cases_cap, w.critical_minutes_cap, w.evidence_reveals_cap)


def _shift_start(roster: shifts.Roster, counselor_id: int, now: datetime, hours: int
                 ) -> datetime:
    window = shifts.current_window(roster, counselor_id, now)
    return window[0] if window is not None else now - timedelta(hours=hours)


async def totals(deps: Deps, counselor_id: int, now: datetime | None = None) -> Totals:
    """This shift's exposure of one person."""
    return (await totals_of(deps, [counselor_id], now or datetime.now(UTC)))[counselor_id]


async def totals_of(deps: Deps, counselor_ids: list[int], now: datetime) -> dict[int, Totals]:
    """This shift's exposure of each person: one roster read (only these people's entries,
    for a page of them), then one grouped read per distinct shift start (people share shift
    boundaries; everyone off the roster shares now less the unscheduled hours). Read a
    person at a time, the upkeep pass cost two statements per person: 2,000 a minute for
    1,000 staff."""
    if not counselor_ids:
        return {}
    hours = deps.config.wellbeing.unscheduled_shift_hours
    few = counselor_ids if len(counselor_ids) <= _BY_ID_MOST else None
    by_start: dict[datetime, list[int]] = {}
    # On the reader (SQLite: off the loop's thread): on the server's own engine the upkeep
    # pass's read of everyone held the loop 95 ms in one step at 1,000 on the roster.
    async with deps.reads.connect() as conn:
        roster = await staffing.load_roster(conn, since=now, staff=few)
        # 1,000 windows in one step held the loop 88-140 ms in the rostered surge bench.
        async for part in in_parts(counselor_ids, staffing.WINDOWS_PART):
            for cid in part:
                by_start.setdefault(_shift_start(roster, cid, now, hours), []).append(cid)
        sums: dict[int, dict[str, int]] = {}
        for since, ids in by_start.items():
            sums.update(await q.sums_of_since(conn, ids, since))
    return {cid: Totals.of(sums.get(cid, {})) for cid in counselor_ids}


# Up to this many people, the roster is read for them alone (a page of the lead's view, one
# person); beyond, whole (the upkeep pass: everyone).
_BY_ID_MOST = 200


async def record(deps: Deps, counselor_id: int, kind: str, amount: int,
                 conversation_id: str | None) -> None:
    """Count an exposure and update whether the person is at a cap."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        await q.add_event(conn, counselor_id=counselor_id, at=now, kind=kind, amount=amount,
                          conversation_id=conversation_id)
    await _mark(deps, counselor_id, exposure.over_caps(await totals(deps, counselor_id, now),
                                                       caps(deps)))


async def after_close(deps: Deps, counselor_id: int | None, conversation_id: str,
                      critical: bool, assigned_at: datetime | None, closed_at: datetime
                      ) -> None:
    """A closed critical case counts as handled, with the minutes it was held."""
    if counselor_id is None or not critical:
        return
    await record(deps, counselor_id, exposure.CRITICAL_CASE, 1, conversation_id)
    await record(deps, counselor_id, exposure.CRITICAL_MINUTES,
                 exposure.critical_minutes(assigned_at, closed_at), conversation_id)


async def _mark(deps: Deps, counselor_id: int, reached: tuple[str, ...]) -> None:
    try:
        if reached:
            await deps.redis.sadd(deps.keys.exposure_capped, str(counselor_id))
        else:
            await deps.redis.srem(deps.keys.exposure_capped, str(counselor_id))
    except (RedisError, OSError) as e:
        # The upkeep job writes it again within REFRESH_S (staff/upkeep.py).
        log.warning("exposure cap not stored", extra={"error": type(e).__name__})


async def capped(deps: Deps) -> frozenset[int]:
    """Who is at a cap now: the set `record` and `refresh` keep, which the router reads."""
    return frozenset(int(x) for x in await deps.redis.smembers(deps.keys.exposure_capped))


async def refresh(deps: Deps) -> dict[int, tuple[str, ...]]:
    """Work out every active person's caps again; the ones reached, by person."""
    now = datetime.now(UTC)
    async with deps.reads.connect() as conn:
        people = [r.id for r in await q.floor_times(conn)]
    reached = {pid: exposure.over_caps(t, caps(deps))
               for pid, t in (await totals_of(deps, people, now)).items()}
    capped = [str(p) for p, r in reached.items() if r]
    async with deps.redis.pipeline(transaction=True) as p:
        p.delete(deps.keys.exposure_capped)
        if capped:
            p.sadd(deps.keys.exposure_capped, *capped)
        await p.execute()
    return reached


async def wellbeing(deps: Deps, limit: int = 50, after: exposure.Standing | None = None
                    ) -> dict[str, Any]:
    """The lead's view, a page at a time: everyone present, whoever needs a word (at a cap
    or a break due) first, then the longest without a break (`exposure.Standing`), with
    this shift's exposure and the caps reached; the counts of the whole floor; and open
    debrief flags. Who is at a cap is the set the router reads (kept by `record` and the
    upkeep pass), so the shift's sums are read for the page's people only: a floor of a
    thousand costs one read of the accounts, not a thousand people's sums. `after`: the
    last row of the page before."""
    now = datetime.now(UTC)
    present = await deps.live.present()
    at_cap = await capped(deps)
    due_after = deps.config.wellbeing.break_after_minutes
    # Every account's times: on SQLite off the loop's thread (a thousand rows).
    async with deps.reads.connect() as conn:
        people = {r.id: r for r in await q.floor_times(conn) if r.id in present}
        debriefs = await q.open_debriefs(conn)
    minutes = {pid: exposure.minutes_since_break(r.last_break_at, r.last_login_at, now)
               for pid, r in people.items()}
    due = {pid for pid, m in minutes.items() if exposure.break_due(m, due_after)}
    page, following = exposure.page_of(
        [exposure.Standing.of(pid, minutes[pid], pid in due or pid in at_cap)
         for pid in people], limit, after)
    totals_now = await totals_of(deps, [s.id for s in page], now)
    limits = caps(deps)
    out = []
    for s in page:
        r, t = people[s.id], totals_now[s.id]
        out.append({"id": r.id, "name": r.name, "role": r.role,
                    "critical_cases": t.critical_cases,
                    "critical_minutes": t.critical_minutes,
                    "evidence_revealed": t.evidence_revealed,
                    "caps_reached": list(exposure.over_caps(t, limits)),
                    "minutes_since_break": minutes[s.id],
                    "break_due": s.id in due,
                    # As ordered: a break due, or in the set the router reads.
                    "attention": s.settled == 0})
    return {"people": out, "next": following, "present": len(people),
            "break_due": len(due), "capped": len(at_cap & people.keys()),
            "debriefs": debriefs, "break_after_minutes": due_after}


async def my_break(deps: Deps, counselor_id: int) -> dict[str, Any]:
    """What a counselor's own console shows: whether a break is due."""
    now = datetime.now(UTC)
    async with deps.engine.connect() as conn:
        rows = [r for r in await q.floor_times(conn) if r.id == counselor_id]
    if not rows:
        return {"minutes_since_break": None, "break_due": False}
    minutes = exposure.minutes_since_break(rows[0].last_break_at, rows[0].last_login_at, now)
    return {"minutes_since_break": minutes,
            "break_due": exposure.break_due(minutes, deps.config.wellbeing.break_after_minutes)}
