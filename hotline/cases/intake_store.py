"""The anonymized intake records (table intake_records, owned here): one per contact, written
as it closes, by whoever closed it (the counselor's form, the victim ending it or asking to be
forgotten, the abandoned-contact rule, a call-back nobody could take). Callers own the
transaction. See docs/privacy.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.cases.conversations import ConversationRow
from hotline.cases.tables import intake_records


@dataclass(frozen=True)
class IntakeRecord:
    """One record: no text, no address; `pseudonym` is the sender's (unlinked on erasure)."""

    conversation_id: str
    pseudonym: str
    channel: str
    language: str
    opened_at: datetime
    closed_at: datetime
    wait_seconds: int
    handling_seconds: int
    harm_type: str
    urgency: str
    outcome: str
    counselor_id: int | None
    platforms: str = ""
    age_band: str = "unknown"
    referrals: str = ""
    referred_to: str = ""
    relation: str = "unknown"


def record_of(conv: ConversationRow, *, closed_at: datetime, wait_seconds: int,
              handling_seconds: int, harm_type: str, outcome: str, counselor_id: int | None,
              **rest: str) -> IntakeRecord:
    """A record of `conv` with the conversation's own fields filled in; times never negative
    (a clock step must not make a negative wait)."""
    return IntakeRecord(
        conversation_id=conv.id, pseudonym=conv.pseudonym, channel=conv.channel.value,
        language=conv.language, opened_at=conv.created_at, closed_at=closed_at,
        wait_seconds=max(0, wait_seconds), handling_seconds=max(0, handling_seconds),
        harm_type=harm_type, urgency=rest.pop("urgency", conv.urgency.value), outcome=outcome,
        counselor_id=counselor_id, **rest)


async def write(conn: AsyncConnection, record: IntakeRecord) -> None:
    await conn.execute(insert(intake_records).values(**dataclasses.asdict(record)))


async def exists(conn: AsyncConnection, conversation_id: str) -> bool:
    return (await conn.execute(select(intake_records.c.id).where(
        intake_records.c.conversation_id == conversation_id))).first() is not None


async def unlink(conn: AsyncConnection, conversation_ids: Sequence[str],
                 pseudonym: Callable[[], str]) -> None:
    """Give each record of these conversations a pseudonym of its own (`pseudonym()`), so
    nothing left links them to the sender or to each other (erasure)."""
    for rec in list(await conn.execute(select(intake_records.c.id).where(
            intake_records.c.conversation_id.in_(list(conversation_ids))))):
        await conn.execute(update(intake_records).where(intake_records.c.id == rec.id)
                           .values(pseudonym=pseudonym()))
