"""The floor's next shift edge (SQLite and PostgreSQL): taken from the shift-edge job's last
pass while that is recent and still ahead, worked out from the roster otherwise, and right at
once after a lead's edit on this instance (the job may not have run again yet)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any

from hotline.cases import staffing
from hotline.domain import shifts
from hotline.domain.staff import Role
from tests.conftest import AppRunner
from tests.floor import add_shift, deps_of, hold_jobs, staff, utc_now


async def _edge(lead: Any) -> str | None:
    resp = await lead.client.get("/api/v1/floor")
    assert resp.status == 200, await resp.text()
    edge: str | None = (await resp.json())["next_shift_edge"]
    return edge


async def test_the_floor_names_the_edge_a_lead_just_added(app_runner: AppRunner) -> None:
    deps = deps_of(app_runner)
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    # The job has found the roster empty, then stops: only the edit can correct the floor.
    await hold_jobs(deps, "shift-edges")
    staffing.edge_found(deps, utc_now(), None)
    assert await _edge(lead) is None
    start = (utc_now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    await add_shift(lead, mina.id, start, start + timedelta(hours=2))
    assert await _edge(lead) == start.isoformat()


async def test_the_jobs_edge_is_used_while_recent_and_ahead(app_runner: AppRunner) -> None:
    deps = deps_of(app_runner)
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    await hold_jobs(deps, "shift-edges")
    start = (utc_now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    await add_shift(lead, mina.id, start, start + timedelta(hours=2))
    now = utc_now()
    assert await staffing.next_edge(deps, now) == start
    # What the job found is taken as it is (no read) while recent and still ahead...
    later = now + timedelta(hours=1)
    staffing.edge_found(deps, now, later)
    assert await staffing.next_edge(deps, now) == later
    staffing.edge_found(deps, now, None)
    assert await staffing.next_edge(deps, now) is None
    # ...not once it has passed, nor when the job has not found it lately.
    passed = now - timedelta(seconds=1)
    staffing.edge_found(deps, now - timedelta(seconds=30), passed)
    assert await staffing.next_edge(deps, now) == start
    staffing.edge_found(deps, now - staffing.EDGE_KEPT, later)
    assert await staffing.next_edge(deps, now) == start


async def test_the_running_job_keeps_the_edge(app_runner: AppRunner) -> None:
    """Without holding anything: the job, woken by the edit's event, finds the new edge."""
    deps = deps_of(app_runner)
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    start = (utc_now() + timedelta(hours=5)).replace(second=0, microsecond=0)
    await add_shift(lead, mina.id, start, start + timedelta(hours=2))
    for _ in range(200):
        found = staffing._edges.get(deps.live)  # what the job last found, and when
        if found is not None and found[1] == start:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"the job did not find the new edge: {found}")
    assert await _edge(lead) == start.isoformat()


async def test_the_jobs_edge_worked_out_in_parts_is_the_whole_rosters() -> None:
    """staffing.edge_of goes through 450 people 200 a step: the same edge as at once, here
    the last person's (everyone else starts on a later day)."""
    at = datetime(2030, 1, 7, 3, 0, tzinfo=UTC)  # Monday, 12:00 in Seoul
    later = tuple(shifts.WeeklyShift(staff_id=i, weekday=1 + i % 6, start=time(i % 24),
                                     end=time((i + 8) % 24), tz="Asia/Seoul")
                  for i in range(449))
    last = shifts.WeeklyShift(staff_id=449, weekday=0, start=time(12, 1), end=time(20),
                              tz="Asia/Seoul")
    roster = shifts.Roster((*later, last))
    assert shifts.next_edge(roster, at) == at + timedelta(minutes=1)
    assert await staffing.edge_of(roster, at) == at + timedelta(minutes=1)
    assert await staffing.edge_of(shifts.Roster(), at) is None
