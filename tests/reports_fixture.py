"""A small centre's month whose figures are worked out by hand in tests/test_reports.py:
takedown requests with their steps, contacts (intake records and a phone-menu hang-up) and
intake records. Times are UTC; the centre is in Asia/Seoul (UTC+9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.callbacks.tables import callbacks
from hotline.cases.tables import conversations, intake_records
from hotline.channels.twilio.tables import voice_calls
from hotline.staff.tables import counselors
from hotline.takedown.tables import takedown_items, takedown_requests, takedown_steps

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
# The fixture's counselors' ids (apart from the ids the tests' own staff get).
STAFF = 900


def z(day: int, hour: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


# (id, platform, route, legal basis, rung, state, due_at, [(step, at)]) — the hand-worked
# answers are in tests/test_reports.py beside each figure.
REQUESTS: list[tuple[int, str, str, str, int, str, datetime | None,
                     list[tuple[str, datetime]]]] = [
    (1, "x", "take_it_down", "take_it_down_us", 0, "verified", z(3),
     [("sent", z(2)), ("acknowledged", z(2, 1)), ("removed", z(2, 10)),
      ("verified", z(3))]),
    (2, "x", "take_it_down", "take_it_down_us", 0, "removed", z(4),
     [("sent", z(3)), ("removed", z(4, 12))]),
    (3, "x", "take_it_down", "take_it_down_us", 0, "refused", z(6),
     [("sent", z(5)), ("refused", z(5, 5))]),
    (4, "x", "take_it_down", "take_it_down_us", 0, "escalated", z(7),
     [("sent", z(6)), ("overdue", z(7)), ("escalated", z(7, 2))]),
    (5, "x", "copyright", "copyright", 1, "removed", z(9, 2),
     [("sent", z(7)), ("removed", z(10))]),
    (6, "x", "copyright", "copyright", 0, "acknowledged", z(9),
     [("sent", z(8)), ("acknowledged", z(8, 2))]),
    # Sent in February: outside the range.
    (7, "x", "copyright", "copyright", 0, "removed", z(21, 0, 2),
     [("sent", z(20, 0, 2)), ("removed", z(20, 5, 2))]),
    # Sent, not yet due at NOW.
    (8, "x", "kcsc", "kr_regulator", 0, "sent", z(1, 0, 6),
     [("sent", z(30))]),
    (9, "telegram", "abuse_email", "platform_policy", 0, "removed", z(11),
     [("sent", z(10)), ("removed", z(10, 2))]),
    (10, "telegram", "abuse_email", "platform_policy", 0, "partially_removed", z(12),
     [("sent", z(11)), ("partially_removed", z(11, 6))]),
]

# Contacts: (opened_at, channel, counselor, outcome, wait s, handling s); None outcome: the
# caller hung up in the phone menu (a voice_calls row, no intake record).
_KST = timedelta(hours=9)
CONTACTS: list[tuple[datetime, str, int | None, str | None, int, int]] = [
    (z(2, 10) - _KST, "webchat", 1, "counselled", 30, 600),
    (z(2, 11) - _KST, "webchat", 1, "referred", 90, 1200),
    (z(2, 12) - _KST, "webchat", None, "abandoned", 300, 0),
    (z(2, 20) - _KST, "sms", 2, "abandoned", 20, 100),
    (z(3, 2) - _KST, "voice", None, "disconnected", 45, 0),
    (z(3, 3) - _KST, "voice", None, None, 0, 0),
    (z(3, 4) - _KST, "voice", 2, "counselled", 60, 900),
    (z(28, 23, 2) - _KST, "telegram", 1, "counselled", 10, 100),
    (z(2, 13) - _KST, "webchat", None, "not_relevant", 0, 0),
]

# Intake records counted by month: (opened_at, channel, harm, age, relation, platforms,
# referrals, outcome).
INTAKE: list[tuple[datetime, str, str, str, str, str, str, str]] = [
    (z(5, 3), "webchat", "synthetic", "18_24", "ex_partner", "telegram,x", "police,takedown",
     "referred"),
    (z(20, 3), "sms", "synthetic", "14_17", "online_only", "telegram", "takedown",
     "takedown_requested"),
    (z(2, 3, 4), "webchat", "distribution", "25_34", "ex_partner", "", "", "counselled"),
    # Written when a victim left before anyone answered: not counted.
    (z(7, 3), "webchat", "unknown", "unknown", "unknown", "", "", "abandoned"),
    # 28 February 23:30 in Seoul: outside the range.
    (z(28, 14, 2), "telegram", "sextortion", "18_24", "stranger", "meta", "", "counselled"),
    # 1 April 00:30 in Seoul is still 31 March in UTC: counted in April.
    (datetime(2026, 3, 31, 15, 30, tzinfo=UTC), "telegram", "sextortion", "18_24", "stranger",
     "meta", "", "counselled"),
]


async def load(engine: AsyncEngine) -> None:
    """Write the fixture (steps recorded when they happened)."""
    async with engine.begin() as conn:
        await conn.execute(insert(counselors), [
            {"id": STAFF + i, "name": f"c{i}", "role": "counselor", "languages": "ko",
             "password_hash": "x", "created_at": z(1)} for i in (1, 2)])
        await conn.execute(insert(takedown_items), [
            {"id": 1, "kind": "synthetic", "minor": False, "status": "open",
             "reporter": "victim", "created_at": z(1), "updated_at": z(1)},
            {"id": 2, "kind": "intimate", "minor": False, "status": "open",
             "reporter": "victim", "created_at": z(1), "updated_at": z(1)}])
        for rid, platform, route, basis, rung, state, due, steps in REQUESTS:
            await conn.execute(insert(takedown_requests).values(
                id=rid, item_id=1 if rid in (1, 2, 9) else 2, platform=platform, route=route,
                legal_basis=basis, language="en", due_hours=24, state=state, due_at=due,
                rung=rung, created_at=steps[0][1]))
            await conn.execute(insert(takedown_steps), [
                {"request_id": rid, "step": s, "at": at, "recorded_at": at}
                for s, at in steps])
        rows: list[dict[str, Any]] = []
        for n, (opened, channel, who, outcome, wait, handling) in enumerate(CONTACTS):
            if outcome is None:
                await conn.execute(insert(voice_calls).values(
                    call_sid=f"CA{n:032d}", direction="in", conversation_id=None,
                    state="ended", created_at=opened, updated_at=opened))
                continue
            # Harm "unknown": these are for the service report, not counted in intake's.
            rows.append(_record(f"svc{n}", opened, channel, who and STAFF + who, outcome,
                                wait, handling, harm="unknown"))
        for n, (opened, channel, harm, age, relation, platforms, refs, outcome) in enumerate(
                INTAKE):
            rows.append(_record(f"in{n}", opened, channel, STAFF + 1, outcome, 10, 10, harm=harm,
                                age=age, relation=relation, platforms=platforms,
                                referrals=refs))
        await conn.execute(insert(intake_records), rows)
        # Two callers who chose a call-back instead of waiting (not abandoned: the call-back
        # is a contact of its own): one from the menu (no case), one from the hold queue.
        chose = z(3, 5) - _KST
        await conn.execute(insert(intake_records).values(_record(
            "cbq", chose, "voice", None, "disconnected", 40, 0, harm="unknown")))
        await conn.execute(insert(conversations).values(
            id="cbq", channel="voice", pseudonym="pcbq", language="ko", status="closed",
            urgency="normal", created_at=chose, enqueued_at=chose, closed_at=chose,
            last_activity_at=chose))
        await conn.execute(insert(voice_calls), [
            {"call_sid": "CAmenu", "direction": "in", "conversation_id": None,
             "state": "ended", "created_at": chose, "updated_at": chose},
            {"call_sid": "CAhold", "direction": "in", "conversation_id": "cbq",
             "state": "ended", "created_at": chose, "updated_at": chose}])
        await conn.execute(insert(callbacks), [
            {"id": f"cb{n}", "source_key": f"voice:{sid}", "source_channel": "voice",
             "pseudonym": "p", "language": "ko", "window_start": chose, "window_end": chose,
             "leave_message": False, "status": "expired", "created_at": chose,
             "updated_at": chose} for n, sid in enumerate(("CAmenu", "CAhold"))])


def _record(cid: str, opened: datetime, channel: str, who: int | None, outcome: str,
            wait: int, handling: int, *, harm: str, age: str = "unknown",
            relation: str = "unknown", platforms: str = "", referrals: str = ""
            ) -> dict[str, Any]:
    return {"conversation_id": cid, "pseudonym": "p" + cid, "channel": channel,
            "language": "ko", "opened_at": opened,
            "closed_at": opened + timedelta(seconds=wait + handling),
            "wait_seconds": wait, "handling_seconds": handling, "harm_type": harm,
            "platforms": platforms, "age_band": age, "urgency": "normal",
            "referrals": referrals, "outcome": outcome, "counselor_id": who,
            "relation": relation}
