"""Migration 0005 (hand-written) on SQLite and PostgreSQL: after `migrate()` the twilio tables
match hotline.stores.sql.tables exactly, and the revision's downgrade and upgrade both run."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from hotline.stores.sql.engine import migrate, open_engine
from tests.conftest import Database
from tests.helpers import down_then_up, migration_module, schema_diffs

TABLES = {"counselor_phones", "sms_optouts", "sms_intake", "sms_parts", "voice_calls",
          "callbacks"}


def _revision() -> Any:
    return migration_module("0005_twilio.py")


def _diffs(sync: Connection) -> list[Any]:
    return schema_diffs(sync, *TABLES)


async def test_migration_matches_tables_and_reverses(database: Database) -> None:
    rev = _revision()
    assert (rev.revision, rev.down_revision) == ("0005", "0003")
    engine = open_engine(database.url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            assert TABLES <= names
            assert await conn.run_sync(_diffs) == []

        def ours(sync: Connection) -> set[str]:
            return TABLES & set(inspect(sync).get_table_names())

        async with engine.begin() as conn:
            assert (await conn.run_sync(down_then_up, rev, ours))[0] == set()
        async with engine.connect() as conn:
            assert await conn.run_sync(_diffs) == []
        # Running the migrations again is a no-op.
        await migrate(engine)
    finally:
        await engine.dispose()
