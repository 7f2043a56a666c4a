"""Migration 0010 (hand-written) on SQLite and PostgreSQL: counselors.presence_status matches
hotline.stores.sql.tables exactly, counselors already there start 'offline' and keep their
sessions, shifts and phones (no table rebuild on SQLite: dropping `counselors` with foreign
keys on would cascade to them), and the revision reverses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, insert, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.cases.tables import shifts
from hotline.domain.routing import Presence
from hotline.staff import accounts as staff_store
from hotline.staff.tables import counselor_phones, counselors, staff_sessions
from hotline.stores.sql.engine import migrate, open_engine
from tests.conftest import Database
from tests.helpers import down_then_up, migration_module, schema_diffs, upgrade_to

# Each test migrates from nothing to an older revision before the one it checks.
pytestmark = pytest.mark.empty_database


def _revision() -> Any:
    return migration_module("0010_counselor_status.py")


def _diffs(sync: Connection) -> list[Any]:
    return schema_diffs(sync, "counselors")


def _has_column(sync: Connection) -> bool:
    return "presence_status" in {c["name"] for c in inspect(sync).get_columns("counselors")}


async def _kept_rows(conn: AsyncConnection) -> dict[str, int]:
    """Rows of the tables that point at counselors (a table rebuild could cascade to them)."""
    return {t.name: int((await conn.execute(select(func.count()).select_from(t))).scalar_one())
            for t in (staff_sessions, shifts, counselor_phones)}


async def test_migration_adds_status_keeps_rows_and_reverses(database: Database) -> None:
    rev = _revision()
    assert (rev.revision, rev.down_revision) == ("0010", "0009")
    engine = open_engine(database.url)
    at = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, "0009")
            assert not await conn.run_sync(_has_column)
            # Written with the 0009 columns only (the table object has the new one too).
            for i, name in enumerate(("mina", "jun"), start=1):
                await conn.execute(insert(counselors).values(
                    id=i, name=name, role="counselor", languages="ko", password_hash="-",
                    active=True, created_at=at))
                await conn.execute(insert(staff_sessions).values(
                    token_digest=f"{i}" * 64, counselor_id=i, csrf_token="c" * 64,
                    created_at=at, last_seen_at=at))
                await conn.execute(insert(shifts).values(
                    counselor_id=i, weekday=0, start_minute=540, end_minute=1080, tz="UTC",
                    created_at=at))
                await conn.execute(insert(counselor_phones).values(
                    counselor_id=i, phone_sealed=b"sealed", updated_at=at))
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diffs) == []
            assert await staff_store.presence_statuses(conn) == {
                1: Presence.OFFLINE, 2: Presence.OFFLINE}
            assert await _kept_rows(conn) == {"staff_sessions": 2, "shifts": 2,
                                              "counselor_phones": 2}
        async with engine.begin() as conn:
            await staff_store.set_presence_status(conn, 1, Presence.AVAILABLE)
        async with engine.connect() as conn:
            assert await staff_store.presence_statuses(conn) == {
                1: Presence.AVAILABLE, 2: Presence.OFFLINE}

        async with engine.begin() as conn:
            before, after = await conn.run_sync(down_then_up, rev, _has_column)
        assert (before, after) == (False, True)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diffs) == []
            # The column came back with its default; every other row is still there.
            assert await staff_store.presence_statuses(conn) == {
                1: Presence.OFFLINE, 2: Presence.OFFLINE}
            assert await _kept_rows(conn) == {"staff_sessions": 2, "shifts": 2,
                                              "counselor_phones": 2}
        # Running the migrations again is a no-op.
        await migrate(engine)
    finally:
        await engine.dispose()
