"""Every report table computed from tests/reports_fixture.py on SQLite and PostgreSQL, against
answers worked out by hand here; small-count suppression; the fold reading only what is new;
the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.audit.tables import audit_events
from hotline.cases.tables import intake_records
from hotline.cli import main
from hotline.config import Config
from hotline.reports import queries
from hotline.reports.figures import Period
from hotline.reports.service import Reports, to_csv, to_json
from hotline.reports.tables import report_marks
from hotline.stores.sql.engine import migrate, open_engine
from hotline.takedown.tables import (
    takedown_locations,
    takedown_requests,
    takedown_reuploads,
    takedown_steps,
)
from tests import reports_fixture as fx
from tests.conftest import Database, make_config

TZ = "Asia/Seoul"


@pytest.fixture
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    eng = open_engine(database.url)
    await migrate(eng)
    await fx.load(eng)
    yield eng
    await eng.dispose()


def _config(tmp_path: Path, database: Database, below: int = 1) -> Config:
    return make_config(tmp_path / "data", database.url, "redis://127.0.0.1:1/0",
                       reports={"suppress_below": below})


def _reports(engine: AsyncEngine, tmp_path: Path, database: Database, below: int = 1
             ) -> Reports:
    return Reports(engine, _config(tmp_path, database, below), clock=lambda: fx.NOW)


async def _json(r: Reports, name: str, **params: str) -> dict[str, Any]:
    return to_json(await r.build(r.parse(name, params)))


def _strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        assert row.pop("suppressed") == []
    return rows


async def test_takedown_platforms(engine: AsyncEngine, tmp_path: Path,
                                  database: Database) -> None:
    r = _reports(engine, tmp_path, database)
    got = _strip((await _json(r, "takedown-platforms", **{"from": "2026-03-01",
                                                          "to": "2026-03-31"}))["rows"])
    assert got == [
        # Requests 9 (sent 03-10) and 10: 9 removed after 2 h; 10 partially removed (a
        # decision, not a removal). Completion 1 of 2 decided.
        {"platform": "telegram", "requests": 2, "removed": 1, "verified": 0, "refused": 0,
         "unanswered": 0, "overdue": 0, "completion_rate": 0.5,
         "median_hours_to_removal": 2.0, "p90_hours_to_removal": 2.0, "within_24h": 1.0,
         "within_48h": 1.0},
        # Requests 1-6 and 8 (7 was sent in February). Removed: 1 (10 h), 2 (36 h), 5 (72 h).
        # Verified: 1. Refused: 3. Unanswered (no acknowledgement, no outcome): 4 and 8.
        # Overdue: 4 (marked) and 6 (acknowledged, due 03-09, still waiting at NOW); 8 is not
        # due yet. Decided or overdue: 1, 2, 3, 5 + 4, 6 = 6, so completion 3/6.
        # Median of 10, 36, 72 h is 36; p90 = 36 + 0.8 x (72 - 36) = 64.8.
        # Within 24 h: 1 of 3; within 48 h: 2 of 3.
        {"platform": "x", "requests": 7, "removed": 3, "verified": 1, "refused": 1,
         "unanswered": 2, "overdue": 2, "completion_rate": 0.5,
         "median_hours_to_removal": 36.0, "p90_hours_to_removal": 64.8, "within_24h": 0.3333,
         "within_48h": 0.6667},
    ]
    # Synthetic content only: items 1 (requests 1, 2) and ... request 9 is on item 1 too.
    got = _strip((await _json(r, "takedown-platforms", kind="synthetic",
                              **{"from": "2026-03-01", "to": "2026-03-31"}))["rows"])
    assert [(g["platform"], g["requests"], g["removed"]) for g in got] == [
        ("telegram", 1, 1), ("x", 2, 2)]
    # A range from 3 March (Seoul) leaves out requests 1 and 2 (sent 2 and 3 March 00:00 UTC
    # = 09:00 in Seoul: request 2 is in, 1 is not).
    got = _strip((await _json(r, "takedown-platforms", platform="x",
                              **{"from": "2026-03-03", "to": "2026-03-31"}))["rows"])
    assert [(g["platform"], g["requests"], g["removed"]) for g in got] == [("x", 6, 2)]


async def test_takedown_routes(engine: AsyncEngine, tmp_path: Path,
                               database: Database) -> None:
    r = _reports(engine, tmp_path, database)
    got = await _json(r, "takedown-routes", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert _strip(got["rows"]) == [
        {"route": "abuse_email", "legal_basis": "platform_policy", "requests": 2,
         "removed": 1, "refused": 0, "overdue": 0, "escalated": 0, "completion_rate": 0.5,
         "median_hours_to_removal": 2.0, "within_48h": 1.0},
        # 5 removed after 72 h; 6 overdue: 1 of 2 decided-or-overdue.
        {"route": "copyright", "legal_basis": "copyright", "requests": 2, "removed": 1,
         "refused": 0, "overdue": 1, "escalated": 0, "completion_rate": 0.5,
         "median_hours_to_removal": 72.0, "within_48h": 0.0},
        # 8: nothing decided, nothing overdue: no rate.
        {"route": "kcsc", "legal_basis": "kr_regulator", "requests": 1,
         "removed": 0, "refused": 0, "overdue": 0, "escalated": 0, "completion_rate": None,
         "median_hours_to_removal": None, "within_48h": None},
        # 1 (10 h), 2 (36 h) removed, 3 refused, 4 overdue and escalated: 2 of 4; median
        # of 10 and 36 is 23.
        {"route": "take_it_down", "legal_basis": "take_it_down_us", "requests": 4,
         "removed": 2, "refused": 1, "overdue": 1, "escalated": 1, "completion_rate": 0.5,
         "median_hours_to_removal": 23.0, "within_48h": 1.0},
    ]
    assert _strip(got["tables"]["by_rung"]) == [
        {"platform": "telegram", "rung": 0, "requests": 2, "removed": 1, "overdue": 0,
         "escalated": 0},
        {"platform": "x", "rung": 0, "requests": 6, "removed": 2, "overdue": 2,
         "escalated": 1},
        {"platform": "x", "rung": 1, "requests": 1, "removed": 1, "overdue": 0,
         "escalated": 0},
    ]


def _svc(**v: Any) -> dict[str, Any]:
    base = {"contacts": 0, "answered": 0, "abandoned": 0, "abandoned_queue": 0,
            "abandoned_ivr": 0, "abandoned_after_offer": 0,
            "average_speed_to_answer_seconds": None, "answered_within_60s": None,
            "average_handling_seconds": None}
    return {**base, **v}


async def test_service(engine: AsyncEngine, tmp_path: Path, database: Database) -> None:
    r = _reports(engine, tmp_path, database)
    got = await _json(r, "service", **{"from": "2026-03-01", "to": "2026-03-03"})
    web = _svc(day="2026-03-02", shift="09:00-18:00", channel="webchat", contacts=4,
               answered=2, abandoned=1, abandoned_queue=1,
               average_speed_to_answer_seconds=60.0, answered_within_60s=0.5,
               average_handling_seconds=900.0)
    sms = _svc(day="2026-03-02", shift="18:00-00:00", channel="sms", contacts=1,
               abandoned=1, abandoned_after_offer=1)
    # C5-C7, and two callers who chose a call-back (neither answered nor abandoned).
    voice = _svc(day="2026-03-03", shift="00:00-09:00", channel="voice", contacts=5,
                 answered=1, abandoned=2, abandoned_queue=1, abandoned_ivr=1,
                 average_speed_to_answer_seconds=60.0, answered_within_60s=1.0,
                 average_handling_seconds=900.0)
    assert _strip(got["rows"]) == [web, sms, voice]
    assert _strip(got["tables"]["by_day"]) == [
        # 2 March: C1-C4 and C9 (closed by a lead without an answer: "other").
        _svc(day="2026-03-02", contacts=5, answered=2, abandoned=2, abandoned_queue=1,
             abandoned_after_offer=1, average_speed_to_answer_seconds=60.0,
             answered_within_60s=0.5, average_handling_seconds=900.0),
        {**{k: v for k, v in voice.items() if k not in ("shift", "channel")}}]
    assert [(x["channel"], x["contacts"]) for x in got["tables"]["by_channel"]] == [
        ("sms", 1), ("voice", 5), ("webchat", 4)]
    assert [(x["shift"], x["contacts"]) for x in got["tables"]["by_shift"]] == [
        ("00:00-09:00", 5), ("09:00-18:00", 4), ("18:00-00:00", 1)]
    only = await _json(r, "service", channel="voice", **{"from": "2026-03-01",
                                                         "to": "2026-03-03"})
    assert _strip(only["rows"]) == [voice]


async def test_intake(engine: AsyncEngine, tmp_path: Path, database: Database) -> None:
    r = _reports(engine, tmp_path, database)
    got = await _json(r, "intake", **{"from": "2026-03-01", "to": "2026-04-30"})
    rows = [(x["month"], x["dimension"], x["value"], x["records"]) for x in got["rows"]]
    assert rows == [
        ("2026-03", "records", "all", 2),
        ("2026-03", "harm_type", "synthetic", 2),
        ("2026-03", "age_band", "14_17", 1), ("2026-03", "age_band", "18_24", 1),
        ("2026-03", "relation", "ex_partner", 1), ("2026-03", "relation", "online_only", 1),
        ("2026-03", "platform", "telegram", 2), ("2026-03", "platform", "x", 1),
        ("2026-03", "channel", "sms", 1), ("2026-03", "channel", "webchat", 1),
        ("2026-03", "referral", "police", 1), ("2026-03", "referral", "takedown", 2),
        ("2026-03", "outcome", "referred", 1), ("2026-03", "outcome", "takedown_requested", 1),
        ("2026-04", "records", "all", 2),
        ("2026-04", "harm_type", "distribution", 1), ("2026-04", "harm_type", "sextortion", 1),
        ("2026-04", "age_band", "18_24", 1), ("2026-04", "age_band", "25_34", 1),
        ("2026-04", "relation", "ex_partner", 1), ("2026-04", "relation", "stranger", 1),
        ("2026-04", "platform", "meta", 1),
        ("2026-04", "channel", "telegram", 1), ("2026-04", "channel", "webchat", 1),
        ("2026-04", "outcome", "counselled", 2),
    ]
    harm = await _json(r, "intake", dimension="harm_type",
                       **{"from": "2026-03-01", "to": "2026-04-30"})
    assert [(x["value"], x["records"]) for x in harm["tables"]["totals"]] == [
        ("synthetic", 2), ("distribution", 1), ("sextortion", 1)]


async def test_small_counts_suppressed(engine: AsyncEngine, tmp_path: Path,
                                       database: Database) -> None:
    r = _reports(engine, tmp_path, database, below=5)
    report = await r.build(r.parse("takedown-platforms",
                                   {"from": "2026-03-01", "to": "2026-03-31"}))
    x: dict[str, Any] = to_json(report)["rows"][1]  # type: ignore[index]
    # 7 requests stand; 3 removed, 1 verified, ... are hidden, and so is every share or
    # time made of them.
    assert x["requests"] == 7 and x["removed"] is None and x["completion_rate"] is None
    assert set(x["suppressed"]) == {
        "removed", "verified", "refused", "unanswered", "overdue", "completion_rate",
        "median_hours_to_removal", "p90_hours_to_removal", "within_24h", "within_48h"}
    text = to_csv(report.table(), 5)
    assert text.splitlines()[2].startswith("x,7,<5,<5,<5,<5,<5,<5,<5,<5,<5,<5")


async def test_fold_reads_only_new_rows(engine: AsyncEngine, tmp_path: Path,
                                        database: Database) -> None:
    r = _reports(engine, tmp_path, database)
    period = {"from": "2026-03-01", "to": "2026-04-30"}
    first = await _json(r, "intake", **period)
    async with engine.connect() as conn:
        marks = dict((await conn.execute(select(report_marks.c.name,
                                                report_marks.c.last_id))).all())
    assert marks["intake"] == len(fx.CONTACTS) - 1 + len(fx.INTAKE) + 1
    assert marks["takedown"] == sum(len(x[7]) for x in fx.REQUESTS)
    # Reading again changes nothing; a new record is folded once.
    assert await _json(r, "intake", **period) == first
    async with engine.begin() as conn:
        await conn.execute(insert(intake_records).values(
            conversation_id="late", pseudonym="p", channel="sms", language="ko",
            opened_at=fx.z(9, 3), closed_at=fx.z(9, 4), wait_seconds=1, handling_seconds=1,
            harm_type="grooming", platforms="", age_band="under_14", urgency="normal",
            referrals="", outcome="counselled", counselor_id=fx.STAFF + 1,
            relation="stranger"))
    again = await _json(r, "intake", dimension="records", **period)
    assert [(x["month"], x["records"]) for x in again["rows"]] == [("2026-03", 3),
                                                                   ("2026-04", 2)]


async def test_cli_prints_the_tables(engine: AsyncEngine, tmp_path: Path, database: Database,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n'
                        f'database_url = "{database.url}"\n'
                        f'[reports]\nsuppress_below = 1\n')
    # The CLI runs its own event loop: a worker thread keeps it off this test's.
    run = asyncio.to_thread
    code = await run(main, ["--config", str(cfg_path), "report", "takedown-platforms",
                            "--from", "2026-03-01", "--to", "2026-03-31", "--csv"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0].startswith("platform,requests,removed,verified")
    # Run at the real time (December 2026), request 8 is past its due time too: overdue 3,
    # completion 3 of 7.
    assert "x,7,3,1,1,2,3,0.4286,36.0,64.8,0.3333,0.6667" in out
    async with engine.connect() as conn:
        audited = (await conn.execute(select(audit_events.c.action, audit_events.c.target_id)
                                      .where(audit_events.c.action == "report.exported"))
                   ).all()
    assert [tuple(a) for a in audited] == [("report.exported", "takedown-platforms")]
    code = await run(main, ["--config", str(cfg_path), "report", "service", "--from",
                            "2026-03-01", "--to", "2026-03-03"])
    out = capsys.readouterr().out
    assert code == 0 and out.splitlines()[0].split()[:3] == ["day", "shift", "channel"]
    code = await run(main, ["--config", str(cfg_path), "report", "intake", "--from",
                            "2026-03-01", "--to", "2026-02-01", "--json"])
    assert code == 2 and "--to: must not be before from" in capsys.readouterr().err
    code = await run(main, ["--config", str(cfg_path), "report", "nope", "--from",
                            "2026-03-01", "--to", "2026-03-02"])
    assert code == 2 and "NAME: expected one of" in capsys.readouterr().err
    code = await run(main, ["--config", str(cfg_path), "report", "service", "--from",
                            "2026-3-1", "--to", "2026-03-02"])
    assert code == 2 and "--from: expected a date" in capsys.readouterr().err


def test_period_in_seoul() -> None:
    p = Period(fx.z(1).date(), fx.z(31).date(), TZ)
    assert p.utc_start.isoformat() == "2026-02-28T15:00:00+00:00"
    assert p.utc_end.isoformat() == "2026-03-31T15:00:00+00:00"


async def test_monthly_rollups_agree_with_the_facts_and_follow_later_steps(
        engine: AsyncEngine, tmp_path: Path, database: Database) -> None:
    """Whole months are answered from the rollups, other ranges from the facts: the same
    figures. A step recorded later (request 8 removed after 80 h, 10 removed after 6 h) moves
    its request's counts and hour bucket."""
    r = _reports(engine, tmp_path, database)
    q = r.parse("takedown-routes", {"from": "2026-03-01", "to": "2026-03-31"})
    await r.refresh()

    async def both(keys: tuple[str, ...], period: Period = q.period) -> tuple[Any, Any]:
        async with engine.connect() as conn:
            fast = await queries.takedown_groups(conn, period, fx.NOW, keys)
            slow = await queries._scan_groups(conn, period, fx.NOW, keys)
        return fast, slow

    # Whole months; a month and the days before it (request 7, sent 20 February); days and
    # a whole month after them.
    for start, end in (("2026-03-01", "2026-03-31"), ("2026-02-15", "2026-03-31"),
                       ("2026-03-05", "2026-04-30"), ("2026-02-01", "2026-03-09")):
        period = Period(date.fromisoformat(start), date.fromisoformat(end), TZ)
        for keys in (("platform",), ("route", "legal_basis"), ("platform", "rung")):
            fast, slow = await both(keys, period)
            if keys == ("platform", "rung"):  # no percentiles in that table
                slow = [(k, replace(c, median_seconds=None, p90_seconds=None))
                        for k, c in slow]
            assert fast == slow, (start, end, keys)
    async with engine.begin() as conn:
        await conn.execute(insert(takedown_steps), [
            {"request_id": 8, "step": "removed", "at": fx.z(2, 8, 4),
             "recorded_at": fx.z(2, 8, 4)},
            {"request_id": 10, "step": "removed", "at": fx.z(11, 6),
             "recorded_at": fx.z(11, 7)}])
        await conn.execute(update(takedown_requests).where(takedown_requests.c.id.in_((8, 10)))
                           .values(state="removed"))
    await r.refresh()
    fast, slow = await both(("platform",))
    assert fast == slow
    x = dict(fast)[("x",)]
    assert (x.removed, x.median_seconds) == (4, 54 * 3600.0)  # 10, 36, 72, 80 h
    tg = dict(fast)[("telegram",)]
    assert (tg.removed, tg.within_24h, tg.median_seconds) == (2, 2, 4 * 3600.0)


