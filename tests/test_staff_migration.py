"""Migration 0017 (hand-written) on SQLite and PostgreSQL: its tables and columns match
hotline.stores.sql.tables exactly, and the revision reverses."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from hotline.stores.sql.engine import migrate, open_engine
from tests.conftest import Database
from tests.helpers import down_then_up, migration_module, schema_diffs

TABLES = ("counselors", "staff_recovery_codes", "password_resets", "login_challenges",
          "exposure_events", "debrief_flags", "holidays")


def _shape(sync: Connection) -> tuple[bool, bool]:
    found = inspect(sync)
    return ("holidays" in found.get_table_names(),
            "totp_secret" in {c["name"] for c in found.get_columns("counselors")})


async def test_migration_matches_tables_and_reverses(database: Database) -> None:
    rev = migration_module("0017_staff_admin.py")
    assert rev.revision == "0017"
    engine = open_engine(database.url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, *TABLES) == []
        async with engine.begin() as conn:
            assert await conn.run_sync(down_then_up, rev, _shape) == ((False, False),
                                                                      (True, True))
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, *TABLES) == []
    finally:
        await engine.dispose()
