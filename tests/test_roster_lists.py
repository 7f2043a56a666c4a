"""The roster's lists a page at a time over the real app (SQLite and PostgreSQL): the person
lookup behind the Roster page's pickers (GET /api/v1/roster/people: part of a name in any case
or language, or an exact #id; active staff only; bounded), and who is on shift, the weekly
shifts, the overrides and the people, each filtered by `q`, with `total` and a `next` cursor
that walks every row once. Bad parameters answer 400 naming the field; counselors get 404
(the policy's answer) for everything but who is on shift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from hotline.cases.tables import shift_overrides, shifts
from hotline.config import Config
from hotline.domain.staff import Role
from hotline.staff.tables import counselors
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import deps_of, hold_jobs, staff


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"})


@pytest.fixture
async def app_runner(app_runner: AppRunner) -> AppRunner:
    await hold_jobs(deps_of(app_runner), "shift-edges")
    return app_runner


async def _seed(runner: AppRunner, names: list[str], rostered: int = 0) -> dict[str, int]:
    """Accounts straight into SQL (no password work); the first `rostered` follow the roster.
    Their ids by name."""
    now = datetime.now(UTC)
    async with deps_of(runner).engine.begin() as conn:
        await conn.execute(insert(counselors), [
            {"name": n, "role": "counselor", "languages": "ko", "password_hash": "x",
             "created_at": now, "max_chats": 3, "rostered": i < rostered}
            for i, n in enumerate(names)])
        rows = await conn.execute(select(counselors.c.id, counselors.c.name).where(
            counselors.c.name.in_(names)))
        return {str(r.name): int(r.id) for r in rows}


async def _get(who: Any, path: str, **params: Any) -> tuple[int, dict[str, Any]]:
    resp = await who.client.get(path, params={k: str(v) for k, v in params.items()})
    body: dict[str, Any] = await resp.json()
    return resp.status, body


async def _walk(who: Any, path: str, key: str, limit: int, **params: Any
                ) -> tuple[list[dict[str, Any]], set[int]]:
    """Every row of a list, page by page through `next`; the totals each page gave."""
    rows: list[dict[str, Any]] = []
    totals: set[int] = set()
    after: str | None = None
    while True:
        extra = {"after": after} if after is not None else {}
        status, body = await _get(who, path, limit=limit, **params, **extra)
        assert status == 200, body
        assert len(body[key]) <= limit
        rows += body[key]
        totals.add(body["total"])
        after = body["next"]
        if after is None:
            return rows, totals


async def test_people_are_found_by_part_of_a_name_or_their_number(
        app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    ids = await _seed(app_runner, ["김민지", "박민지", "이서연", "Mina", "MINAH", "50%_off"],
                      rostered=1)
    async with deps_of(app_runner).engine.begin() as conn:
        await conn.execute(update(counselors).where(counselors.c.id == ids["MINAH"])
                           .values(active=False))

    status, body = await _get(lead, "/api/v1/roster/people", q="민지")
    assert status == 200
    assert body == {"people": [
        {"id": ids["김민지"], "name": "김민지", "role": "counselor", "rostered": True},
        {"id": ids["박민지"], "name": "박민지", "role": "counselor", "rostered": False}],
        "total": 2, "next": None}
    # Any case; a deactivated account is not offered.
    assert [p["name"] for p in (await _get(lead, "/api/v1/roster/people", q="mIN"))[1][
        "people"]] == ["Mina"]
    # An exact number, with or without "#"; a number is also looked for in names.
    for q in (f"#{ids['이서연']}", str(ids["이서연"])):
        assert ids["이서연"] in [p["id"] for p in (await _get(
            lead, "/api/v1/roster/people", q=q))[1]["people"]]
    # "%" and "_" are letters here, not LIKE patterns.
    for q, found in (("%", ["50%_off"]), ("_", ["50%_off"]), ("%민", []), ("민_", [])):
        assert [p["name"] for p in (await _get(
            lead, "/api/v1/roster/people", q=q))[1]["people"]] == found, q
    # Bounded, with how many match and the cursor of the rest.
    status, body = await _get(lead, "/api/v1/roster/people", q="민지", limit=1)
    assert (len(body["people"]), body["total"]) == (1, 2) and body["next"] is not None
    status, rest = await _get(lead, "/api/v1/roster/people", q="민지", limit=1,
                              after=body["next"])
    assert [p["name"] for p in body["people"] + rest["people"]] == ["김민지", "박민지"]
    assert rest["next"] is None
    # Nobody: an empty page, not an error.
    assert await _get(lead, "/api/v1/roster/people", q="없는사람") == (
        200, {"people": [], "total": 0, "next": None})


async def test_each_list_is_paged_with_its_total_and_walks_every_row_once(
        app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    names = [f"상담{i:03d}" for i in range(130)]
    ids = await _seed(app_runner, names, rostered=70)
    now = datetime.now(UTC)
    # An hour starting three hours from now: nobody who follows the roster is on shift now.
    start = (now.hour + 3) % 24 * 60
    async with deps_of(app_runner).engine.begin() as conn:
        # Two shifts each for the 70 who follow the roster (some on the same day and start),
        # overrides for 60 of them: 20 already over, so not listed.
        await conn.execute(insert(shifts), [
            {"counselor_id": ids[n], "weekday": (i + d) % 7, "start_minute": start,
             "end_minute": (start + 60) % 1440, "tz": "UTC", "created_at": now}
            for i, n in enumerate(names[:70]) for d in (0, 0 if i % 2 else 3)])
        await conn.execute(insert(shift_overrides), [
            {"counselor_id": ids[n], "starts_at": now + timedelta(hours=i % 5 - 30),
             "ends_at": now + timedelta(hours=i % 5 + 1 if i >= 20 else -1),
             "on_shift": False, "reason": "holiday", "created_by": lead.id,
             "created_at": now} for i, n in enumerate(names[:60])])

    status, first = await _get(lead, "/api/v1/roster/entries")
    assert status == 200
    assert (len(first["shifts"]), first["shifts_total"]) == (50, 140)
    assert (len(first["overrides"]), first["overrides_total"]) == (40, 40)
    assert first["overrides_next"] is None
    assert (len(first["people"]), first["people_total"]) == (50, 131)
    for key in ("shifts", "people"):
        assert first[f"{key}_next"] is not None

    walked, totals = await _walk(lead, "/api/v1/roster/shifts", "shifts", 17)
    assert totals == {140} and len({s["id"] for s in walked}) == 140 == len(walked)
    assert walked[:50] == first["shifts"]
    assert [(s["counselor_id"], s["day"]) for s in walked] == sorted(
        ((s["counselor_id"], s["day"]) for s in walked),
        key=lambda cd: (cd[0], ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].index(cd[1])))
    walked, totals = await _walk(lead, "/api/v1/roster/overrides", "overrides", 7)
    assert totals == {40} and len({o["id"] for o in walked}) == 40 == len(walked)
    assert [o["start"] for o in walked] == sorted(o["start"] for o in walked)
    walked, totals = await _walk(lead, "/api/v1/roster/people", "people", 100)
    assert totals == {131} and [p["name"] for p in walked] == sorted(["lead", *names])
    # On shift now: the 60 who do not follow the roster, and the lead.
    walked, totals = await _walk(lead, "/api/v1/roster", "on_shift", 25)
    assert totals == {61}
    assert [p["name"] for p in walked] == sorted(["lead", *names[70:]])

    # One name filters every list; a number finds its person.
    status, one = await _get(lead, "/api/v1/roster/entries", q="상담00")
    assert {e["name"] for e in one["shifts"] + one["overrides"] + one["people"]} == {
        f"상담00{i}" for i in range(10)}
    assert (one["shifts_total"], one["overrides_total"], one["people_total"]) == (20, 0, 10)
    status, body = await _get(lead, "/api/v1/roster", q="상담12")
    assert [p["name"] for p in body["on_shift"]] == [f"상담12{i}" for i in range(10)]
    assert body["total"] == 10 and body["next"] is None
    status, body = await _get(lead, "/api/v1/roster/shifts", q=f"#{ids['상담003']}")
    assert {s["name"] for s in body["shifts"]} == {"상담003"} and body["total"] == 2


BAD: list[tuple[str, dict[str, str], str]] = [
    *[(path, {"limit": v}, "limit") for path in (
        "/api/v1/roster", "/api/v1/roster/entries", "/api/v1/roster/shifts",
        "/api/v1/roster/overrides", "/api/v1/roster/people")
      for v in ("abc", "0", "-1", "201", "1.5", "²")],
    ("/api/v1/roster/people", {"limit": "101"}, "limit"),
    *[(path, {"q": q}, "q") for path in (
        "/api/v1/roster", "/api/v1/roster/entries", "/api/v1/roster/shifts",
        "/api/v1/roster/overrides", "/api/v1/roster/people")
      for q in ("가" * 65, "mi\x00na", "mi\nna")],
    *[(path, {"after": a}, "after") for path in (
        "/api/v1/roster", "/api/v1/roster/shifts", "/api/v1/roster/overrides",
        "/api/v1/roster/people")
      for a in ("", "x", "1.2.3.4.5", "-1", "9" * 101, "가")],
    # Cursors of the right shape that cannot be ours.
    ("/api/v1/roster/people", {"after": "999999999"}, "after"),
    ("/api/v1/roster", {"after": "999999999"}, "after"),
    ("/api/v1/roster/people", {"after": "2147483648"}, "after"),
    ("/api/v1/roster/shifts", {"after": "1.2.3"}, "after"),
    ("/api/v1/roster/shifts", {"after": "1.2.3.9999999999"}, "after"),
    ("/api/v1/roster/overrides", {"after": "999999999999999999.1"}, "after"),
    ("/api/v1/roster/overrides", {"after": "1.2147483648"}, "after"),
    ("/api/v1/roster/overrides", {"after": "1"}, "after"),
]


async def test_bad_list_parameters_are_400_naming_the_field(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    for path, params, field in BAD:
        resp = await lead.client.get(path, params=params)
        assert resp.status == 400, (path, params, await resp.text())
        body = await resp.json()
        assert body["field"] == field and body["error"].startswith(f"{field}:"), (path, body)


async def test_counselors_cannot_look_people_up_or_list_entries(app_runner: AppRunner) -> None:
    mina = await staff(app_runner, "mina")
    tk = await staff(app_runner, "tk", role=Role.TAKEDOWN)
    admin = await staff(app_runner, "root", role=Role.ADMIN)
    for who in (mina, tk):
        for path in ("/api/v1/roster/people", "/api/v1/roster/shifts",
                     "/api/v1/roster/overrides", "/api/v1/roster/entries"):
            resp = await who.client.get(path, params={"q": "mi"})
            assert resp.status == 404, (who.name, path)
        # Who is on shift stays readable, a page at a time.
        status, body = await _get(who, "/api/v1/roster", q="mi", limit=1)
        assert status == 200 and body["total"] == 1
        assert [p["name"] for p in body["on_shift"]] == ["mina"]
    status, body = await _get(admin, "/api/v1/roster/people", q="tk")
    assert status == 200 and [p["name"] for p in body["people"]] == ["tk"]
