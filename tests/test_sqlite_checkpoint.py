"""WAL checkpoints off the event loop (hotline.stores.sql.checkpoint): the server's engine
leaves them to the checkpointer, which copies the log into the database on its own thread."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.cases import conversations as convs
from hotline.domain.conversation import Channel, Urgency
from hotline.stores.sql import checkpoint, direct
from hotline.stores.sql.engine import migrate, open_engine

NOW = datetime(2026, 11, 26, tzinfo=UTC)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", background_checkpoint=True)
    await migrate(eng)
    yield eng
    await eng.dispose()


async def _write(engine: AsyncEngine, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        async with direct.begin(engine) as tx:
            await convs.insert_conversation(tx, conversation_id=f"{i:032d}", channel=Channel.SMS,
                                            pseudonym=f"p{i}", language="ko",
                                            urgency=Urgency.NORMAL, at=NOW)


def test_only_on_disk_sqlite(tmp_path: Path) -> None:
    assert checkpoint.for_url("postgresql+asyncpg://u@h/db") is None
    assert checkpoint.for_url("sqlite+aiosqlite:///:memory:") is None
    found = checkpoint.for_url(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    assert found is not None and found.path == str(tmp_path / "h.db")


async def test_engine_leaves_checkpoints_to_the_job(engine: AsyncEngine,
                                                    tmp_path: Path) -> None:
    """Without the job the log keeps everything (the engine no longer checkpoints at 1000
    pages); with it running, the log is copied and restarted as writes go on."""
    async with engine.connect() as conn:
        pages = (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one()
    assert pages == checkpoint.BACKSTOP_PAGES
    job = checkpoint.Checkpointer(str(tmp_path / "h.db"))
    try:
        await _write(engine, 600)
        unchecked, copied = await asyncio.to_thread(job.checkpoint)
        assert unchecked > 1000 and copied == unchecked  # nothing had copied it on the way

        stop = asyncio.Event()
        task = asyncio.create_task(job.run(stop, interval_s=0.01))
        try:
            for part in range(6):
                await _write(engine, 100, start=600 + part * 100)
                await asyncio.sleep(0.03)
        finally:
            stop.set()
            await task
        in_log, copied = await asyncio.to_thread(job.checkpoint)
    finally:
        job.close()
    assert in_log < unchecked / 2 and copied == in_log
    assert os.path.getsize(tmp_path / "h.db") > 100_000  # the rows are in the database file
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM conversations"))).scalar_one() \
            == 1200
