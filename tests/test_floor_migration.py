"""Migration 0016 (hand-written) on SQLite and PostgreSQL: counselors.rostered (true for people
who already had roster rows, so their shifts keep applying), conversations.abandon_at with its
partial index, conversations.signals_withdrawn and case_signals match hotline.stores.sql.tables
exactly, and the revision reverses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from hotline.stores.sql.engine import migrate, open_engine
from tests.conftest import Database
from tests.helpers import down_then_up, migration_module, schema_diffs, upgrade_to

# Each test migrates from nothing to an older revision before the one it checks.
pytestmark = pytest.mark.empty_database


def _shape(sync: Connection) -> tuple[bool, bool, bool]:
    i = inspect(sync)
    return ("rostered" in {c["name"] for c in i.get_columns("counselors")},
            "abandon_at" in {c["name"] for c in i.get_columns("conversations")},
            "case_signals" in i.get_table_names())


async def test_migration_keeps_rostered_people_matches_tables_and_reverses(
        database: Database) -> None:
    rev = migration_module("0016_floor.py")
    assert rev.revision == "0016"
    engine = open_engine(database.url)
    at = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, rev.down_revision)
            for i, name in enumerate(("mina", "jun", "ara"), start=1):
                await conn.execute(text(
                    "INSERT INTO counselors (id, name, role, languages, password_hash, active,"
                    " created_at) VALUES (:i, :n, 'counselor', 'ko', '-', true, :at)"),
                    {"i": i, "n": name, "at": at})
            await conn.execute(text(
                "INSERT INTO shifts (counselor_id, weekday, start_minute, end_minute, tz,"
                " created_at) VALUES (1, 0, 540, 1080, 'UTC', :at)"), {"at": at})
            await conn.execute(text(
                "INSERT INTO shift_overrides (counselor_id, starts_at, ends_at, on_shift,"
                " reason, created_at) VALUES (2, :at, :at, false, 'sick', :at)"), {"at": at})
        await migrate(engine)
        async with engine.connect() as conn:
            rostered = {r[0]: bool(r[1]) for r in await conn.execute(text(
                "SELECT name, rostered FROM counselors ORDER BY id"))}
            assert rostered == {
                "mina": True, "jun": True, "ara": False}
            assert await conn.run_sync(schema_diffs, "counselors", "conversations",
                                       "case_signals") == []
            index = [ix for ix in await conn.run_sync(
                lambda s: inspect(s).get_indexes("conversations"))
                if ix["name"] == "ix_conversations_abandon_at"]
            assert len(index) == 1
        async with engine.begin() as conn:
            assert await conn.run_sync(down_then_up, rev, _shape) == (
                (False, False, False), (True, True, True))
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, "counselors", "conversations",
                                       "case_signals") == []
            assert (await conn.execute(select(text("count(*)")).select_from(
                text("counselors")))).scalar_one() == 3
    finally:
        await engine.dispose()
