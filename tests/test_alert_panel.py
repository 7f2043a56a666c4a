"""The alerts panel, bounded (issue 18): a floor whose consoles all dropped at once raised a
lead alert for every open case (3,000 in a try-out at 10,000 waiting), and each console page
read and drew every one of them on each alert event (800 KB a read). Now the first `limit`
open alerts (the takedown desk's first, then the leads', oldest first), the counts of all
that are open by kind and reasons, and the last ones closed; each read through an index, on
SQLite and PostgreSQL (migration 0025: tests/test_open_alerts_index.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from hotline.cases import alerts as alert_service
from hotline.cases.tables import alerts, conversations
from hotline.config import Config
from hotline.domain.staff import Role, Staff
from tests.conftest import AppRunner
from tests.floor import deps_of, staff
from tests.helpers import sqlite_plan, statements_seen
from tests.service_deps import open_deps

LEAD = Staff(1, "lead", Role.LEAD, ("ko",))
DESK = Staff(2, "tari", Role.TAKEDOWN, ("ko",))
COUNSELOR = Staff(3, "mina", Role.COUNSELOR, ("ko",))


async def _seed(conn: Any, now: datetime) -> dict[str, list[int]]:
    """60 open lead alerts (a console lost), 3 open takedown alerts raised after them, 25
    closed a minute ago and 5 closed an hour ago; their ids by group."""
    await conn.execute(insert(conversations).values(
        id="c" * 32, channel="webchat", pseudonym="p", language="ko", status="waiting",
        urgency="high", created_at=now, enqueued_at=now, last_activity_at=now))
    groups: dict[str, list[int]] = {g: [] for g in (
        "lost", "spreading", "closed_now", "closed_long_ago")}
    plan = ([("lost", "lead", "presence_lost", None)] * 60
            + [("spreading", "takedown", "content_spreading,minor", None)] * 3
            + [("closed_now", "lead", "coverage_full", timedelta(minutes=1))] * 25
            + [("closed_long_ago", "lead", "coverage_full", timedelta(hours=1))] * 5)
    for at, (group, kind, reasons, ago) in enumerate(plan):
        alert_id = (await conn.execute(insert(alerts).values(
            conversation_id="c" * 32, kind=kind, reasons=reasons, created_at=now,
            acked_at=None if ago is None else now - ago + timedelta(seconds=at),
            acked_via=None if ago is None else "coverage_back").returning(alerts.c.id))
        ).scalar_one()
        groups[group].append(int(alert_id))
    return groups


async def test_the_panel_shows_the_first_open_alerts_and_counts_the_rest(config: Config
                                                                         ) -> None:
    now = datetime.now(UTC)
    async with open_deps(config) as deps:
        async with deps.engine.begin() as conn:
            ids = await _seed(conn, now)
        with statements_seen(deps.engine, "FROM alerts") as seen:
            lead = await alert_service.panel(deps, LEAD, 50, recent=timedelta(minutes=15))
        assert [a.id for a in lead.open] == ids["spreading"] + ids["lost"][:47]
        assert lead.total == 63
        assert lead.counts == [("lead", ("presence_lost",), 60),
                               ("takedown", ("content_spreading", "minor"), 3)]
        # The last 20 closed, newest first; none of an hour ago.
        assert [a.id for a in lead.closed] == ids["closed_now"][::-1][:20]
        desk = await alert_service.panel(deps, DESK, 2, recent=timedelta(minutes=15))
        assert [a.id for a in desk.open] == ids["spreading"][:2] and desk.total == 3
        assert desk.counts == [("takedown", ("content_spreading", "minor"), 3)]
        assert desk.closed == []
        assert await alert_service.panel(deps, COUNSELOR, 50, timedelta(minutes=15)) \
            == alert_service.Panel([], [], 0, [])
        if deps.engine.dialect.name == "sqlite":
            plans = [await sqlite_plan(deps.engine, *s) for s in seen]
            listing = [p for (sql, _), p in zip(seen, plans, strict=True)
                       if "count(" not in sql]
            assert len(listing) == 3  # takedown's open, leads' open, the closed
            assert all("ix_alerts_open" in p for p in listing[:2]), listing
            assert "ix_alerts_acked" in listing[2], listing
            assert not any("TEMP B-TREE" in p for p in listing), listing


async def test_the_api_pages_the_panel_and_names_a_bad_limit(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lee", Role.LEAD)
    async with deps_of(app_runner).engine.begin() as conn:
        ids = await _seed(conn, datetime.now(UTC))
    body = await (await lead.client.get("/api/v1/alerts?limit=5")).json()
    assert [a["id"] for a in body["alerts"]] \
        == ids["spreading"] + ids["lost"][:2] + ids["closed_now"][::-1][:20]
    assert body["open"] == 63
    assert body["counts"][0] == {"kind": "lead", "reasons": ["presence_lost"], "n": 60}
    default = await (await lead.client.get("/api/v1/alerts")).json()
    assert len([a for a in default["alerts"] if a["acked_at"] is None]) == 50
    for bad in ("0", "201", "x"):
        resp = await lead.client.get(f"/api/v1/alerts?limit={bad}")
        assert resp.status == 400 and (await resp.json())["field"] == "limit"
