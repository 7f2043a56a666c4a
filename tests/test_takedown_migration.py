"""Migrations 0015, 0022 and 0024 (hand-written) on SQLite and PostgreSQL: the takedown tables
match hotline.takedown.tables exactly, each revision reverses, and 0022 fills in the cluster
keys and first checks of locations that existed before it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from hotline.schema import metadata
from hotline.stores.sql.engine import migrate, open_engine
from hotline.takedown import tables as _tables  # noqa: F401  (registers them)
from tests.conftest import Database
from tests.helpers import down_then_up, migration_module, schema_diffs, upgrade_to

# Each test migrates from nothing to an older revision before the one it checks.
pytestmark = pytest.mark.empty_database

NAMES = tuple(t for t in metadata.tables if t.startswith("takedown_"))


def _has_tables(sync: Connection) -> bool:
    present = set(inspect(sync).get_table_names())
    return all(n in present for n in NAMES if n not in ("takedown_checks",
                                                         "takedown_reuploads",
                                                         "takedown_marks"))


async def test_migration_matches_tables_and_reverses(database: Database) -> None:
    rev = migration_module("0015_takedown.py")
    assert rev.revision == "0015"
    rev22 = migration_module("0022_takedown_monitor.py")
    rev24 = migration_module("0024_takedown_marks.py")
    assert (rev24.revision, rev24.down_revision) == ("0024", "0023")
    assert len(NAMES) == 10
    engine = open_engine(database.url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, *NAMES) == []
            # The re-upload matching starts after the newest evidence (none here).
            marks = (await conn.execute(text("SELECT name, position FROM takedown_marks"))).all()
            assert [tuple(m) for m in marks] == [("rematch", 0)]
        async with engine.begin() as conn:
            await conn.run_sync(_run, rev24.downgrade)
            assert "takedown_marks" not in await conn.run_sync(
                lambda sync: inspect(sync).get_table_names())
            await conn.run_sync(_run, rev22.downgrade)
            assert await conn.run_sync(down_then_up, rev, _has_tables) == (False, True)
            await conn.run_sync(_run, rev22.upgrade)
            await conn.run_sync(_run, rev24.upgrade)
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, *NAMES) == []
    finally:
        await engine.dispose()


def _run(sync: Connection, step: Callable[[], None]) -> None:
    with Operations.context(MigrationContext.configure(sync)):
        step()


def _monitor_columns(sync: Connection) -> bool:
    cols = {c["name"] for c in inspect(sync).get_columns("takedown_locations")}
    return {"watch", "next_check_at", "cluster_key"} <= cols


async def test_0022_fills_existing_locations_and_reverses(database: Database) -> None:
    rev = migration_module("0022_takedown_monitor.py")
    assert (rev.revision, rev.down_revision) == ("0022", "0021")
    engine = open_engine(database.url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, "0021")
            for n, (status, url, host, channel) in enumerate([
                    ("open", "https://t.me/leaks/5", "t.me", "leaks"),
                    ("closed", "https://bad.example/v/1", "bad.example", None)], 1):
                await conn.execute(text(
                    "INSERT INTO takedown_items (id, kind, minor, status, reporter, created_at,"
                    " updated_at) VALUES (:i, 'synthetic', false, :s, 'staff', :t, :t)"),
                    {"i": n, "s": status, "t": now})
                await conn.execute(text(
                    "INSERT INTO takedown_locations (item_id, url, platform, host, channel, "
                    "telegram_kind, first_seen_at) VALUES (:i, :u, 'other', :h, :c, :k, :t)"),
                    {"i": n, "u": url, "h": host, "c": channel,
                     "k": "message" if channel else None, "t": now})
            await conn.run_sync(upgrade_to, "0022")
            rows = (await conn.execute(text(
                "SELECT item_id, cluster_key, watch, next_check_at IS NULL FROM "
                "takedown_locations ORDER BY item_id"))).all()
            assert [tuple(r) for r in rows] == [
                (1, "telegram:channel:leaks", "unchecked", False),
                (2, "site:bad.example", "unchecked", True)]
            assert await conn.run_sync(down_then_up, rev, _monitor_columns) == (False, True)
    finally:
        await engine.dispose()
