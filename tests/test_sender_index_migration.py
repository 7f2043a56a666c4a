"""Migration 0009 (hand-written) on SQLite and PostgreSQL: the conversations table matches
hotline.stores.sql.tables exactly, contact deadlines with nothing left to delete are cleared
(others kept), the revision reverses, and a sender's latest conversation is found through the
new index (on SQLite, the plan of latest_for's own statement, caught as it runs)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, inspect, select
from sqlalchemy.engine import Connection

from hotline.cases import conversations as convs
from hotline.cases.tables import conversations
from hotline.config import Config
from hotline.domain.conversation import Channel
from hotline.stores.sql.engine import migrate, open_engine
from tests.conftest import Database
from tests.helpers import (
    down_then_up,
    migration_module,
    schema_diffs,
    sqlite_plan,
    statements_seen,
    upgrade_to,
)
from tests.service_deps import open_deps

# Each test migrates from nothing to an older revision before the one it checks.
pytestmark = pytest.mark.empty_database


def _revision() -> Any:
    return migration_module("0009_sender_index_contact_deadline.py")


def _diffs(sync: Connection) -> list[Any]:
    return schema_diffs(sync, "conversations")


def _has_index(sync: Connection) -> bool:
    return "ix_conversations_sender" in {
        ix["name"] for ix in inspect(sync).get_indexes("conversations")}


def _row(cid: str, at: datetime, contact: bytes | None) -> dict[str, Any]:
    return {"id": cid, "channel": "webchat" if contact is None else "sms",
            "pseudonym": secrets.token_hex(8), "language": "ko", "status": "closed",
            "urgency": "normal", "contact_sealed": contact, "created_at": at,
            "enqueued_at": at, "closed_at": at, "last_activity_at": at,
            "purge_contact_at": at + timedelta(days=7)}


async def test_migration_clears_spent_deadlines_and_reverses(database: Database) -> None:
    rev = _revision()
    assert (rev.revision, rev.down_revision) == ("0009", "0008")
    engine = open_engine(database.url)
    at = datetime.now(UTC) - timedelta(days=3)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, "0008")
            await conn.execute(insert(conversations), [
                _row("a" * 32, at, b"sealed address"), _row("b" * 32, at, None)])
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diffs) == []
            deadlines = dict((await conn.execute(select(
                conversations.c.id, conversations.c.purge_contact_at))).all())
        assert deadlines == {"a" * 32: at + timedelta(days=7), "b" * 32: None}

        async with engine.begin() as conn:
            before, after = await conn.run_sync(down_then_up, rev, _has_index)
        assert (before, after) == (False, True)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diffs) == []
    finally:
        await engine.dispose()


async def test_latest_conversation_of_a_sender_reads_the_index(config: Config) -> None:
    now = datetime.now(UTC)
    async with open_deps(config) as deps:
        async with deps.engine.begin() as conn:
            # Two closed conversations of the sender, then an open one (the latest).
            await conn.execute(insert(conversations), [
                {**_row(f"{i}" * 32, now + timedelta(minutes=i), None),
                 "pseudonym": "p" * 64, "status": "closed" if i < 2 else "waiting"}
                for i in range(3)])
        with statements_seen(deps.engine, "ORDER BY") as seen:
            async with deps.engine.connect() as conn:
                latest = await convs.latest_for(conn, Channel.WEBCHAT, "p" * 64)
        assert latest is not None and latest.id == "2" * 32
        assert len(seen) == 1
        if deps.engine.dialect.name == "sqlite":
            steps = await sqlite_plan(deps.engine, *seen[0])
            assert "ix_conversations_sender" in steps and "TEMP B-TREE" not in steps
