"""Migration 0007 (hand-written) on SQLite and PostgreSQL: the messages table's indexes match
hotline.stores.sql.tables exactly, an inbound message adds no entry to the partial indexes, the
outbox's query reads undelivered replies through their index, and the revision reverses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from hotline.cases import conversations as convs
from hotline.cases import outbox
from hotline.config import Config
from hotline.domain.conversation import Channel, Direction, Urgency
from hotline.stores.sql.engine import migrate, open_engine
from tests.conftest import Database
from tests.helpers import down_then_up, migration_module, schema_diffs, sqlite_plan, statements_seen
from tests.service_deps import open_deps


def _revision() -> Any:
    return migration_module("0007_message_indexes.py")


def _diffs(sync: Connection) -> list[Any]:
    return schema_diffs(sync, "messages")


def _indexes(sync: Connection) -> set[str]:
    return {str(ix["name"]) for ix in inspect(sync).get_indexes("messages")}


async def test_migration_matches_tables_and_reverses(database: Database) -> None:
    rev = _revision()
    assert (rev.revision, rev.down_revision) == ("0007", "0006")
    engine = open_engine(database.url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diffs) == []
            names = await conn.run_sync(_indexes)
            assert {"ix_messages_provider_ref", "ix_messages_undelivered"} <= names
            assert "ix_messages_next_attempt_at" not in names

        async with engine.begin() as conn:
            before, after = await conn.run_sync(down_then_up, rev, _indexes)
        assert "ix_messages_next_attempt_at" in before and "ix_messages_undelivered" not in before
        assert "ix_messages_undelivered" in after
        async with engine.connect() as conn:
            assert await conn.run_sync(_diffs) == []
    finally:
        await engine.dispose()


async def test_undelivered_replies_are_found_through_their_index(config: Config) -> None:
    """On both databases the outbox finds exactly the replies still to deliver, and inbound
    messages never enter the index; on SQLite the plan of the outbox's own statement (caught
    as it runs) reads the partial index."""
    now = datetime.now(UTC)
    async with open_deps(config) as deps:
        async with deps.engine.begin() as conn:
            await convs.insert_conversation(conn, conversation_id="c" * 32, channel=Channel.SMS,
                                            pseudonym="p" * 64, language="ko",
                                            urgency=Urgency.NORMAL, at=now, next_seq=3)
            assert await convs.insert_inbound(conn, conversation_id="c" * 32, seq=1,
                                              direction=Direction.IN, body_sealed=b"x", at=now,
                                              provider_key="sms:SM1")
            for seq, state in ((2, "pending"), (3, "delivered")):
                await convs.insert_message(conn, conversation_id="c" * 32, seq=seq,
                                           direction=Direction.OUT, body_sealed=b"y", at=now,
                                           delivery=state)
        with statements_seen(deps.engine, "GROUP BY") as seen:
            assert await outbox.due(deps, now) == [("c" * 32, 2)]
        assert len(seen) == 1
        if deps.engine.dialect.name == "sqlite":
            async with deps.engine.connect() as conn:
                n = (await conn.execute(text(
                    "SELECT count(*) FROM messages INDEXED BY ix_messages_undelivered "
                    "WHERE delivery IN ('pending', 'retrying')"))).scalar_one()
                assert n == 1  # only the pending reply has an entry
            assert "ix_messages_undelivered" in await sqlite_plan(deps.engine, *seen[0])
