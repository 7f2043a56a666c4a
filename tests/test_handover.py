"""Handover at a counselor's shift edge, over the real app (SQLite and PostgreSQL): a planned
handover to an eligible colleague moves the case to them, with the (sealed) note shown on the
case; without a plan, or when the colleague cannot take it, the case goes back to the queue at
its old position. The lead's console hears a "handover" event either way.

The test calls handover.at_shift_edge(deps, now) with `now` after the shift's end, holding the
app's own handover job off; pull mode, so no offer moves a case meanwhile."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hotline.cases import handover
from hotline.cases.tables import handovers
from hotline.config import Config
from hotline.domain.routing import (
    Presence,
    RoutingRules,
    StaffState,
    handover_candidates,
    reassign_candidates,
)
from hotline.domain.staff import Role
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import (
    EventStream,
    Staffer,
    add_shift,
    audit,
    conv,
    deps_of,
    hold_jobs,
    presence,
    queue_ids,
    staff,
    utc_now,
    victim,
)
from tests.helpers import statements_seen

NOTE = "Prefers to be called Jay. Takedown form for the second site is half done."


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"})


class Floor:
    """A lead, mina (on shift now, ending in two hours) and jun (unscheduled: always on)."""

    def __init__(self, runner: AppRunner, lead: Staffer, mina: Staffer, jun: Staffer,
                 now: datetime) -> None:
        self.runner, self.lead, self.mina, self.jun, self.now = runner, lead, mina, jun, now

    @property
    def after_shift(self) -> datetime:
        return self.now + timedelta(hours=3)

    async def edge(self) -> list[str]:
        return await handover.at_shift_edge(deps_of(self.runner), self.after_shift)


@pytest.fixture
async def floor(app_runner: AppRunner) -> Floor:
    deps = deps_of(app_runner)
    await hold_jobs(deps, "handover", "shift-edges")
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    await presence(lead, "break")
    mina = await staff(app_runner, "mina")
    jun = await staff(app_runner, "jun")
    now = utc_now()
    await add_shift(lead, mina.id, now - timedelta(hours=1), now + timedelta(hours=2))
    return Floor(app_runner, lead, mina, jun, now)


async def _plan(who: Staffer, cid: str, to: Any, note: Any = NOTE) -> tuple[int, dict[str, Any]]:
    resp = await who.post(f"/api/v1/cases/{cid}/handover", {"to_counselor_id": to, "note": note})
    body: dict[str, Any] = await resp.json()
    return resp.status, body


async def test_planned_handover_moves_the_case_with_its_note(floor: Floor) -> None:
    runner, mina, jun = floor.runner, floor.mina, floor.jun
    _v, cid = await victim(runner)
    assert await mina.take_next() == cid
    status, body = await _plan(mina, cid, jun.id)
    assert status == 200 and body == {"conversation": cid, "to": jun.id}
    [planned] = (await mina.case(cid))["handovers"]
    assert (planned["from"], planned["to"], planned["note"], planned["done"]) == (
        mina.id, jun.id, NOTE, False)

    # Nothing happens while mina is still on shift.
    assert await handover.at_shift_edge(deps_of(runner), floor.now) == []
    assert (await conv(runner, cid)).counselor_id == mina.id

    events = await EventStream.open(floor.lead)
    try:
        assert await floor.edge() == [cid]
        ev = await events.until(lambda e: e.get("type") == "handover")
    finally:
        events.close()
    assert (ev["conversation"], ev["from"], ev["to_queue"]) == (cid, mina.id, False)

    case = await jun.case(cid)
    assert case["status"] == "active" and case["counselor_id"] == jun.id
    [done] = case["handovers"]
    assert (done["from"], done["to"], done["note"], done["done"]) == (mina.id, jun.id, NOTE, True)
    assert (await mina.client.get(f"/api/v1/cases/{cid}")).status == 404
    assert await deps_of(runner).live.owners() == {cid: jun.id}
    # jun can carry on the conversation at once.
    assert (await jun.reply(cid, "Hi, I am Jun; I have read your case.")).status == 201

    [moved] = await audit(runner, "case.reassigned", cid)
    assert moved["actor_id"] is None
    assert moved["detail"]["reason"] == "shift_end" and moved["detail"]["previous"] == mina.id
    [plan_row] = await audit(runner, "handover.planned", cid)
    assert plan_row["actor_id"] == mina.id and plan_row["detail"] == {"to": jun.id}
    # The note is sealed at rest.
    async with deps_of(runner).engine.connect() as conn:
        sealed = [r.note_sealed for r in await conn.execute(select(handovers))]
    assert len(sealed) == 1 and NOTE.encode() not in sealed[0]
    # A second edge pass has nothing left to do.
    assert await floor.edge() == []


async def test_without_a_plan_the_case_goes_back_to_its_old_place(floor: Floor) -> None:
    runner, mina = floor.runner, floor.mina
    _v1, older = await victim(runner, "first")
    _v2, newer = await victim(runner, "second")
    assert await mina.take_next() == older
    assert await queue_ids(floor.lead) == [(newer, None)]

    events = await EventStream.open(floor.lead)
    try:
        assert await floor.edge() == [older]
        ev = await events.until(lambda e: e.get("type") == "handover")
    finally:
        events.close()
    assert (ev["conversation"], ev["from"], ev["to_queue"]) == (older, mina.id, True)
    assert await queue_ids(floor.lead) == [(older, None), (newer, None)]
    row = await conv(runner, older)
    assert row.status.value == "waiting" and row.counselor_id is None
    [entry] = await audit(runner, "case.requeued", older)
    assert entry["actor_id"] is None and entry["detail"]["reason"] == "shift_end"
    assert await audit(runner, "case.reassigned") == []
    # The next counselor gets it first.
    assert await floor.jun.take_next() == older


async def test_plan_to_an_ineligible_colleague_returns_it_to_the_queue(floor: Floor) -> None:
    runner, mina, jun = floor.runner, floor.mina, floor.jun
    _v1, older = await victim(runner, "first")
    _v2, newer = await victim(runner, "second")
    assert await mina.take_next() == older
    assert (await _plan(mina, older, jun.id))[0] == 200
    await presence(jun, "break")

    events = await EventStream.open(floor.lead)
    try:
        assert await floor.edge() == [older]
        ev = await events.until(lambda e: e.get("type") == "handover")
    finally:
        events.close()
    assert ev["to_queue"] is True
    assert await queue_ids(floor.lead) == [(older, None), (newer, None)]
    assert await audit(runner, "case.reassigned") == []

    # Whoever takes it next reads the note.
    await presence(jun, "available")
    assert await jun.take_next() == older
    [note] = (await jun.case(older))["handovers"]
    assert note["note"] == NOTE and note["done"] is True


async def test_plan_back_to_the_queue_with_a_note(floor: Floor) -> None:
    runner, mina, jun = floor.runner, floor.mina, floor.jun
    _v, cid = await victim(runner)
    assert await mina.take_next() == cid
    status, body = await _plan(mina, cid, None, "Asked for a female counselor.")
    assert status == 200 and body == {"conversation": cid, "to": None}
    # A newer plan replaces the older one (which is marked done).
    status, _ = await _plan(mina, cid, None, NOTE)
    assert status == 200
    assert await floor.edge() == [cid]
    assert await queue_ids(floor.lead) == [(cid, None)]
    assert await jun.take_next() == cid
    notes = (await jun.case(cid))["handovers"]
    assert [(n["to"], n["note"], n["done"]) for n in notes] == [
        (None, "Asked for a female counselor.", True), (None, NOTE, True)]


async def test_only_the_holder_plans_a_handover(floor: Floor) -> None:
    runner, mina, jun, lead = floor.runner, floor.mina, floor.jun, floor.lead
    _v, cid = await victim(runner)
    _v2, waiting = await victim(runner)
    assert await mina.take_next() == cid
    # Someone else's case looks missing to a counselor.
    assert (await _plan(jun, cid, jun.id))[0] == 404
    assert (await _plan(jun, waiting, jun.id))[0] == 404
    # A lead can see it but does not hold it.
    status, body = await _plan(lead, cid, jun.id)
    assert status == 409 and "holding" in body["error"]
    for bad, field in (({"to_counselor_id": "jun"}, "to_counselor_id"),
                       ({"note": "x" * 2001}, "note"), ({"note": 5}, "note")):
        resp = await mina.post(f"/api/v1/cases/{cid}/handover",
                               {"to_counselor_id": jun.id, "note": "", **bad})
        assert resp.status == 400
        assert (await resp.json())["error"].startswith(f"{field}:")
    assert (await mina.case(cid))["handovers"] == []
    assert await audit(runner, "handover.planned") == []


async def test_unscheduled_and_on_shift_holders_keep_their_cases(floor: Floor) -> None:
    runner, mina, jun = floor.runner, floor.mina, floor.jun
    _v1, minas = await victim(runner, "first")
    _v2, juns = await victim(runner, "second")
    assert await mina.take_next() == minas
    assert await jun.take_next() == juns
    # jun has no shifts at all: never handed over. mina only after her shift.
    assert await handover.at_shift_edge(deps_of(runner), floor.now) == []
    assert await floor.edge() == [minas]
    assert (await conv(runner, juns)).counselor_id == jun.id


async def test_the_edge_pass_reads_only_the_cases_of_people_off_shift(floor: Floor) -> None:
    """Issue 18: each minute's pass read every open case (10,000 waiting in a surge); now it
    reads who holds active cases, then only the cases of those whose shift ended."""
    runner, mina, jun = floor.runner, floor.mina, floor.jun
    _v1, minas = await victim(runner, "first")
    _v2, juns = await victim(runner, "second")
    for _ in range(3):
        await victim(runner, "waiting")
    assert await mina.take_next() == minas
    assert await jun.take_next() == juns
    engine = deps_of(runner).reads  # the pass reads on the reader (SQLite: off the loop)
    with statements_seen(engine, "FROM conversations") as seen:
        assert await floor.edge() == [minas]  # jun is unscheduled: always on
    reads = [s[0] for s in seen if s[0].lstrip().upper().startswith("SELECT")]
    assert reads and not any("status !=" in s or "<>" in s for s in reads), reads
    holders = [s for s in reads if "counselor_id IN" in s or "counselor_id = ANY" in s]
    assert holders, reads  # the cases read are those of the people off shift
    assert (await conv(runner, juns)).counselor_id == jun.id


def _person(pid: int, *, start: int = 0, end: int = 10_000_000, heartbeat: int = 1_000_000,
            languages: tuple[str, ...] = ("en",), channels: tuple[str, ...] = ("webchat",)
            ) -> StaffState:
    return StaffState(id=pid, status=Presence.AVAILABLE, shift_start_ms=start,
                      shift_end_ms=end, heartbeat_ms=heartbeat, max_chats=3,
                      languages=frozenset(languages), channels=frozenset(channels),
                      skills=frozenset(), load=3, on_call=False, idle_since_ms=0)


def test_handover_candidates_are_colleagues_on_shift_for_the_case() -> None:
    now = 1_000_000
    people = [
        _person(1),                                   # me: never a candidate
        _person(2, end=2_000_000),                    # present, stays to 2,000 s
        _person(3, end=5_000_000),                    # present, stays longest
        _person(4, heartbeat=now - 61_000),           # console quiet: after the present ones
        _person(5, languages=("ko",)),                # not the case's language
        _person(6, channels=("sms",)),                # not the case's channel
        _person(7, start=now + 1),                    # not on shift yet
        _person(8, end=now),                          # shift over
        _person(9, end=5_000_000),                    # as 3: by id
    ]
    found, total = handover_candidates(people, 1, "en", "webchat", now, RoutingRules(), 50)
    assert [p.id for p in found] == [3, 9, 2, 4] and total == 4
    first, total = handover_candidates(people, 1, "en", "webchat", now, RoutingRules(), 2)
    assert [p.id for p in first] == [3, 9] and total == 4


async def test_the_case_page_lists_colleagues_for_its_case_a_page_at_a_time(
        floor: Floor) -> None:
    """The case page read the whole roster for its handover list: 121 KB and 40 ms a case
    opened at 1,000 on shift. Now only colleagues on shift for the case's language and
    channel, the first `limit`, and how many there are; only for who may read the case."""
    runner, mina, jun = floor.runner, floor.mina, floor.jun
    sora = await staff(runner, "sora", languages=("ko",))
    _v, cid = await victim(runner)  # in English
    assert await mina.take_next() == cid
    resp = await mina.client.get(f"/api/v1/cases/{cid}/colleagues")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    ids = [c["id"] for c in body["colleagues"]]
    assert jun.id in ids and mina.id not in ids and sora.id not in ids
    assert body["total"] == len(ids)
    [jun_row] = [c for c in body["colleagues"] if c["id"] == jun.id]
    assert jun_row["name"] == "jun" and jun_row["until"] is None and "en" in jun_row["languages"]
    one = await (await mina.client.get(f"/api/v1/cases/{cid}/colleagues?limit=1")).json()
    assert len(one["colleagues"]) == 1 and one["total"] == body["total"]
    # Someone who may not read the case learns nothing of it; bad paging names the field.
    assert (await jun.client.get(f"/api/v1/cases/{cid}/colleagues")).status == 404
    assert (await mina.client.get(f"/api/v1/cases/{'0' * 32}/colleagues")).status == 404
    resp = await mina.client.get(f"/api/v1/cases/{cid}/colleagues?limit=0")
    assert resp.status == 400 and (await resp.json())["field"] == "limit"


def test_a_lead_may_give_a_case_to_whoever_may_take_it_now() -> None:
    """The lead page's reassign picker listed only the staff on the floor's first page (50
    by id): at 1,000 staff, whoever could take the case was usually not among them."""
    now = 1_000_000
    people = [
        _person(1),                                             # the holder: never
        dataclasses.replace(_person(2), load=1),                # room, load 1
        dataclasses.replace(_person(3), load=0),                # room, load 0: first
        _person(4),                                             # full: a lead may override
        dataclasses.replace(_person(5), status=Presence.BREAK),  # on a break
        _person(6, heartbeat=now - 61_000),                     # console quiet
        _person(7, languages=("ko",)),                          # not the case's language
        _person(8, channels=("sms",)),                          # not the case's channel
        dataclasses.replace(_person(9), on_call=True),          # on a call
        _person(10, end=now + 60_000),                          # in the shift's last minutes
        dataclasses.replace(_person(11), load=0),               # as 3: by id
    ]
    found, total = reassign_candidates(people, 1, "en", "webchat", now, RoutingRules(), 50)
    assert [p.id for p in found] == [3, 11, 2, 4] and total == 4
    first, total = reassign_candidates(people, None, "en", "webchat", now, RoutingRules(), 2)
    assert [p.id for p in first] == [3, 11] and total == 5


async def test_the_lead_picks_from_everyone_who_may_take_the_case(floor: Floor) -> None:
    runner, lead, mina, jun = floor.runner, floor.lead, floor.mina, floor.jun
    sora = await staff(runner, "sora", languages=("ko",))
    for who in (mina, jun, sora):
        await presence(who, "available")
    _v, cid = await victim(runner)  # in English
    assert await mina.take_next() == cid
    resp = await lead.client.get(f"/api/v1/cases/{cid}/takers")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body == {"takers": [{"id": jun.id, "name": "jun", "status": "available", "load": 0,
                                "max_chats": body["takers"][0]["max_chats"]}], "total": 1}
    # Only who runs the floor; a missing case and bad paging as everywhere.
    assert (await mina.client.get(f"/api/v1/cases/{cid}/takers")).status == 404
    assert (await lead.client.get(f"/api/v1/cases/{'0' * 32}/takers")).status == 404
    resp = await lead.client.get(f"/api/v1/cases/{cid}/takers?limit=0")
    assert resp.status == 400 and (await resp.json())["field"] == "limit"
