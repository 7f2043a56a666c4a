"""urgency.age_waiting against a lead's change committed while the aging pass runs: on
PostgreSQL (read committed) the pass reads the old level, then waits for the row the lead's
transaction holds; once that commits, the pass must not write its aged level over the lead's.
SQLite takes the write lock at the pass's BEGIN, so the two cannot interleave there."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text, update

from hotline.cases import urgency
from hotline.cases.tables import conversations
from hotline.config import Config
from hotline.stores.sql.engine import open_engine
from tests.conftest import wait_for
from tests.service_deps import open_deps


async def test_aging_never_overwrites_a_lead_change_made_meanwhile(config: Config) -> None:
    if config.database_url.startswith("sqlite"):
        pytest.skip("SQLite serializes the aging pass behind the lead's transaction")
    now = datetime.now(UTC)
    cid = secrets.token_hex(16)
    async with open_deps(config) as deps:
        async with deps.engine.begin() as conn:
            await conn.execute(insert(conversations).values(
                id=cid, channel="webchat", pseudonym="p", language="ko", status="waiting",
                urgency="normal", created_at=now - timedelta(days=2),
                enqueued_at=now - timedelta(days=2), last_activity_at=now))
        lead_engine = open_engine(config.database_url)
        try:
            async with lead_engine.connect() as lead:
                tx = await lead.begin()
                await lead.execute(update(conversations).where(conversations.c.id == cid)
                                   .values(urgency="critical", urgency_reasons="lead"))
                aging = asyncio.create_task(urgency.age_waiting(deps))

                async def blocked() -> bool:
                    # The pass has read "normal" and now waits for the lead's row lock.
                    async with deps.engine.connect() as probe:
                        return bool((await probe.execute(text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND wait_event_type = 'Lock'"))).scalar_one())

                await wait_for(blocked, timeout=10)
                await tx.commit()
            assert await asyncio.wait_for(aging, 10) == 0
        finally:
            await lead_engine.dispose()
        async with deps.engine.connect() as conn:
            row = (await conn.execute(select(conversations.c.urgency,
                                             conversations.c.urgency_reasons)
                                      .where(conversations.c.id == cid))).one()
    assert tuple(row) == ("critical", "lead")
