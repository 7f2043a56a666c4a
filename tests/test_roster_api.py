"""The roster over the real app (SQLite and PostgreSQL): weekly shifts and dated overrides
decide who may take cases (reasons "shift" and "ending"), leads edit the roster through
/api/v1/roster (audited, 404 for everyone else as the policy answers, 400 naming the bad
field), GET /api/v1/roster answers who is on at a time, [[roster.shifts]] in the config seeds
the table once, and `hotline roster --json --at` prints the same view.

Pull mode throughout: "take next" is the probe of eligibility, and no background offer moves
a case while a test looks."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from hotline.cases.tables import shift_overrides, shifts
from hotline.config import Config
from hotline.domain.staff import Role
from hotline.stores.sql.engine import open_engine
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import (
    add_override,
    add_shift,
    audit,
    deps_of,
    hold_jobs,
    set_rostered,
    shift_body,
    staff,
    stream_events,
    take_next_status,
    utc_now,
    victim,
)
from tests.helpers import add_staff, row_counts

_VENV_SCRIPT = Path(sys.executable).parent / "hotline"
COMMAND = [str(_VENV_SCRIPT)] if _VENV_SCRIPT.exists() else [sys.executable, "-m", "hotline.cli"]
# A Monday, far from any real "now": fixed-time roster views never depend on the clock.
MONDAY_10_KST = "2030-01-07T10:00:00+09:00"


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull", "no_new_offers_minutes": 10})


@pytest.fixture
async def app_runner(app_runner: AppRunner) -> AppRunner:
    """The app with its shift-edge job stopped: roster edits reach routing through the edit
    itself only (see tests.floor.stop_task for the race this avoids)."""
    await hold_jobs(deps_of(app_runner), "shift-edges")
    return app_runner


async def _roster(who: Any, at: str | None = None) -> tuple[int, dict[str, Any]]:
    resp = await who.client.get("/api/v1/roster", params={"at": at} if at else None)
    body: dict[str, Any] = await resp.json()
    return resp.status, body


async def test_off_shift_counselor_cannot_take_until_a_cover_override(
        app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    now = utc_now()
    shift_ids = await add_shift(lead, mina.id, now + timedelta(hours=3),
                                now + timedelta(hours=4))
    assert len(shift_ids) == 1
    _v, cid = await victim(app_runner)

    code, body = await take_next_status(mina)
    assert code == 409 and body["reason"] == "shift"
    resp = await mina.post(f"/api/v1/cases/{cid}/take")
    assert resp.status == 409 and (await resp.json())["error"] == "shift"

    oid = await add_override(lead, mina.id, now - timedelta(minutes=10),
                             now + timedelta(hours=2), on_shift=True, reason="cover")
    code, body = await take_next_status(mina)
    assert code == 200 and body["conversation"] == cid

    added = await audit(app_runner, "roster.shift_added")
    assert [(a["actor_id"], a["target_kind"], a["target_id"]) for a in added] == [
        (lead.id, "counselor", str(mina.id))]
    assert added[0]["detail"]["shift"] == shift_ids[0]
    assert added[0]["detail"]["tz"] == "UTC"
    over = await audit(app_runner, "roster.override_added")
    assert [(a["actor_id"], a["target_id"]) for a in over] == [(lead.id, str(mina.id))]
    assert over[0]["detail"]["override"] == oid
    assert over[0]["detail"]["reason"] == "cover" and over[0]["detail"]["on_shift"] is True
    # Made to follow the roster, the shift, the override: one event each.
    assert [e["counselor"] for e in await stream_events(app_runner, "roster")] == [
        mina.id, mina.id, mina.id]


async def test_sick_override_beats_a_shift_and_removing_it_restores(
        app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    now = utc_now()
    await add_shift(lead, mina.id, now - timedelta(hours=1), now + timedelta(hours=3))
    _v1, first = await victim(app_runner, "first")
    _v2, second = await victim(app_runner, "second")
    assert await mina.take_next() == first

    oid = await add_override(lead, mina.id, now - timedelta(minutes=5),
                             now + timedelta(hours=1), on_shift=False, reason="sick")
    code, body = await take_next_status(mina)
    assert code == 409 and body["reason"] == "shift"
    # Her open case stays hers (the lead sees it; the shift edge decides what happens).
    assert (await mina.case(first))["counselor_id"] == mina.id
    status, on = await _roster(lead)
    assert status == 200 and mina.id not in [p["id"] for p in on["on_shift"]]

    resp = await lead.client.delete(f"/api/v1/roster/overrides/{oid}",
                                    headers={"X-CSRF-Token": lead.csrf})
    assert resp.status == 200 and await resp.json() == {"removed": oid}
    assert await mina.take_next() == second
    removed = await audit(app_runner, "roster.override_removed")
    assert [(a["actor_id"], a["target_id"], a["detail"]["override"]) for a in removed] == [
        (lead.id, str(mina.id), oid)]
    # Removing it again: 404.
    resp = await lead.client.delete(f"/api/v1/roster/overrides/{oid}",
                                    headers={"X-CSRF-Token": lead.csrf})
    assert resp.status == 404


async def test_no_new_cases_in_the_last_minutes_of_a_shift(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    now = utc_now()
    # Ends 4-5 minutes from now: inside routing.no_new_offers_minutes (10).
    [sid] = await add_shift(lead, mina.id, now - timedelta(hours=1), now + timedelta(minutes=5))
    _v, cid = await victim(app_runner)
    code, body = await take_next_status(mina)
    assert code == 409 and body["reason"] == "ending"
    # The router's atomic offer step refuses her for the same reason.
    deps = deps_of(app_runner)
    res = await deps.live.offer(cid, mina.id, int((now + timedelta(minutes=1)).timestamp() * 1000))
    assert not res.ok and res.reason == "ending"
    _status, on = await _roster(lead)
    assert [p["id"] for p in on["on_shift"] if p["id"] == mina.id] == [mina.id]

    # Removing the shift would end her shift now: asked to confirm; confirmed, she is off
    # shift (she still follows the roster), until she is set not to follow it.
    resp = await lead.client.delete(f"/api/v1/roster/shifts/{sid}",
                                    headers={"X-CSRF-Token": lead.csrf})
    assert resp.status == 409
    assert (await resp.json())["would_end"] == {"counselor_id": mina.id, "name": "mina",
                                                "held_cases": 0}
    resp = await lead.client.delete(f"/api/v1/roster/shifts/{sid}?confirm=true",
                                    headers={"X-CSRF-Token": lead.csrf})
    assert resp.status == 200
    code, body = await take_next_status(mina)
    assert code == 409 and body["reason"] == "shift"
    await set_rostered(lead, mina.id, False)
    assert await mina.take_next() == cid
    assert [(a["detail"]["shift"], a["detail"]["confirmed"])
            for a in await audit(app_runner, "roster.shift_removed")] == [(sid, True)]


async def test_roster_at_a_time_lists_who_is_on_and_the_next_edge(
        app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina", login=False)
    jun = await staff(app_runner, "jun", login=False)
    await set_rostered(lead, mina.id)
    await set_rostered(lead, jun.id)
    resp = await lead.post("/api/v1/roster/shifts", {
        "counselor_id": mina.id, "days": ["mon"], "start": "09:00", "end": "18:00"})
    assert resp.status == 201
    # No tz: the roster's zone (Asia/Seoul).
    resp = await lead.post("/api/v1/roster/shifts", {
        "counselor_id": jun.id, "days": ["weekends"], "start": "22:00", "end": "06:00",
        "tz": "Asia/Seoul"})
    assert resp.status == 201 and len((await resp.json())["shifts"]) == 2

    status, body = await _roster(lead, MONDAY_10_KST)
    assert status == 200
    assert body["at"] == MONDAY_10_KST
    by_id = {p["id"]: p for p in body["on_shift"]}
    assert by_id[mina.id] == {"id": mina.id, "name": "mina", "role": "counselor",
                              "languages": ["ko", "en"], "rostered": True,
                              "from": "2030-01-07T00:00:00+00:00",
                              "until": "2030-01-07T09:00:00+00:00"}
    assert jun.id not in by_id
    # The lead does not follow the roster: on shift, open-ended.
    assert not by_id[lead.id]["rostered"]
    assert by_id[lead.id]["from"] is None and by_id[lead.id]["until"] is None
    assert body["next_edge"] == "2030-01-07T09:00:00+00:00"

    # Saturday 23:00 KST: jun's overnight shift, until Sunday 06:00 KST.
    status, body = await _roster(lead, "2030-01-12T23:00:00+09:00")
    by_id = {p["id"]: p for p in body["on_shift"]}
    assert mina.id not in by_id
    assert by_id[jun.id]["until"] == "2030-01-12T21:00:00+00:00"
    assert body["next_edge"] == "2030-01-12T21:00:00+00:00"

    for bad in ("2030-01-07T10:00:00", "yesterday"):
        status, body = await _roster(lead, bad)
        assert status == 400 and body["error"].startswith("at:")


async def test_roster_edits_are_for_leads_only(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    tk = await staff(app_runner, "tk", role=Role.TAKEDOWN)
    now = utc_now()
    [sid] = await add_shift(lead, mina.id, now + timedelta(hours=1), now + timedelta(hours=2))
    oid = await add_override(lead, mina.id, now, now + timedelta(hours=1), True, "cover")
    before = await row_counts(app_runner.config)
    for who in (mina, tk):
        resp = await who.post("/api/v1/roster/shifts",
                              shift_body(who.id, now, now + timedelta(hours=8)))
        assert resp.status == 404
        resp = await who.post("/api/v1/roster/overrides", {
            "counselor_id": who.id, "start": now.isoformat(),
            "end": (now + timedelta(hours=8)).isoformat(), "on_shift": True, "reason": "cover"})
        assert resp.status == 404
        for path in (f"/api/v1/roster/shifts/{sid}", f"/api/v1/roster/overrides/{oid}"):
            resp = await who.client.delete(path, headers={"X-CSRF-Token": who.csrf})
            assert resp.status == 404
        # Reading the roster is fine.
        assert (await _roster(who))[0] == 200
    assert await row_counts(app_runner.config) == before


_GOOD_SHIFT: dict[str, Any] = {"days": ["mon"], "start": "09:00", "end": "18:00",
                               "tz": "Asia/Seoul"}
_GOOD_OVERRIDE: dict[str, Any] = {"start": "2030-01-07T09:00:00+09:00",
                                  "end": "2030-01-07T18:00:00+09:00",
                                  "on_shift": True, "reason": "cover"}

BAD_SHIFTS: list[tuple[str, dict[str, Any]]] = [
    ("days", {"days": ["funday"]}),
    ("days", {"days": []}),
    ("days", {"days": "mon"}),
    # Not strings: each was a 500 in domain/shifts.py.
    ("days", {"days": [1]}),
    ("days", {"days": [None]}),
    ("days", {"days": [[]]}),
    ("days", {"days": [{"mon": True}]}),
    ("days", {"days": ["mon", True]}),
    ("days", {"days": ["\u0000mon"]}),
    ("start", {"start": "25:00"}),
    ("start", {"start": "24:00"}),
    ("start", {"start": "9am"}),
    ("end", {"end": "18:60"}),
    ("tz", {"tz": "Mars/Olympus_Mons"}),
    ("counselor_id", {"counselor_id": "mina"}),
]
BAD_OVERRIDES: list[tuple[str, dict[str, Any]]] = [
    ("start", {"start": "2030-01-07T09:00:00"}),
    ("end", {"end": "2030-01-07T18:00:00"}),
    ("start", {"start": "next tuesday"}),
    ("end", {"end": "2030-01-07T08:00:00+09:00"}),
    ("reason", {"reason": "vacation"}),
    ("on_shift", {"on_shift": "yes"}),
    # The offset moves these out of datetime's range: a 400, not an OverflowError's 500.
    ("start", {"start": "0001-01-01T00:00:00+01:00"}),
    ("end", {"end": "9999-12-31T23:59:59-01:00"}),
    # In range in UTC, but the roster's weeks around them are not.
    ("start", {"start": "0001-01-01T00:00:00+00:00"}),
    ("end", {"end": "9999-12-31T23:59:59+00:00"}),
]


async def test_bad_roster_input_is_400_naming_the_field(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    before = await row_counts(app_runner.config)
    cases = [("shifts", f, {**_GOOD_SHIFT, **c}) for f, c in BAD_SHIFTS] + \
            [("overrides", f, {**_GOOD_OVERRIDE, **c}) for f, c in BAD_OVERRIDES]
    for kind, field, body in cases:
        resp = await lead.post(f"/api/v1/roster/{kind}", {"counselor_id": lead.id, **body})
        assert resp.status == 400, (kind, body, await resp.text())
        error = await resp.json()
        assert error["error"].startswith(f"{field}:"), (kind, body, error)
    # Unknown staff: a clear 400, not a foreign-key error from the database.
    for kind, good in (("shifts", _GOOD_SHIFT), ("overrides", _GOOD_OVERRIDE)):
        resp = await lead.post(f"/api/v1/roster/{kind}", {"counselor_id": 999_999, **good})
        assert resp.status == 400, (kind, await resp.text())
        assert (await resp.json())["error"].startswith("counselor_id:")
    for at in ("9999-12-31T23:59:59-01:00", "yesterday", "2030-01-07T09:00:00",
               # In range in UTC, but the roster's week around them is not (OverflowError).
               "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00",
               "0001-01-03T00:00:00+00:00", "9999-12-25T00:00:00+00:00"):
        resp = await lead.client.get("/api/v1/roster", params={"at": at})
        assert resp.status == 400 and (await resp.json())["error"].startswith("at:"), at
    assert await row_counts(app_runner.config) == before
    # Nothing changed (the lead's own login is audited, as every login is).
    assert [a for a in await audit(app_runner) if not a["action"].startswith("staff.login")] == []


def _cli_config(tmp_path: Path, database_url: str, redis_url: str) -> Path:
    p = tmp_path / "cli-config.toml"
    p.write_text(f'[storage]\ndata_dir = "{tmp_path / "cli-data"}"\n'
                 f'database_url = "{database_url}"\nredis_url = "{redis_url}"\n'
                 f'redis_prefix = "t{secrets.token_hex(5)}"\n')
    return p


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


async def _shift_rows(cfg: Config) -> list[dict[str, Any]]:
    engine = open_engine(cfg.database_url)
    try:
        async with engine.connect() as conn:
            return [dict(r._mapping) for r in
                    await conn.execute(select(shifts).order_by(shifts.c.id))]
    finally:
        await engine.dispose()


async def test_config_seeds_the_roster_once_and_the_cli_shows_it(
        tmp_path: Path, database: Database, redis_server: RedisProcess) -> None:
    cfg = make_config(tmp_path / "data", database.url, redis_server.url,
                      routing={"mode": "pull"},
                      roster={"timezone": "Asia/Seoul", "shifts": [
                          {"counselor": "mina", "days": ["mon", "tue"], "start": "09:00",
                           "end": "18:00"},
                          {"counselor": "jun", "days": ["sat"], "start": "22:00",
                           "end": "06:00", "tz": "UTC"},
                          {"counselor": "ghost", "days": ["daily"], "start": "00:00",
                           "end": "24:00"}]})
    assert [s.counselor for s in cfg.roster.shifts] == ["mina", "jun", "ghost"]
    # The counselors exist before the first start ("ghost" never does).
    mina_id = await add_staff(cfg, "mina")
    jun_id = await add_staff(cfg, "jun", languages=("en",))
    runner = AppRunner(cfg)
    await runner.start()
    try:
        rows = await _shift_rows(cfg)
        assert sorted((r["counselor_id"], r["weekday"], r["start_minute"], r["end_minute"],
                       r["tz"]) for r in rows) == [
            (mina_id, 0, 540, 1080, "Asia/Seoul"), (mina_id, 1, 540, 1080, "Asia/Seoul"),
            (jun_id, 5, 1320, 360, "UTC")]
        lead = await staff(runner, "lead", role=Role.LEAD)
        status, body = await _roster(lead, MONDAY_10_KST)
        assert status == 200
        on = {p["name"]: p for p in body["on_shift"]}
        assert on["mina"]["until"] == "2030-01-07T09:00:00+00:00" and "jun" not in on
    finally:
        await runner.stop()

    # A second start does not seed again: the table is the roster now.
    runner = AppRunner(cfg)
    await runner.start()
    try:
        assert len(await _shift_rows(cfg)) == 3
    finally:
        await runner.stop()

    cli_cfg = _cli_config(tmp_path, database.url, redis_server.url)
    r = _cli("roster", "--config", str(cli_cfg), "--json", "--at", MONDAY_10_KST)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["at"] == MONDAY_10_KST
    assert data["next_edge"] == "2030-01-07T09:00:00+00:00"
    on = {p["name"]: p for p in data["on_shift"]}
    assert on["mina"] == {"id": mina_id, "name": "mina", "role": "counselor",
                          "languages": ["ko", "en"], "rostered": True,
                          "from": "2030-01-07T00:00:00+00:00",
                          "until": "2030-01-07T09:00:00+00:00"}
    assert "jun" not in on
    assert on["lead"]["until"] is None  # not rostered: open-ended

    r = _cli("roster", "--config", str(cli_cfg), "--json", "--at", "2030-01-12T23:30:00+00:00")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    on = {p["name"]: p for p in data["on_shift"]}
    assert on["jun"]["until"] == "2030-01-13T06:00:00+00:00" and "mina" not in on

    for bad in ("2030-01-07T10:00", "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00"):
        r = _cli("roster", "--config", str(cli_cfg), "--at", bad)
        assert r.returncode == 2 and "--at" in r.stderr and "Traceback" not in r.stderr, bad


async def test_override_rows_are_stored_in_utc(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina", login=False)
    await add_override(lead, mina.id, datetime(2030, 1, 7, 9, tzinfo=UTC).astimezone(),
                       datetime(2030, 1, 7, 18, tzinfo=UTC), False, "holiday")
    async with deps_of(app_runner).engine.connect() as conn:
        [row] = list(await conn.execute(select(shift_overrides)))
    assert row.starts_at == datetime(2030, 1, 7, 9, tzinfo=UTC)
    assert row.ends_at == datetime(2030, 1, 7, 18, tzinfo=UTC)
    assert row.created_by == lead.id and row.reason == "holiday" and row.on_shift is False


async def test_the_seed_waits_for_its_counselors_then_never_refills_an_emptied_roster(
        tmp_path: Path, database: Database, redis_server: RedisProcess) -> None:
    cfg = make_config(tmp_path / "data", database.url, redis_server.url,
                      roster={"timezone": "Asia/Seoul", "shifts": [
                          {"counselor": "mina", "days": ["mon"], "start": "09:00",
                           "end": "18:00"}]})

    async def start_and_stop() -> None:
        runner = AppRunner(cfg)
        await runner.start()
        await runner.stop()

    # First start: "mina" does not exist yet, so nothing is seeded and the next start retries.
    await start_and_stop()
    assert await _shift_rows(cfg) == []
    await add_staff(cfg, "mina")
    await start_and_stop()
    [row] = await _shift_rows(cfg)
    # The leads empty the roster on purpose (the team works unscheduled now): it stays empty.
    engine = open_engine(cfg.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(shifts).where(shifts.c.id == row["id"]))
    finally:
        await engine.dispose()
    await start_and_stop()
    assert await _shift_rows(cfg) == []


async def test_leads_list_the_roster_entries_they_can_remove(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    await set_rostered(lead, mina.id)
    resp = await lead.post("/api/v1/roster/shifts", {"counselor_id": mina.id,
                                                     "days": ["mon", "wed"],
                                                     "start": "22:00", "end": "06:00"})
    assert resp.status == 201, await resp.text()
    now = datetime.now(UTC)
    # Confirmed: on a Monday or Wednesday night it ends the shift she is on (without it the
    # test failed then, 409 would_end_shift).
    over = {"counselor_id": mina.id, "start": (now - timedelta(hours=1)).isoformat(),
            "end": (now + timedelta(hours=5)).isoformat(), "on_shift": False,
            "reason": "sick", "confirm": True}
    resp = await lead.post("/api/v1/roster/overrides", over)
    assert resp.status == 201, await resp.text()
    past = {**over, "start": (now - timedelta(days=3)).isoformat(),
            "end": (now - timedelta(days=2)).isoformat()}
    assert (await lead.post("/api/v1/roster/overrides", past)).status == 201

    resp = await lead.client.get("/api/v1/roster/entries")
    assert resp.status == 200
    data = await resp.json()
    assert [(e["name"], e["day"], e["start"], e["end"]) for e in data["shifts"]] == [
        ("mina", "mon", "22:00", "06:00"), ("mina", "wed", "22:00", "06:00")]
    # Overrides already over are not listed.
    [o] = data["overrides"]
    assert (o["name"], o["on_shift"], o["reason"]) == ("mina", False, "sick")
    # Removal is by the listed id.
    sid = data["shifts"][0]["id"]
    resp = await lead.client.delete(f"/api/v1/roster/shifts/{sid}",
                                    headers={"X-CSRF-Token": lead.csrf})
    assert resp.status == 200
    data = await (await lead.client.get("/api/v1/roster/entries")).json()
    assert [e["day"] for e in data["shifts"]] == ["wed"]
    # Counselors may not read the roster's entries (the policy's 404).
    assert (await mina.client.get("/api/v1/roster/entries")).status == 404


async def test_one_profile_is_the_same_as_in_the_full_list(app_runner: AppRunner) -> None:
    """A login refreshes one counselor's routing profile from that person's roster rows only;
    it must be what the full resync computes for them."""
    from hotline.cases import staffing

    lead = await staff(app_runner, "lead", role=Role.LEAD)
    people = [await staff(app_runner, n, login=False) for n in ("mina", "jun", "ara")]
    for who, days, start, end in ((people[0], ["daily"], "09:00", "18:00"),
                                  (people[1], ["sat", "sun"], "22:00", "06:00")):
        await set_rostered(lead, who.id)
        resp = await lead.post("/api/v1/roster/shifts", {"counselor_id": who.id, "days": days,
                                                         "start": start, "end": end})
        assert resp.status == 201
    now = datetime.now(UTC)
    over = {"counselor_id": people[0].id, "start": now.isoformat(),
            "end": (now + timedelta(hours=30)).isoformat(), "on_shift": False,
            "reason": "holiday", "confirm": True}
    assert (await lead.post("/api/v1/roster/overrides", over)).status == 201
    deps = deps_of(app_runner)
    async with deps.engine.connect() as conn:
        every = {p.id: p for p in await staffing.profiles(conn, now)}
        for who in (*people, lead):
            assert await staffing.profiles(conn, now, only=who.id) == [every[who.id]]