async def test_reuploads_per_item_and_per_cluster(engine: AsyncEngine, tmp_path: Path,
                                                  database: Database) -> None:
    """Re-uploads found in the range, per item and per cluster (by found_at): item 1 three
    times (twice in one Telegram channel's cluster, once through evidence, no cluster), item 2
    once in the same channel; one more of item 2 falls outside the range."""
    async with engine.begin() as conn:
        await conn.execute(insert(takedown_locations), [
            {"id": 1, "item_id": 1, "url": "https://t.me/nightowls/5", "platform": "telegram",
             "host": "t.me", "first_seen_at": fx.z(2), "cluster_key": "tg:nightowls"},
            {"id": 2, "item_id": 2, "url": "https://t.me/nightowls/9", "platform": "telegram",
             "host": "t.me", "first_seen_at": fx.z(2), "cluster_key": "tg:nightowls"},
            {"id": 3, "item_id": 2, "url": "https://x.com/a/status/1", "platform": "x",
             "host": "x.com", "first_seen_at": fx.z(2), "cluster_key": "x:a"}])
        await conn.execute(insert(takedown_reuploads), [
            {"item_id": 1, "location_id": 1, "cluster_key": "tg:nightowls", "via": "recheck",
             "found_at": fx.z(5)},
            {"item_id": 1, "location_id": 1, "cluster_key": "tg:nightowls", "via": "recheck",
             "found_at": fx.z(9)},
            {"item_id": 1, "location_id": None, "cluster_key": None, "via": "evidence",
             "found_at": fx.z(10)},
            {"item_id": 2, "location_id": 2, "cluster_key": "tg:nightowls", "via": "recheck",
             "found_at": fx.z(12)},
            {"item_id": 2, "location_id": 3, "cluster_key": "x:a", "via": "recheck",
             "found_at": fx.z(2, month=4)}])
    r = _reports(engine, tmp_path, database)
    got = await _json(r, "takedown-routes", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert _strip(got["tables"]["reuploads_by_item"]) == [
        {"item": 1, "reuploads": 3}, {"item": 2, "reuploads": 1}]
    assert _strip(got["tables"]["reuploads_by_cluster"]) == [
        {"cluster": "tg:nightowls", "reuploads": 3, "items": 2}]
    # On one platform: only those found at a location there (not through evidence).
    tg = await _json(r, "takedown-routes", platform="telegram",
                     **{"from": "2026-03-01", "to": "2026-03-31"})
    assert _strip(tg["tables"]["reuploads_by_item"]) == [
        {"item": 1, "reuploads": 2}, {"item": 2, "reuploads": 1}]
    # Exported, the small counts are hidden like every other count.
    hidden = await _json(_reports(engine, tmp_path, database, below=5), "takedown-routes",
                         **{"from": "2026-03-01", "to": "2026-03-31"})
    assert hidden["tables"]["reuploads_by_cluster"][0]["reuploads"] is None
