"""Alerts that close by themselves once their cause has ended (alerts.resolve_ended), at the
scale of an incident: a centre whose network dropped for a minute raised a lost-console alert
for every open case, and once the consoles were back one pass closed them all in a single
transaction, holding the event loop 0.85 s at 3,000. Now the open alerts are read on the
reader and closed 10 a transaction, each only while its case is still as it was read."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from hotline.audit.tables import audit_events as audit_log
from hotline.cases import alerts as alert_service
from hotline.cases.tables import alerts, conversations
from hotline.config import Config
from hotline.staff.tables import counselors
from tests.service_deps import open_deps

OK = {"ko|sms": "ok", "en|sms": "gap"}


@pytest.mark.parametrize(("kind", "reasons", "status", "group", "holder", "why"), [
    # A closed case ends every kind of alert.
    ("takedown", "content_spreading", "closed", "ko|sms", None, "case_closed"),
    ("lead", "presence_lost", "closed", "ko|sms", 7, "case_closed"),
    # Coverage: back for the group, or the case was taken meanwhile.
    ("lead", "coverage_gap", "waiting", "ko|sms", None, "coverage_back"),
    ("lead", "coverage_full", "waiting", "en|sms", None, None),
    ("lead", "coverage_gap", "active", "en|sms", 7, "coverage_back"),
    ("lead", "coverage_gap", "waiting", "ja|sms", None, None),
    # A lost console: whoever holds the case now has a live console.
    ("lead", "presence_lost", "active", "en|sms", 7, "presence_back"),
    ("lead", "presence_lost", "active", "en|sms", 8, None),
    ("lead", "presence_lost", "waiting", "en|sms", None, None),
    # A takedown alert waits for the desk, whatever the floor does.
    ("takedown", "content_spreading", "active", "ko|sms", 7, None),
    # Another lead alert with "presence_lost" among other reasons is not a lost console's.
    ("lead", "presence_lost,missed_offers", "active", "en|sms", 7, None),
])
def test_why_an_alerts_cause_has_ended(kind: str, reasons: str, status: str, group: str,
                                       holder: int | None, why: str | None) -> None:
    assert alert_service.why_ended(kind, reasons, status, group, holder, OK, {7}) == why


async def _lost_consoles(conn: Any, now: datetime, n: int) -> tuple[int, int, list[int]]:
    """Two counselors; n active cases held by the first, each with an open lost-console
    alert; (first, second, alert ids)."""
    ids = []
    for name in ("mina", "jun"):
        ids.append(int((await conn.execute(insert(counselors).values(
            name=name, role="counselor", languages="ko", password_hash="x", created_at=now,
            max_chats=3).returning(counselors.c.id))).scalar_one()))
    alert_ids = []
    for i in range(n):
        cid = f"{i:032x}"
        await conn.execute(insert(conversations).values(
            id=cid, channel="webchat", pseudonym=f"p{i}", language="ko", status="active",
            urgency="normal", created_at=now, enqueued_at=now, last_activity_at=now,
            assigned_at=now, counselor_id=ids[0]))
        alert_ids.append(int((await conn.execute(insert(alerts).values(
            conversation_id=cid, kind="lead", reasons="presence_lost", created_at=now
        ).returning(alerts.c.id))).scalar_one()))
    return ids[0], ids[1], alert_ids


async def test_a_network_back_closes_every_lost_console_alert_a_part_at_a_time(
        config: Config) -> None:
    now = datetime.now(UTC)
    async with open_deps(config) as deps:
        async with deps.engine.begin() as conn:
            mina, _jun, ids = await _lost_consoles(conn, now, 250)
        # Her console still quiet: nothing ends.
        assert await alert_service.resolve_ended(deps) == 0
        await deps.live.heartbeat(mina)
        assert await alert_service.resolve_ended(deps) == 250
        async with deps.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(alerts).where(
                alerts.c.acked_at.is_(None)))).scalar_one() == 0
            vias = set((await conn.execute(select(alerts.c.acked_via))).scalars())
            resolved = list((await conn.execute(select(audit_log.c.target_id).where(
                audit_log.c.action == "alert.resolved"))).scalars())
        assert vias == {"presence_back"}
        # Each audited once, by no one.
        assert sorted(resolved) == sorted({f"{i:032x}" for i in range(250)})
        assert await alert_service.resolve_ended(deps) == 0
        assert len(ids) == 250


async def test_an_alert_whose_case_moved_after_the_read_stays_open(config: Config) -> None:
    """Read as ended (her console back, the case hers), but given to a colleague whose
    console is quiet before the write: the next pass judges it again."""
    now = datetime.now(UTC)
    async with open_deps(config) as deps:
        async with deps.engine.begin() as conn:
            mina, jun, [alert_id] = await _lost_consoles(conn, now, 1)
            await conn.execute(conversations.update().values(counselor_id=jun))
        as_read = SimpleNamespace(id=alert_id, conversation_id="0" * 32, status="active",
                                  counselor_id=mina)
        assert await alert_service._resolve(deps, [(as_read, "presence_back")], now) == 0
        async with deps.engine.connect() as conn:
            assert (await conn.execute(select(alerts.c.acked_at))).scalar_one() is None
        # As read now, it goes on: jun's console is quiet.
        assert await alert_service.resolve_ended(deps) == 0
