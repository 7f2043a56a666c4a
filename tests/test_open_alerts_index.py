"""Migrations 0011 and 0025 (hand-written) on SQLite and PostgreSQL: the alerts table matches
hotline.stores.sql.tables exactly, each revision reverses, and the open alerts a console lists
are exactly the unacknowledged ones, read (on SQLite, the plan of open_alerts' own statement,
caught as it runs) through the partial index."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, inspect
from sqlalchemy.engine import Connection

from hotline.cases import alerts as alert_service
from hotline.cases.tables import alerts, conversations
from hotline.config import Config
from hotline.domain.staff import Role, Staff
from hotline.stores.sql.engine import migrate, open_engine
from tests.conftest import Database
from tests.helpers import down_then_up, migration_module, schema_diffs, sqlite_plan, statements_seen
from tests.service_deps import open_deps


@pytest.mark.parametrize(("filename", "revision", "index"), [
    ("0011_open_alerts_index.py", ("0011", "0010"), "ix_alerts_open"),
    ("0025_alerts_closed_index.py", ("0025", "0024"), "ix_alerts_acked")])
async def test_migration_matches_tables_and_reverses(database: Database, filename: str,
                                                     revision: tuple[str, str], index: str
                                                     ) -> None:
    rev = migration_module(filename)
    assert (rev.revision, rev.down_revision) == revision

    def has_index(sync: Connection) -> bool:
        return index in {ix["name"] for ix in inspect(sync).get_indexes("alerts")}

    engine = open_engine(database.url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, "alerts") == []
        async with engine.begin() as conn:
            assert await conn.run_sync(down_then_up, rev, has_index) == (False, True)
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, "alerts") == []
    finally:
        await engine.dispose()


async def test_open_alerts_are_read_through_the_index(config: Config) -> None:
    now = datetime.now(UTC)
    async with open_deps(config) as deps:
        async with deps.engine.begin() as conn:
            await conn.execute(insert(conversations).values(
                id="c" * 32, channel="webchat", pseudonym="p", language="ko",
                status="waiting", urgency="high", created_at=now, enqueued_at=now,
                last_activity_at=now))
            await conn.execute(insert(alerts), [
                {"conversation_id": "c" * 32, "kind": "takedown", "created_at": now,
                 "acked_at": now if i % 2 else None} for i in range(6)])
        lead = Staff(1, "lead", Role.LEAD, ("ko",))
        with statements_seen(deps.engine, "FROM alerts") as seen:
            found = await alert_service.open_alerts(deps, lead)
        assert [a.id for a in found] == [1, 3, 5]
        assert len(seen) == 1
        if deps.engine.dialect.name == "sqlite":
            steps = await sqlite_plan(deps.engine, *seen[0])
            assert "ix_alerts_open" in steps and "TEMP B-TREE" not in steps
