"""Limits that protect counselors and the holiday calendar.

Pure rules (caps, break time, holidays cut out of weekly shifts) as tables; then, over the
real app on both databases: a counselor at her critical-case cap is offered no new critical
case (a normal one still comes), the lead sees why and who has gone longest without a break;
a case marked hard raises a debrief flag only leads see and clear; admins set holidays the
roster honours at once, leads read them, bad input names the field."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update

from hotline.cases import roster, roster_lists, router
from hotline.domain import exposure, holidays, shifts
from hotline.domain.exposure import Caps, Totals
from hotline.domain.staff import Role
from hotline.staff import exposure as staff_exposure
from hotline.staff import exposure_store, upkeep
from hotline.staff.tables import counselors
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import deps_of, hold_jobs, my_offers, staff, victim
from tests.staff_support import audit_rows

SEOUL = "Asia/Seoul"
CAPS = Caps(critical_cases=2, critical_minutes=60, evidence_revealed=5)


@pytest.mark.parametrize(("totals", "reached"), [
    (Totals(), ()),
    (Totals(1, 59, 4), ()),
    (Totals(2, 0, 0), ("critical_case",)),
    (Totals(0, 60, 0), ("critical_minutes",)),
    (Totals(0, 0, 5), ("evidence_revealed",)),
    (Totals(3, 90, 9), ("critical_case", "critical_minutes", "evidence_revealed")),
])
def test_caps(totals: Totals, reached: tuple[str, ...]) -> None:
    assert exposure.over_caps(totals, CAPS) == reached


def test_minutes_since_break() -> None:
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    login, brk = now - timedelta(minutes=200), now - timedelta(minutes=30)
    assert exposure.minutes_since_break(None, None, now) is None
    assert exposure.minutes_since_break(None, login, now) == 200
    assert exposure.minutes_since_break(brk, login, now) == 30
    # A break before this login counts from the login.
    assert exposure.minutes_since_break(login - timedelta(hours=9), login, now) == 200
    assert exposure.break_due(120, 120) and not exposure.break_due(119, 120)
    assert not exposure.break_due(None, 120)


Standing = exposure.Standing


def test_the_wellbeing_list_puts_whoever_needs_a_word_first() -> None:
    # (id, minutes since a break, needs attention), in the order the lead reads them.
    rows = [(7, 200, True), (3, 130, True), (9, 5, True), (4, 300, False), (2, 50, False),
            (5, 50, False), (1, None, False)]
    standings = [Standing.of(pid, m, a) for pid, m, a in reversed(rows)]
    assert [s.id for s in sorted(standings)] == [pid for pid, _m, _a in rows]


def test_the_wellbeing_list_pages_with_a_cursor_that_stays_in_place() -> None:
    everyone = [Standing.of(pid, m, a) for pid, m, a in
                [(1, 10, False), (2, 200, True), (3, 30, False), (4, 50, False), (5, 0, True)]]
    first, cursor = exposure.page_of(everyone, 2, None)
    assert [s.id for s in first] == [2, 5] and cursor == "0.1.5"
    after = Standing.parse(cursor)
    assert after == first[-1]
    # A minute later everyone's count moved and one more person arrived: the next page goes on
    # after the last row shown, and shows none of the first page again.
    later = [Standing.of(s.id, -s.fresh, s.settled == 0) for s in everyone]
    later.append(Standing.of(6, 400, True))  # needs a word: the first page's next read has her
    second, cursor = exposure.page_of(later, 2, after)
    assert [s.id for s in second] == [4, 3] and cursor is not None
    third, cursor = exposure.page_of(later, 2, Standing.parse(cursor))
    assert [s.id for s in third] == [1] and cursor is None
    assert exposure.page_of([], 50, None) == ([], None)


@pytest.mark.parametrize("raw", ["", "1.2", "2.0.1", "0.1.2.3", "0.-1.2", "a.b.c", "0.1.",
                                 "0.1.1234567890", "\uff10.1.2"])
def test_a_wellbeing_cursor_it_did_not_write_is_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        Standing.parse(raw)


def _seoul(d: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(d, time(hh, mm), tzinfo=shifts._zone(SEOUL))


MONDAY = date(2026, 12, 28)
WEEKLY = (shifts.WeeklyShift(staff_id=1, weekday=0, start=time(9), end=time(18), tz=SEOUL),)


@pytest.mark.parametrize(("days", "at", "on"), [
    ((), _seoul(MONDAY, 10), True),
    ((holidays.Holiday(MONDAY, "closed", tz=SEOUL),), _seoul(MONDAY, 10), False),
    ((holidays.Holiday(MONDAY, "closed", tz=SEOUL),), _seoul(MONDAY + timedelta(7), 10), True),
    ((holidays.Holiday(MONDAY, "reduced", 10 * 60, 14 * 60, tz=SEOUL),), _seoul(MONDAY, 9, 30),
     False),
    ((holidays.Holiday(MONDAY, "reduced", 10 * 60, 14 * 60, tz=SEOUL),), _seoul(MONDAY, 11),
     True),
    ((holidays.Holiday(MONDAY, "reduced", 10 * 60, 14 * 60, tz=SEOUL),), _seoul(MONDAY, 15),
     False),
])
def test_the_roster_honours_holidays(days: tuple[holidays.Holiday, ...], at: datetime,
                                     on: bool) -> None:
    r = shifts.Roster(shifts=WEEKLY, closures=holidays.closures(days))
    assert shifts.on_shift(r, 1, at) is on


def test_an_override_still_puts_someone_on_shift_on_a_closed_day() -> None:
    cover = shifts.Override(staff_id=1, start=_seoul(MONDAY, 12), end=_seoul(MONDAY, 16),
                            on_shift=True, reason="cover")
    r = shifts.Roster(shifts=WEEKLY, overrides=(cover,), closures=holidays.closures(
        (holidays.Holiday(MONDAY, "closed", tz=SEOUL),)))
    assert not shifts.on_shift(r, 1, _seoul(MONDAY, 10))
    assert shifts.on_shift(r, 1, _seoul(MONDAY, 13))


@pytest.mark.parametrize("bad", [
    {"kind": "open"}, {"kind": "closed", "opens_minute": 60},
    {"kind": "reduced"}, {"kind": "reduced", "opens_minute": 600, "closes_minute": 500},
    {"kind": "closed", "label": "x" * 65}])
def test_holiday_checks(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        holidays.Holiday(MONDAY, **bad)


@pytest.fixture
async def capped_app(tmp_path: Path, database: Database, redis_server: RedisProcess
                     ) -> Any:
    cfg = make_config(tmp_path / "data", database.url, redis_server.url,
                      wellbeing={"critical_cases_cap": 1}, routing={"mode": "offer"})
    runner = AppRunner(cfg)
    await runner.start()
    yield runner
    await runner.stop()


async def test_a_counselor_at_her_cap_gets_no_critical_offer_and_the_lead_sees_why(
        capped_app: AppRunner) -> None:
    app = capped_app
    deps = deps_of(app)
    await hold_jobs(deps, "router")
    mina = await staff(app, "mina")
    lead = await staff(app, "lee", Role.LEAD)
    _v, first = await victim(app, "I want to die")
    assert await mina.take_next() == first
    assert (await mina.close(first, urgency="critical")).status == 200
    # A new critical case: not offered to her (at her cap); a normal one is.
    _v2, hot = await victim(app, "I want to die")
    _v3, plain = await victim(app, "hello, I would like some advice")
    report = await router.route_once(deps)
    assert report.offered == [(plain, mina.id)]
    assert await my_offers(mina) == [plain]

    view = await (await lead.client.get("/api/v1/wellbeing")).json()
    me = next(p for p in view["people"] if p["id"] == mina.id)
    assert me["critical_cases"] == 1 and me["critical_minutes"] >= 1
    assert me["caps_reached"] == ["critical_case"]
    assert me["minutes_since_break"] is not None and view["break_after_minutes"] == 120
    # The periodic pass keeps her there (the count is this shift's).
    await upkeep.once(deps)
    assert str(mina.id) in await deps.redis.smembers(deps.keys.exposure_capped)
    # A break is recorded when she takes one.
    assert (await mina.post("/api/v1/presence", {"status": "break"})).status == 200
    view = await (await lead.client.get("/api/v1/wellbeing")).json()
    assert next(p for p in view["people"] if p["id"] == mina.id)["minutes_since_break"] == 0
    # Counselors do not see the view.
    assert (await mina.client.get("/api/v1/wellbeing")).status == 404
    assert hot


async def test_a_hard_case_raises_a_debrief_flag_for_the_leads(app_runner: AppRunner) -> None:
    mina = await staff(app_runner, "mina")
    jun = await staff(app_runner, "jun")
    lead = await staff(app_runner, "lee", Role.LEAD)
    _v, cid = await victim(app_runner)
    assert await mina.take_next() == cid
    assert (await jun.post(f"/api/v1/cases/{cid}/hard")).status == 404  # not his case
    resp = await mina.post(f"/api/v1/cases/{cid}/hard")
    assert resp.status == 201
    flag = (await resp.json())["debrief"]
    view = await (await lead.client.get("/api/v1/wellbeing")).json()
    assert [(d["id"], d["counselor_id"], d["conversation_id"]) for d in view["debriefs"]] \
        == [(flag, mina.id, cid)]
    assert (await mina.post(f"/api/v1/debriefs/{flag}/clear")).status == 404
    assert (await lead.post(f"/api/v1/debriefs/{flag}/clear")).status == 200
    assert (await lead.post(f"/api/v1/debriefs/{flag}/clear")).status == 404
    assert (await (await lead.client.get("/api/v1/wellbeing")).json())["debriefs"] == []
    actions = [r.action for r in await audit_rows(app_runner.config.database_url)
               if r.action.startswith("debrief.")]
    assert actions == ["debrief.flagged", "debrief.cleared"]


async def test_holidays_set_by_admins_and_honoured_by_the_roster(app_runner: AppRunner
                                                                 ) -> None:
    deps = deps_of(app_runner)
    admin = await staff(app_runner, "root", Role.ADMIN)
    lead = await staff(app_runner, "lee", Role.LEAD)
    mina = await staff(app_runner, "mina", login=False)
    await roster.set_rostered(deps, mina.id, True, lead.id, confirm=True)
    await roster.add_shifts(deps, [roster.ShiftIn(mina.id, 0, time(9), time(18), SEOUL)],
                            lead.id)
    for body, field in (({"day": "2026-13-01", "kind": "closed"}, "day"),
                        ({"day": "2026-12-28", "kind": "shut"}, "kind"),
                        ({"day": "2026-12-28", "kind": "reduced"}, "opens"),
                        ({"day": "2026-12-28", "kind": "reduced", "opens": "25:00",
                          "closes": "14:00"}, "opens"),
                        ({"day": "2026-12-28", "kind": "closed", "label": 5}, "label")):
        resp = await admin.post("/api/v1/holidays", body)
        assert resp.status == 400 and (await resp.json())["field"] == field, body
    assert (await lead.post("/api/v1/holidays", {"day": "2026-12-28", "kind": "closed"})
            ).status == 404
    resp = await admin.post("/api/v1/holidays", {"day": MONDAY.isoformat(), "kind": "reduced",
                                                 "opens": "10:00", "closes": "14:00",
                                                 "label": "year end"})
    assert resp.status == 201, await resp.text()
    listed = (await (await lead.client.get("/api/v1/holidays")).json())["holidays"]
    assert listed == [{"day": "2026-12-28", "kind": "reduced", "opens": "10:00",
                       "closes": "14:00", "label": "year end", "tz": SEOUL}]
    async with deps.engine.connect() as conn:
        early = await roster_lists.who_is_on(conn, _seoul(MONDAY, 9, 30))
        midday = await roster_lists.who_is_on(conn, _seoul(MONDAY, 11))
    assert mina.id not in [p["id"] for p in early.on_shift if p["from"]]
    assert mina.id in [p["id"] for p in midday.on_shift if p["from"]]
    delete = await admin.client.delete(f"/api/v1/holidays/{MONDAY.isoformat()}",
                                       headers={"X-CSRF-Token": admin.csrf})
    assert delete.status == 200
    async with deps.engine.connect() as conn:
        early = await roster_lists.who_is_on(conn, _seoul(MONDAY, 9, 30))
    assert mina.id in [p["id"] for p in early.on_shift if p["from"]]
    actions = [r.action for r in await audit_rows(app_runner.config.database_url)
               if r.action.startswith("holiday.")]
    assert actions == ["holiday.set", "holiday.removed"]


async def test_each_shifts_exposure_is_read_for_everyone_at_once(app_runner: AppRunner
                                                                 ) -> None:
    """The upkeep pass and the lead's view count each person's exposure since their own shift
    began (on the roster with no shift now: the unscheduled hours), in statements whose
    number does not grow with the floor (they were two per person: 2,000 a minute for
    1,000 staff)."""
    deps = deps_of(app_runner)
    lead = await staff(app_runner, "lee", Role.LEAD)
    now = datetime.now(UTC)
    on = await staff(app_runner, "mina", login=False)
    await roster.set_rostered(deps, on.id, True, lead.id, confirm=True)
    await roster.add_override(deps, shifts.Override(
        staff_id=on.id, start=now - timedelta(hours=2), end=now + timedelta(hours=2),
        on_shift=True, reason="cover"), lead.id, confirm=True)
    off = [await staff(app_runner, f"c{i}", login=False) for i in range(3)]
    # On the roster with no shift now: the unscheduled hours count. Not on it (the rest):
    # always on shift, as the router sees them.
    await roster.set_rostered(deps, off[0].id, True, lead.id, confirm=True)
    events = [(on.id, 3, exposure.CRITICAL_CASE, 1),       # before her shift: not counted
              (on.id, 1, exposure.CRITICAL_CASE, 1),
              (on.id, 1, exposure.CRITICAL_MINUTES, 25),
              (off[0].id, 9, exposure.CRITICAL_CASE, 1),   # beyond the 8 unscheduled hours
              (off[0].id, 7, exposure.CRITICAL_CASE, 1),
              (off[0].id, 1, exposure.EVIDENCE_REVEALED, 2),
              (off[1].id, 1, exposure.CRITICAL_CASE, 1),
              (off[1].id, 0, exposure.CRITICAL_CASE, 1)]
    async with deps.engine.begin() as conn:
        for cid, hours_ago, kind, amount in events:
            await exposure_store.add_event(conn, counselor_id=cid, kind=kind, amount=amount,
                                           at=now - timedelta(hours=hours_ago, minutes=1),
                                           conversation_id=None)
    statements: list[str] = []

    def counted(_conn: Any, _cur: Any, sql: str, *_: Any) -> None:
        if "exposure_events" in sql:
            statements.append(sql)
    # Read on the reader (SQLite: its own engine, off the loop's thread).
    event.listen(deps.reads.sync_engine, "before_cursor_execute", counted)
    try:
        few = await staff_exposure.totals_of(deps, [on.id, off[0].id, off[1].id], now)
        n_few = len(statements)
        everyone = await staff_exposure.totals_of(
            deps, [on.id, *(p.id for p in off), lead.id], now)
        n_all = len(statements) - n_few
    finally:
        event.remove(deps.reads.sync_engine, "before_cursor_execute", counted)
    assert everyone == {on.id: Totals(1, 25, 0), off[0].id: Totals(1, 0, 2),
                        off[1].id: Totals(2, 0, 0), off[2].id: Totals(), lead.id: Totals()}
    assert few == {p: everyone[p] for p in (on.id, off[0].id, off[1].id)}
    # One read of the events per distinct shift start (here three), whoever shares it.
    assert n_few == n_all == 3
    # One person alone is read as before (her own roster only), with the same answer.
    assert await staff_exposure.totals(deps, on.id, now) == Totals(1, 25, 0)


async def test_the_lead_reads_the_wellbeing_list_a_page_at_a_time(capped_app: AppRunner
                                                                  ) -> None:
    """Issue 18: a floor of a thousand present came back whole (188 KB a minute for each
    lead page). Now a page: whoever needs a word first (a break due, at a cap), then the
    longest without a break; the floor's counts; every present person once over the pages;
    bad paging is a 400 naming the field."""
    app = capped_app
    deps = deps_of(app)
    lead = await staff(app, "lee", Role.LEAD)
    now = datetime.now(UTC)
    # (name, minutes on the floor since logging in, at a cap)
    plan = [("p0", 10, False), ("p1", 200, False), ("p2", 30, False), ("p3", 50, False),
            ("p4", 130, False), ("p5", 5, True), ("p6", 1, False)]
    people = {name: await staff(app, name, login=False) for name, _m, _c in plan}
    async with deps.engine.begin() as conn:
        for name, minutes, _c in plan:
            await conn.execute(update(counselors).where(counselors.c.id == people[name].id)
                               .values(last_login_at=now - timedelta(minutes=minutes, seconds=5)))
    for name, _m, capped in plan:
        await deps.live.heartbeat(people[name].id)
        if capped:  # one critical case closed: at the cap of 1
            await staff_exposure.record(deps, people[name].id, exposure.CRITICAL_CASE, 1, None)
    ours = {p.id: name for name, p in people.items()}

    async def read(query: str) -> Any:
        resp = await lead.client.get("/api/v1/wellbeing" + query)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    seen: list[dict[str, Any]] = []
    view = await read("?limit=3")
    first = view
    while True:
        assert len(view["people"]) <= 3
        seen.extend(view["people"])
        if view["next"] is None:
            break
        view = await read("?limit=3&after=" + view["next"])
    names = [ours[p["id"]] for p in seen if p["id"] in ours]
    assert names == ["p1", "p4", "p5", "p3", "p2", "p0", "p6"]
    assert len({p["id"] for p in seen}) == len(seen) == first["present"]
    assert (first["break_due"], first["capped"]) == (2, 1)
    by_name = {ours[p["id"]]: p for p in seen if p["id"] in ours}
    assert by_name["p5"]["caps_reached"] == ["critical_case"]
    assert by_name["p5"]["critical_cases"] == 1 and not by_name["p5"]["break_due"]
    assert by_name["p1"]["break_due"] and by_name["p1"]["minutes_since_break"] == 200
    assert by_name["p0"]["caps_reached"] == [] and not by_name["p0"]["break_due"]
    assert [n for n, p in by_name.items() if p["attention"]] == ["p1", "p4", "p5"]
    # The default page holds everyone here; debrief flags and the break rule come with each.
    whole = await read("")
    assert [p["id"] for p in whole["people"]] == [p["id"] for p in seen]
    assert whole["next"] is None and whole["break_after_minutes"] == 120
    for bad, field in (("?after=1.2", "after"), ("?after=2.0.1", "after"),
                       ("?after=0.1.2.3", "after"), ("?limit=0", "limit"),
                       ("?limit=201", "limit"), ("?after=0-1", "after")):
        resp = await lead.client.get("/api/v1/wellbeing" + bad)
        assert resp.status == 400, bad
        assert (await resp.json())["field"] == field
