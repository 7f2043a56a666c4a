"""Migration 0008 (hand-written) on SQLite and PostgreSQL: the evidence table matches
hotline.stores.sql.tables exactly afterwards, evidence recorded before it counts as scanned at
its recording time (documents, with no hash, stay unscanned), and the revision reverses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.engine import Connection

from hotline.cases.tables import conversations
from hotline.evidence.tables import evidence
from hotline.stores.sql.engine import migrate, open_engine
from tests.conftest import Database
from tests.helpers import down_then_up, migration_module, schema_diffs, upgrade_to

# Each test migrates from nothing to an older revision before the one it checks.
pytestmark = pytest.mark.empty_database


def _revision() -> Any:
    return migration_module("0008_evidence_scan_outside_tx.py")


def _diffs(sync: Connection) -> list[Any]:
    return schema_diffs(sync, "evidence")


def _shape(sync: Connection) -> tuple[bool, bool]:
    found = inspect(sync)
    return ("pdq_scanned_at" in {c["name"] for c in found.get_columns("evidence")},
            "ix_evidence_unscanned" in {ix["name"] for ix in found.get_indexes("evidence")})


async def test_migration_marks_older_evidence_scanned_and_reverses(database: Database) -> None:
    rev = _revision()
    assert (rev.revision, rev.down_revision) == ("0008", "0007")
    engine = open_engine(database.url)
    at = datetime.now(UTC) - timedelta(days=3)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, "0007")
            await conn.execute(insert(conversations).values(
                id="c" * 32, channel="telegram", pseudonym="p", language="ko",
                status="waiting", urgency="normal", created_at=at, enqueued_at=at,
                last_activity_at=at))
            # Written as the 0007 schema has it: no pdq_scanned_at yet.
            for pdq in ("f" * 64, None):
                await conn.execute(text(
                    "INSERT INTO evidence (conversation_id, kind, mime, size_bytes, sha256, "
                    "pdq, pdq_quality, consent, created_at) VALUES (:c, 'photo', 'image/png', "
                    "1, :s, :p, :q, 'pending', :at)"),
                    {"c": "c" * 32, "s": "0" * 64, "p": pdq, "q": 100 if pdq else None,
                     "at": at})
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diffs) == []
            rows = (await conn.execute(select(
                evidence.c.pdq, evidence.c.created_at, evidence.c.pdq_scanned_at)
                .order_by(evidence.c.id))).all()
        # The photo counts as scanned when it was recorded; the document has nothing to scan.
        assert [(r[0], r[2]) for r in rows] == [("f" * 64, at), (None, None)]
        assert rows[0][1] == at

        async with engine.begin() as conn:
            before, after = await conn.run_sync(down_then_up, rev, _shape)
        assert before == (False, False)
        assert after == (True, True)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diffs) == []
    finally:
        await engine.dispose()
