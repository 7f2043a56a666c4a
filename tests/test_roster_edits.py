"""Roster edits that keep the floor standing (issue 13), over the real app on SQLite and
PostgreSQL: an edit changes availability only for the times it covers; following the roster
is a per-person choice, never a side effect of a first row; an edit that would end a shift now
answers 409 with what it would end and nothing changes, until confirmed, when the handover
rules apply; reasons that go one way only are refused naming the field; leads see the
languages and channels with waiting cases that nobody covers, now and for the next hours."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hotline.cases import handover
from hotline.config import Config
from hotline.domain.conversation import Status
from hotline.domain.staff import Role
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import (
    add_override,
    add_shift,
    audit,
    conv,
    deps_of,
    hold_jobs,
    set_rostered,
    shift_body,
    staff,
    take_next_status,
    utc_now,
    victim,
)


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"})


@pytest.fixture
async def app_runner(app_runner: AppRunner) -> AppRunner:
    # The shift edge is run by the tests themselves (handover.at_shift_edge), when they say.
    await hold_jobs(deps_of(app_runner), "shift-edges", "handover")
    return app_runner


async def _edge(runner: AppRunner) -> list[str]:
    return await handover.at_shift_edge(deps_of(runner))


async def test_time_off_tomorrow_keeps_someone_not_rostered_on_shift_today(
        app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    jun = await staff(app_runner, "jun")
    _v, first = await victim(app_runner, "first")
    assert await jun.take_next() == first
    now = utc_now()
    tomorrow = now + timedelta(days=1)
    await add_override(lead, jun.id, tomorrow, tomorrow + timedelta(hours=8), False, "holiday",
                       confirm=False)
    # Today: still on shift, still holding his case, still taking new ones.
    assert await _edge(app_runner) == []
    assert (await conv(app_runner, first)).counselor_id == jun.id
    _v2, second = await victim(app_runner, "second")
    assert await jun.take_next() == second
    resp = await lead.client.get("/api/v1/roster")
    on = {p["id"]: p for p in (await resp.json())["on_shift"]}
    assert on[jun.id]["until"] == tomorrow.isoformat() and on[jun.id]["rostered"] is False
    # Tomorrow, inside the time off: off shift; after it: on again.
    for at, expected in ((tomorrow + timedelta(hours=1), False),
                         (tomorrow + timedelta(hours=9), True)):
        resp = await lead.client.get("/api/v1/roster", params={"at": at.isoformat()})
        assert (jun.id in [p["id"] for p in (await resp.json())["on_shift"]]) is expected


async def test_a_shift_for_another_day_keeps_todays_chat(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    _v, cid = await victim(app_runner)
    assert await mina.take_next() == cid
    later = utc_now() + timedelta(days=3)
    body = shift_body(mina.id, later, later + timedelta(hours=8))
    # Not following the roster, a shift would not apply: refused, naming the field; she keeps
    # her chat.
    resp = await lead.post("/api/v1/roster/shifts", body)
    assert resp.status == 409
    assert (await resp.json())["field"] == "counselor_id"
    assert (await resp.json())["code"] == "not_rostered"
    assert await audit(app_runner, "roster.shift_added") == []
    # Once she follows the roster and is on shift today, a shift on another day changes
    # nothing today.
    now = utc_now()
    await add_shift(lead, mina.id, now - timedelta(hours=1), now + timedelta(hours=3))
    resp = await lead.post("/api/v1/roster/shifts", {**body, "confirm": False})
    assert resp.status == 201, await resp.text()
    assert await _edge(app_runner) == []
    row = await conv(app_runner, cid)
    assert (row.status, row.counselor_id) == (Status.ACTIVE, mina.id)


async def test_an_edit_that_ends_a_shift_now_asks_first_then_hands_over(
        app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    now = utc_now()
    await add_shift(lead, mina.id, now - timedelta(hours=1), now + timedelta(hours=3))
    _v, cid = await victim(app_runner)
    assert await mina.take_next() == cid
    sick: dict[str, Any] = {"counselor_id": mina.id, "start": now.isoformat(),
                            "end": (now + timedelta(hours=4)).isoformat(), "on_shift": False,
                            "reason": "sick"}
    resp = await lead.post("/api/v1/roster/overrides", sick)
    assert resp.status == 409
    answer = await resp.json()
    assert answer["code"] == "would_end_shift"
    assert answer["would_end"] == {"counselor_id": mina.id, "name": "mina", "held_cases": 1}
    # Nothing changed: no row, no audit, her case and her shift as they were.
    entries = await (await lead.client.get("/api/v1/roster/entries")).json()
    assert entries["overrides"] == []
    assert await audit(app_runner, "roster.override_added") == []
    assert await _edge(app_runner) == []
    assert (await conv(app_runner, cid)).counselor_id == mina.id

    resp = await lead.post("/api/v1/roster/overrides", {**sick, "confirm": True})
    assert resp.status == 201
    [added] = await audit(app_runner, "roster.override_added")
    assert added["detail"]["confirmed"] is True
    # The handover rules apply: no plan, so the case goes back to the queue.
    assert await _edge(app_runner) == [cid]
    row = await conv(app_runner, cid)
    assert (row.status, row.counselor_id) == (Status.WAITING, None)


async def test_following_the_roster_is_a_choice_that_asks_before_ending_a_shift(
        app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    jun = await staff(app_runner, "jun")
    _v, cid = await victim(app_runner)
    # Following the roster with no shifts would end his shift now.
    resp = await lead.put(f"/api/v1/roster/people/{jun.id}", {"rostered": True})
    assert resp.status == 409 and (await resp.json())["would_end"]["counselor_id"] == jun.id
    assert await jun.take_next() == cid
    await set_rostered(lead, jun.id)
    code, body = await take_next_status(jun)
    assert code == 409 and body["reason"] == "shift"
    [changed] = await audit(app_runner, "roster.rostered_set")
    assert (changed["actor_id"], changed["target_id"], changed["detail"]["rostered"]) == (
        lead.id, str(jun.id), True)
    # The same choice again changes nothing and is not audited again.
    resp = await lead.put(f"/api/v1/roster/people/{jun.id}", {"rostered": True})
    assert resp.status == 200 and (await resp.json())["changed"] is False
    entries = await (await lead.client.get("/api/v1/roster/entries")).json()
    assert {p["name"]: p["rostered"] for p in entries["people"]} == {"jun": True,
                                                                     "lead": False}
    # Only leads choose; a missing person is 404; a bad value names its field.
    # (the policy guard answers a role's missing right as a missing record)
    assert (await jun.put(f"/api/v1/roster/people/{jun.id}", {"rostered": False})).status == 404
    assert (await lead.put("/api/v1/roster/people/999999", {"rostered": False})).status == 404
    resp = await lead.put(f"/api/v1/roster/people/{jun.id}", {"rostered": "yes"})
    assert resp.status == 400 and "rostered" in (await resp.json())["error"]


@pytest.mark.parametrize("on_shift,reason", [(False, "cover"), (True, "sick"),
                                             (True, "holiday")])
async def test_reasons_that_do_not_go_with_the_direction_are_refused(
        app_runner: AppRunner, on_shift: bool, reason: str) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina", login=False)
    await set_rostered(lead, mina.id)
    now = utc_now()
    resp = await lead.post("/api/v1/roster/overrides", {
        "counselor_id": mina.id, "start": now.isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(), "on_shift": on_shift, "reason": reason,
        "confirm": True})
    assert resp.status == 400 and (await resp.json())["field"] == "reason"
    assert await audit(app_runner, "roster.override_added") == []


async def test_leads_see_waiting_languages_nobody_covers_now_and_ahead(
        app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD, languages=("en",))
    await set_rostered(lead, lead.id)
    mina = await staff(app_runner, "mina", languages=("ko",), login=False)
    await victim(app_runner, "도와주세요", lang="ko")
    await victim(app_runner, "도와주세요 2", lang="ko")
    now = utc_now()
    # mina (Korean) follows the roster and starts in two hours: Korean web chat is uncovered
    # until then.
    await add_shift(lead, mina.id, now + timedelta(hours=2), now + timedelta(hours=6))
    resp = await lead.client.get("/api/v1/roster/cover", params={"hours": "8"})
    assert resp.status == 200
    gaps = (await resp.json())["gaps"]
    assert [(g["language"], g["channel"], g["waiting"]) for g in gaps] == [
        ("ko", "webchat", 2), ("ko", "webchat", 2)]
    assert gaps[0]["until"] is not None and gaps[0]["until"] <= (
        now + timedelta(hours=2, minutes=1)).isoformat()
    assert gaps[1]["until"] is None  # from the end of her shift to the end of the 8 hours
    # Someone not rostered who speaks Korean covers it all.
    await staff(app_runner, "jun", languages=("ko",), login=False)
    resp = await lead.client.get("/api/v1/roster/cover")
    assert (await resp.json())["gaps"] == []
    # Leads only; hours bounded and named.
    co = await staff(app_runner, "co", languages=("en",))
    assert (await co.client.get("/api/v1/roster/cover")).status == 404
    # A superscript or full-width digit is a digit to str.isdigit, not to int(): was a 500.
    for hours in ("99", "\u00b9", "\uff13"):
        resp = await lead.client.get("/api/v1/roster/cover", params={"hours": hours})
        assert resp.status == 400 and (await resp.json())["field"] == "hours", hours
