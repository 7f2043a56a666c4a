"""Migration 0019 (hand-written) on SQLite and PostgreSQL: the new columns and tables match
hotline.stores.sql.tables exactly, and the revision reverses."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from hotline.stores.sql.engine import migrate, open_engine
from tests.conftest import Database
from tests.helpers import down_then_up, migration_module, schema_diffs

_TOUCHED = ("case_requests", "referrals_made", "return_of", "referred_to", "'locks'",
            "hide_platforms")


def _look(sync: Connection) -> tuple[bool, bool, bool]:
    insp = inspect(sync)
    conv_cols = {c["name"] for c in insp.get_columns("conversations")}
    record_cols = {c["name"] for c in insp.get_columns("intake_records")}
    return ("case_requests" in insp.get_table_names(), "return_of" in conv_cols,
            "referred_to" in record_cols)


async def test_migration_matches_tables_and_reverses(database: Database) -> None:
    rev = migration_module("0019_victim_way_back.py")
    assert rev.revision == "0019"
    engine = open_engine(database.url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, *_TOUCHED) == []
        async with engine.begin() as conn:
            assert await conn.run_sync(down_then_up, rev, _look) == (
                (False, False, False), (True, True, True))
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, *_TOUCHED) == []
    finally:
        await engine.dispose()
