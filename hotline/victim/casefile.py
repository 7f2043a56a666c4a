"""Queries of a victim's case file: what the victim asked of takedown staff from the case
page, referrals given, and the case page's display choice (the victim room's tables; a case's
conversations are hotline.cases.case_rows'). Callers own transactions. See docs/victim.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.victim.tables import case_codes, case_requests, referrals_made

LINK = "link"
CONSENT_WITHDRAWN = "consent_withdrawn"


async def hide_platforms(conn: AsyncConnection, root_id: str) -> bool:
    found = (await conn.execute(select(case_codes.c.hide_platforms).where(
        case_codes.c.conversation_id == root_id))).scalar_one_or_none()
    return bool(found)


async def set_hide_platforms(conn: AsyncConnection, root_id: str, hide: bool) -> None:
    await conn.execute(update(case_codes).where(case_codes.c.conversation_id == root_id)
                       .values(hide_platforms=hide))


async def add_request(conn: AsyncConnection, root_id: str, kind: str, body: bytes | None,
                      at: datetime) -> int:
    return int((await conn.execute(insert(case_requests).values(
        conversation_id=root_id, kind=kind, body_sealed=body, created_at=at)
        .returning(case_requests.c.id))).scalar_one())


@dataclass(frozen=True)
class CaseRequest:
    id: int
    kind: str
    body_sealed: bytes | None
    created_at: datetime
    done_at: datetime | None


async def requests(conn: AsyncConnection, root_id: str) -> list[CaseRequest]:
    rows = await conn.execute(select(
        case_requests.c.id, case_requests.c.kind, case_requests.c.body_sealed,
        case_requests.c.created_at, case_requests.c.done_at).where(
        case_requests.c.conversation_id == root_id).order_by(case_requests.c.id))
    return [CaseRequest(*r) for r in rows]


async def consent_withdrawn(conn: AsyncConnection, root_id: str) -> bool:
    found = (await conn.execute(select(func.count()).select_from(case_requests).where(and_(
        case_requests.c.conversation_id == root_id,
        case_requests.c.kind == CONSENT_WITHDRAWN)))).scalar_one()
    return bool(found)


async def erase_requests(conn: AsyncConnection, conversation_ids: Sequence[str]) -> int:
    """Within an erasure: the links a victim sent go with everything else personal."""
    if not conversation_ids:
        return 0
    result = await conn.execute(delete(case_requests).where(
        case_requests.c.conversation_id.in_(list(conversation_ids))))
    return int(result.rowcount)


async def add_referrals(conn: AsyncConnection, conversation_id: str, codes: Sequence[str],
                        via: str, at: datetime) -> None:
    """Record referrals given (a code given twice counts once)."""
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for code in codes:
        await conn.execute(make(referrals_made).values(
            conversation_id=conversation_id, code=code, via=via, made_at=at)
            .on_conflict_do_nothing())


async def referrals_of(conn: AsyncConnection, conversation_id: str) -> list[str]:
    rows = await conn.execute(select(referrals_made.c.code).where(
        referrals_made.c.conversation_id == conversation_id).order_by(referrals_made.c.code))
    return [str(r[0]) for r in rows]


async def root_of_number(conn: AsyncConnection, number: str) -> str | None:
    """The first conversation of the case with this (stored-form) case number."""
    found = (await conn.execute(select(case_codes.c.conversation_id).where(
        case_codes.c.case_number == number))).scalar_one_or_none()
    return str(found) if found is not None else None
