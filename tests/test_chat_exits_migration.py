"""Migration 0012 (hand-written) on SQLite and PostgreSQL: `chat_exits` and
`conversations.victim_left_at` match hotline.stores.sql.tables exactly, conversations already
there keep their rows (not left), and the revision reverses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, inspect, select
from sqlalchemy.engine import Connection

from hotline.cases.tables import conversations
from hotline.stores.sql.engine import migrate, open_engine
from tests.conftest import Database
from tests.helpers import down_then_up, migration_module, schema_diffs, upgrade_to

# Each test migrates from nothing to an older revision before the one it checks.
pytestmark = pytest.mark.empty_database


def _revision() -> Any:
    return migration_module("0012_chat_exits.py")


def _diffs(sync: Connection) -> list[Any]:
    return schema_diffs(sync, "chat_exits", "victim_left_at")


def _shape(sync: Connection) -> tuple[bool, bool]:
    """Whether the table and the column exist."""
    found = inspect(sync)
    return ("chat_exits" in found.get_table_names(),
            "victim_left_at" in {c["name"] for c in found.get_columns("conversations")})


async def test_migration_adds_exits_and_left_marker_and_reverses(database: Database) -> None:
    rev = _revision()
    assert (rev.revision, rev.down_revision) == ("0012", "0011")
    engine = open_engine(database.url)
    at = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, "0011")
            assert await conn.run_sync(_shape) == (False, False)
            # Written with the 0011 columns only.
            await conn.execute(insert(conversations).values(
                id="a" * 32, channel="webchat", pseudonym="p" * 64, language="ko",
                status="active", urgency="normal", created_at=at, enqueued_at=at,
                last_activity_at=at))
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diffs) == []
            rows = (await conn.execute(select(conversations.c.id,
                                              conversations.c.victim_left_at))).all()
        assert [tuple(r) for r in rows] == [("a" * 32, None)]

        async with engine.begin() as conn:
            before, after = await conn.run_sync(down_then_up, rev, _shape)
        assert (before, after) == ((False, False), (True, True))
        async with engine.connect() as conn:
            assert await conn.run_sync(_diffs) == []
        await migrate(engine)  # again: nothing to do
    finally:
        await engine.dispose()
