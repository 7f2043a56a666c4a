"""Migration 0013 (hand-written) on SQLite and PostgreSQL: the bans table matches
hotline.stores.sql.tables exactly, and the revision reverses."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from hotline.stores.sql.engine import migrate, open_engine
from tests.conftest import Database
from tests.helpers import down_then_up, migration_module, schema_diffs


def _has_table(sync: Connection) -> bool:
    return "bans" in inspect(sync).get_table_names()


async def test_migration_matches_tables_and_reverses(database: Database) -> None:
    rev = migration_module("0013_bans.py")
    assert (rev.revision, rev.down_revision) == ("0013", "0012")
    engine = open_engine(database.url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, "bans") == []
        async with engine.begin() as conn:
            assert await conn.run_sync(down_then_up, rev, _has_table) == (False, True)
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, "bans") == []
    finally:
        await engine.dispose()
