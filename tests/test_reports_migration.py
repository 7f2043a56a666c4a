"""Migration 0021 (hand-written) on SQLite and PostgreSQL: the reports' tables and the intake
record's relation match the tables in code exactly, and the revision reverses."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from hotline.reports import tables as _tables  # noqa: F401  (registers them)
from hotline.stores.sql.engine import migrate, open_engine
from tests.conftest import Database
from tests.helpers import down_then_up, migration_module, schema_diffs

NAMES = ("report_takedown_facts", "report_intake_daily", "report_marks", "intake_records")


def _present(sync: Connection) -> tuple[bool, bool]:
    insp = inspect(sync)
    return ("report_marks" in insp.get_table_names(),
            "relation" in {c["name"] for c in insp.get_columns("intake_records")})


async def test_migration_matches_tables_and_reverses(database: Database) -> None:
    rev = migration_module("0021_reports.py")
    assert rev.revision == "0021"
    engine = open_engine(database.url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, *NAMES) == []
        async with engine.begin() as conn:
            assert await conn.run_sync(down_then_up, rev, _present) == ((False, False),
                                                                         (True, True))
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, *NAMES) == []
    finally:
        await engine.dispose()
