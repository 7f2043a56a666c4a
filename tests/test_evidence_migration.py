"""Migration 0006 (hand-written) on SQLite and PostgreSQL: it joins the Telegram and Twilio
branches, its table matches hotline.stores.sql.tables exactly, it finds the PDQ pairs among
evidence recorded before it, and its downgrade and upgrade both run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, select
from sqlalchemy.engine import Connection

from hotline.cases.tables import conversations
from hotline.evidence.tables import evidence, evidence_matches
from hotline.stores.sql.engine import _alembic_config, migrate, open_engine
from tests.conftest import Database
from tests.helpers import down_then_up, migration_module, schema_diffs, upgrade_to

# Each test migrates from nothing to an older revision before the one it checks.
pytestmark = pytest.mark.empty_database

A = "f" * 64
NEAR = "f" * 63 + "0"  # 4 bits from A
FAR = "0" * 64


def _revision() -> Any:
    return migration_module("0006_evidence_matches.py")


def _diffs(sync: Connection) -> list[Any]:
    return schema_diffs(sync, "evidence_matches")


def test_one_head_again() -> None:
    heads = ScriptDirectory.from_config(_alembic_config()).get_heads()
    assert len(heads) == 1
    assert _revision().down_revision == ("0004", "0005")


async def test_migration_backfills_pairs_matches_tables_and_reverses(database: Database) -> None:
    engine = open_engine(database.url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, "0004", "0005")
            await conn.execute(insert(conversations).values(
                id="c" * 32, channel="telegram", pseudonym="p", language="ko",
                status="waiting", urgency="normal", created_at=now, enqueued_at=now,
                last_activity_at=now))
            for pdq in (A, NEAR, FAR, None):
                await conn.execute(insert(evidence).values(
                    conversation_id="c" * 32, kind="photo", mime="image/png", size_bytes=1,
                    sha256="0" * 64, pdq=pdq, pdq_quality=100 if pdq else None,
                    consent="pending", created_at=now))
        await migrate(engine)
        async with engine.connect() as conn:
            pairs = sorted(tuple(r) for r in await conn.execute(select(evidence_matches)))
            assert await conn.run_sync(_diffs) == []
        # A-NEAR (4 bits) both ways; FAR is 256 and 252 bits away; no PDQ, no pair.
        assert pairs == [(1, 2, 4), (2, 1, 4)]

        rev = _revision()

        def gone(sync: Connection) -> bool:
            return "evidence_matches" not in inspect(sync).get_table_names()

        async with engine.begin() as conn:
            assert (await conn.run_sync(down_then_up, rev, gone))[0]
        async with engine.connect() as conn:
            assert await conn.run_sync(_diffs) == []
        await migrate(engine)  # a no-op now
        # Deleting a piece of evidence (forget, retention) deletes its pairs both ways.
        async with engine.begin() as conn:
            await conn.execute(evidence.delete().where(evidence.c.id == 2))
        async with engine.connect() as conn:
            assert list(await conn.execute(select(evidence_matches))) == []
    finally:
        await engine.dispose()
