"""hotline/cases/retention.py: contact addresses and transcripts of closed conversations are
deleted when due (and audited), nothing before; on SQLite and PostgreSQL with a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from hotline.audit import log as audit
from hotline.cases import casework, presence
from hotline.cases.inbox import receive
from hotline.cases.retention import sweep
from hotline.cases.tables import conversations, intake_records, messages
from hotline.deps import Deps
from hotline.domain.conversation import Channel
from hotline.domain.intake import parse_intake
from hotline.domain.staff import Role, Staff
from hotline.evidence.service import purge_due
from hotline.evidence.tables import evidence, evidence_files
from hotline.staff import accounts as staff_store
from tests.conftest import Database, RedisProcess, make_config
from tests.service_deps import inbound, open_deps, settle

CONTACT_DAYS = 7
TRANSCRIPT_DAYS = 90
SESSION_HOURS = 12
ADDRESS = "+821099998888"
FORM = {"harm_type": "synthetic", "platforms": ["telegram"], "age_band": "18_24",
        "urgency": "high", "referrals": ["takedown"], "outcome": "takedown_requested"}


@pytest.fixture
async def deps(tmp_path: Path, database: Database, redis_server: RedisProcess
               ) -> AsyncIterator[Deps]:
    cfg = make_config(tmp_path / "data", database.url, redis_server.url,
                      retention={"contact_days": CONTACT_DAYS,
                                 "transcript_days": TRANSCRIPT_DAYS,
                                 "session_hours": SESSION_HOURS})
    async with open_deps(cfg) as d:
        yield d


async def _counselor(deps: Deps, name: str = "mina") -> Staff:
    async with deps.engine.begin() as conn:
        sid = await staff_store.add(conn, name=name, role=Role.COUNSELOR, languages=("ko", "en"),
                                    password_hash="not-a-real-hash", at=datetime.now(UTC))
    staff = Staff(sid, name, Role.COUNSELOR, ("ko", "en"))
    await presence.sign_in(deps, staff)
    return staff


@dataclass(frozen=True)
class Closed:
    cid: str
    closed_at: datetime
    purge_contact_at: datetime
    purge_transcript_at: datetime


async def _conversation_row(deps: Deps, cid: str) -> dict[str, object]:
    async with deps.engine.connect() as conn:
        row = (await conn.execute(select(conversations).where(conversations.c.id == cid))).one()
    return dict(row._mapping)


async def _bodies(deps: Deps, cid: str) -> list[bytes | None]:
    async with deps.engine.connect() as conn:
        rows = await conn.execute(select(messages.c.body_sealed)
                                  .where(messages.c.conversation_id == cid)
                                  .order_by(messages.c.seq))
        return [r[0] for r in rows]


async def _actions(deps: Deps, cid: str) -> list[str]:
    async with deps.engine.connect() as conn:
        return [str(e["action"]) for e in await audit.for_target(conn, "conversation", cid)]


async def _open_and_close(deps: Deps, staff: Staff, address: str = ADDRESS,
                          keep_contact: bool = True, replies: int = 1) -> Closed:
    first = await receive(deps, inbound(address=address, channel=Channel.SMS,
                                        keep_contact=keep_contact, text="hello"))
    await receive(deps, inbound(address=address, channel=Channel.SMS,
                                keep_contact=keep_contact, text="are you there?"))
    assert await casework.take_next(deps, staff) == first.conversation_id
    for i in range(replies):
        await casework.reply(deps, staff, first.conversation_id, f"reply {i}",
                             f"{first.conversation_id}-{i}")
    await settle(deps)
    await casework.close(deps, staff, first.conversation_id, parse_intake(FORM))
    row = await _conversation_row(deps, first.conversation_id)
    assert row["status"] == "closed"
    return Closed(first.conversation_id, row["closed_at"],  # type: ignore[arg-type]
                  row["purge_contact_at"], row["purge_transcript_at"])  # type: ignore[arg-type]


async def test_close_schedules_purges(deps: Deps) -> None:
    staff = await _counselor(deps)
    c = await _open_and_close(deps, staff)
    assert c.purge_contact_at == c.closed_at + timedelta(days=CONTACT_DAYS)
    assert c.purge_transcript_at == c.closed_at + timedelta(days=TRANSCRIPT_DAYS)
    row = await _conversation_row(deps, c.cid)
    assert row["contact_sealed"] is not None
    assert all(b is not None for b in await _bodies(deps, c.cid))


# (id, time after close, contact deleted, transcript deleted)
SCHEDULE = [
    ("just-closed", timedelta(0), False, False),
    ("one-day", timedelta(days=1), False, False),
    ("second-before-contact", timedelta(days=CONTACT_DAYS) - timedelta(seconds=1), False, False),
    ("exactly-contact-due", timedelta(days=CONTACT_DAYS), True, False),
    ("after-contact", timedelta(days=CONTACT_DAYS, seconds=1), True, False),
    ("second-before-transcript", timedelta(days=TRANSCRIPT_DAYS) - timedelta(seconds=1),
     True, False),
    ("exactly-transcript-due", timedelta(days=TRANSCRIPT_DAYS), True, True),
    ("long-after", timedelta(days=TRANSCRIPT_DAYS * 10), True, True),
]


@pytest.mark.parametrize(("after", "contact_gone", "transcript_gone"),
                         [s[1:] for s in SCHEDULE], ids=[s[0] for s in SCHEDULE])
async def test_sweep_at(deps: Deps, after: timedelta, contact_gone: bool,
                        transcript_gone: bool) -> None:
    staff = await _counselor(deps)
    c = await _open_and_close(deps, staff, replies=2)
    before_bodies = await _bodies(deps, c.cid)
    assert len(before_bodies) == 4

    counts = await sweep(deps, now=c.closed_at + after)

    assert counts["contacts"] == int(contact_gone)
    assert counts["transcripts"] == int(transcript_gone)
    assert counts["messages"] == (4 if transcript_gone else 0)
    row = await _conversation_row(deps, c.cid)
    assert (row["contact_sealed"] is None) is contact_gone
    bodies = await _bodies(deps, c.cid)
    assert len(bodies) == 4  # the rows stay (seq, direction, time): only the text goes
    if transcript_gone:
        assert bodies == [None] * 4
        assert row["purge_transcript_at"] is None
    else:
        assert bodies == before_bodies
    actions = await _actions(deps, c.cid)
    assert ("retention.contact_deleted" in actions) is contact_gone
    assert ("retention.transcript_deleted" in actions) is transcript_gone
    # The anonymous intake record is kept whatever happens.
    async with deps.engine.connect() as conn:
        kept = (await conn.execute(select(intake_records.c.conversation_id))).scalars().all()
    assert kept == [c.cid]


async def test_sweep_in_steps_is_idempotent(deps: Deps) -> None:
    staff = await _counselor(deps)
    c = await _open_and_close(deps, staff)
    t0 = c.closed_at
    assert await sweep(deps, now=t0 + timedelta(days=1)) == \
        {"contacts": 0, "transcripts": 0, "messages": 0, "sessions": 0}
    contact_due = t0 + timedelta(days=CONTACT_DAYS, hours=1)
    assert (await sweep(deps, now=contact_due))["contacts"] == 1
    # The deadline goes with the address: the index on it keeps only what is still to do.
    assert (await _conversation_row(deps, c.cid))["purge_contact_at"] is None
    assert (await sweep(deps, now=contact_due))["contacts"] == 0
    transcript_due = t0 + timedelta(days=TRANSCRIPT_DAYS, hours=1)
    first = await sweep(deps, now=transcript_due)
    assert (first["contacts"], first["transcripts"], first["messages"]) == (0, 1, 3)
    again = await sweep(deps, now=transcript_due + timedelta(days=1))
    assert (again["contacts"], again["transcripts"], again["messages"]) == (0, 0, 0)
    actions = await _actions(deps, c.cid)
    assert actions.count("retention.contact_deleted") == 1
    assert actions.count("retention.transcript_deleted") == 1
    # The audit events carry the sweep's time and no actor.
    async with deps.engine.connect() as conn:
        events = await audit.for_target(conn, "conversation", c.cid)
    purge = [e for e in events if e["action"].startswith("retention.")]
    assert all(e["actor_id"] is None for e in purge)
    assert [datetime.fromisoformat(e["at"]) for e in purge] == [contact_due, transcript_due]


async def test_open_conversations_are_never_purged(deps: Deps) -> None:
    staff = await _counselor(deps)
    closed = await _open_and_close(deps, staff)
    waiting = await receive(deps, inbound(address="+821011112222", keep_contact=True))
    far = closed.closed_at + timedelta(days=TRANSCRIPT_DAYS * 100)
    counts = await sweep(deps, now=far)
    assert counts["contacts"] == 1 and counts["transcripts"] == 1
    row = await _conversation_row(deps, waiting.conversation_id)
    assert row["contact_sealed"] is not None
    assert row["purge_contact_at"] is None and row["purge_transcript_at"] is None
    assert all(b is not None for b in await _bodies(deps, waiting.conversation_id))
    assert await _actions(deps, waiting.conversation_id) == []


async def test_conversation_without_contact(deps: Deps) -> None:
    staff = await _counselor(deps)
    c = await _open_and_close(deps, staff, keep_contact=False)
    counts = await sweep(deps, now=c.closed_at + timedelta(days=TRANSCRIPT_DAYS + 1))
    assert counts["contacts"] == 0 and counts["transcripts"] == 1
    assert (await _conversation_row(deps, c.cid))["purge_contact_at"] is None
    actions = await _actions(deps, c.cid)
    assert "retention.contact_deleted" not in actions
    assert "retention.transcript_deleted" in actions


async def test_only_due_conversations_are_purged(deps: Deps) -> None:
    staff = await _counselor(deps)
    older = await _open_and_close(deps, staff, address="+821000000001")
    newer = await _open_and_close(deps, staff, address="+821000000002")
    # Pretend `older` was closed a long time ago.
    async with deps.engine.begin() as conn:
        await conn.execute(conversations.update().where(conversations.c.id == older.cid).values(
            purge_contact_at=older.closed_at - timedelta(days=100),
            purge_transcript_at=older.closed_at - timedelta(days=10)))
    counts = await sweep(deps, now=older.closed_at + timedelta(minutes=1))
    assert counts["contacts"] == 1 and counts["transcripts"] == 1
    assert (await _conversation_row(deps, older.cid))["contact_sealed"] is None
    assert all(b is None for b in await _bodies(deps, older.cid))
    assert (await _conversation_row(deps, newer.cid))["contact_sealed"] is not None
    assert all(b is not None for b in await _bodies(deps, newer.cid))
    assert not any(a.startswith("retention.") for a in await _actions(deps, newer.cid))


@pytest.mark.parametrize(("idle", "ended"), [
    (timedelta(hours=SESSION_HOURS) - timedelta(seconds=1), False),
    (timedelta(hours=SESSION_HOURS), True),
    (timedelta(hours=SESSION_HOURS * 3), True),
])
async def test_idle_sessions_end(deps: Deps, idle: timedelta, ended: bool) -> None:
    staff = await _counselor(deps)
    seen = datetime(2030, 1, 1, tzinfo=UTC)
    async with deps.engine.begin() as conn:
        await staff_store.create_session(conn, token_digest="d" * 64, counselor_id=staff.id,
                                         csrf_token="c" * 32, at=seen)
    counts = await sweep(deps, now=seen + idle)
    assert counts["sessions"] == int(ended)
    async with deps.engine.connect() as conn:
        live = await staff_store.session(conn, "d" * 64, seen - timedelta(days=1))
    assert (live is None) is ended


async def test_a_backlog_is_purged_in_batches(deps: Deps) -> None:
    # Seven closed conversations, all long due, swept three to a transaction.
    staff = await _counselor(deps)
    closed = [await _open_and_close(deps, staff, address=f"+8210000001{i:02d}")
              for i in range(7)]
    far = max(c.purge_transcript_at for c in closed) + timedelta(days=1)
    counts = await sweep(deps, now=far, batch=3)
    assert (counts["contacts"], counts["transcripts"], counts["messages"]) == (7, 7, 7 * 3)
    for c in closed:
        assert (await _conversation_row(deps, c.cid))["contact_sealed"] is None
        assert all(b is None for b in await _bodies(deps, c.cid))
        actions = await _actions(deps, c.cid)
        assert actions.count("retention.contact_deleted") == 1
        assert actions.count("retention.transcript_deleted") == 1
    assert (await sweep(deps, now=far, batch=3))["transcripts"] == 0


async def test_kept_evidence_files_are_deleted_in_batches(deps: Deps) -> None:
    staff = await _counselor(deps)
    c = await _open_and_close(deps, staff)
    due = c.closed_at - timedelta(days=1)
    async with deps.engine.begin() as conn:
        ids = [int((await conn.execute(insert(evidence).values(
            conversation_id=c.cid, kind="photo", mime="image/png", size_bytes=1,
            sha256="0" * 64, consent="kept", created_at=due, purge_at=due)
            .returning(evidence.c.id))).scalar_one()) for _ in range(5)]
        await conn.execute(insert(evidence_files), [
            {"evidence_id": i, "blob_sealed": b"sealed", "created_at": due} for i in ids])
    assert await purge_due(deps, now=c.closed_at, batch=2) == 5
    async with deps.engine.connect() as conn:
        assert list(await conn.execute(select(evidence_files))) == []
        consents = (await conn.execute(select(evidence.c.consent))).scalars().all()
    assert consents == ["expired"] * 5
    assert (await _actions(deps, c.cid)).count("retention.evidence_deleted") == 5
    assert await purge_due(deps, now=c.closed_at, batch=2) == 0


async def test_evidence_location_note_goes_with_the_transcript(deps: Deps) -> None:
    staff = await _counselor(deps)
    c = await _open_and_close(deps, staff)
    async with deps.engine.begin() as conn:
        await conn.execute(insert(evidence).values(
            conversation_id=c.cid, kind="photo", mime="image/png", size_bytes=1,
            sha256="0" * 64, consent="declined", created_at=c.closed_at,
            location_sealed=b"sealed note"))

    async def notes() -> list[bytes | None]:
        async with deps.engine.connect() as conn:
            return list((await conn.execute(select(evidence.c.location_sealed))).scalars())

    await sweep(deps, now=c.purge_transcript_at - timedelta(minutes=1))
    assert await notes() == [b"sealed note"]
    await sweep(deps, now=c.purge_transcript_at)
    assert await notes() == [None]
