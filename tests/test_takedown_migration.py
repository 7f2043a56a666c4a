"""Migration 0015 (hand-written) on SQLite and PostgreSQL: the takedown tables match
hotline.takedown.tables exactly, and the revision reverses."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from hotline.schema import metadata
from hotline.stores.sql.engine import migrate, open_engine
from hotline.takedown import tables as _tables  # noqa: F401  (registers them)
from tests.conftest import Database
from tests.helpers import down_then_up, migration_module, schema_diffs

NAMES = tuple(t for t in metadata.tables if t.startswith("takedown_"))


def _has_tables(sync: Connection) -> bool:
    present = set(inspect(sync).get_table_names())
    return all(n in present for n in NAMES)


async def test_migration_matches_tables_and_reverses(database: Database) -> None:
    rev = migration_module("0015_takedown.py")
    assert rev.revision == "0015"
    assert len(NAMES) == 7
    engine = open_engine(database.url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, *NAMES) == []
        async with engine.begin() as conn:
            assert await conn.run_sync(down_then_up, rev, _has_tables) == (False, True)
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, *NAMES) == []
    finally:
        await engine.dispose()
