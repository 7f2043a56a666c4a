"""The floor's bounded reads of conversations: counts per group, pages in queue or holding
order, aging's overdue cases and the reconciler's slices, each served by a partial index of
migration 0020 (docs/stores.md, "The waiting and the open"), and how long the victims of a
page of cases have waited for a reply. Callers own the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Select, and_, bindparam, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.cases.conversations import CONV_COLS, NOT_CLOSED, ConversationRow, row_of
from hotline.cases.tables import conversations, messages
from hotline.domain.conversation import Channel, Direction, Urgency

# Written as the literals the partial indexes of migration 0020 are defined with (see
# NOT_CLOSED): with a bound parameter SQLite would not use them.
_WAITING = conversations.c.status == literal_column("'waiting'")
# SQLite's planner, without statistics, prefers the equality on ix_conversations_status and
# reads every waiting row: these queries name their index there (PostgreSQL plans by cost).
_BY_WAITING = "INDEXED BY ix_conversations_waiting"
_BY_OPEN_ID = "INDEXED BY ix_conversations_open_id"


@dataclass(frozen=True)
class WaitingGroup:
    """How many cases of one language, channel and urgency wait, and since when the oldest."""

    language: str
    channel: Channel
    urgency: Urgency
    count: int
    oldest: datetime


async def waiting_groups(conn: AsyncConnection) -> list[WaitingGroup]:
    """Counts of waiting (and offered) cases per language, channel and urgency, read from
    ix_conversations_waiting alone: a few rows whatever the queue's length."""
    c = conversations.c
    rows = await conn.execute(
        select(c.language, c.channel, c.urgency, func.count(), func.min(c.enqueued_at))
        .with_hint(conversations, _BY_WAITING, "sqlite")
        .where(_WAITING).group_by(c.language, c.channel, c.urgency))
    return [WaitingGroup(r[0], Channel(r[1]), Urgency(r[2]), int(r[3]), r[4]) for r in rows]


async def oldest_waiting(conn: AsyncConnection, language: str, channel: Channel) -> str | None:
    """The id of the longest-waiting case of one language and channel (any urgency)."""
    c = conversations.c
    row = (await conn.execute(select(c.id).where(and_(
        _WAITING, c.language == language, c.channel == channel.value))
        .order_by(c.enqueued_at, c.id).limit(1))).first()
    return str(row[0]) if row else None


async def overdue(conn: AsyncConnection, urgency: Urgency, enqueued_before: datetime,
                  limit: int) -> list[ConversationRow]:
    """Waiting cases of one urgency enqueued before a time, longest waiting first (aging's
    work list, from ix_conversations_waiting)."""
    rows = await conn.execute(select(*CONV_COLS).with_hint(conversations, _BY_WAITING, "sqlite")
                              .where(and_(_WAITING, conversations.c.urgency == urgency.value,
                                          conversations.c.enqueued_at < enqueued_before))
                              .order_by(conversations.c.enqueued_at).limit(limit))
    return [row_of(r) for r in rows]


async def active_page(conn: AsyncConnection, limit: int,
                      after: tuple[datetime, str] | None = None
                      ) -> tuple[list[ConversationRow], int]:
    """Up to `limit` active cases, longest held first, after (assigned_at, id); and how many
    are active in all."""
    c = conversations.c
    held = c.status == literal_column("'active'")
    query = select(*CONV_COLS).where(held)
    if after is not None:
        query = query.where((c.assigned_at > after[0])
                            | and_(c.assigned_at == after[0], c.id > after[1]))
    rows = await conn.execute(query.order_by(c.assigned_at, c.id).limit(limit))
    total = (await conn.execute(select(func.count()).select_from(conversations)
                                .where(held))).scalar_one()
    return [row_of(r) for r in rows], int(total)


async def open_in_range(conn: AsyncConnection, low: str, high: str | None
                        ) -> list[ConversationRow]:
    """Open conversations whose id is in [low, high) (high None: no end), from
    ix_conversations_open_id: the reconciler's slice."""
    c = conversations.c
    query = select(*CONV_COLS).with_hint(conversations, _BY_OPEN_ID, "sqlite").where(
        and_(NOT_CLOSED, c.id >= low))
    if high is not None:
        query = query.where(c.id < high)
    return [row_of(r) for r in await conn.execute(query)]


async def by_ids(conn: AsyncConnection, ids: list[str]) -> list[ConversationRow]:
    """The conversations of these ids that exist (any status), 500 ids a statement."""
    out: list[ConversationRow] = []
    for start in range(0, len(ids), 500):
        rows = await conn.execute(select(*CONV_COLS).where(
            conversations.c.id.in_(ids[start:start + 500])))
        out += [row_of(r) for r in rows]
    return out


async def count_open(conn: AsyncConnection) -> int:
    """How many conversations are open (counted in ix_conversations_open_id)."""
    return int((await conn.execute(select(func.count()).select_from(conversations)
                                   .with_hint(conversations, _BY_OPEN_ID, "sqlite")
                                   .where(NOT_CLOSED))).scalar_one())


async def waiting_page(conn: AsyncConnection, limit: int,
                       after: tuple[Urgency, datetime, str] | None = None
                       ) -> list[ConversationRow]:
    """Up to `limit` waiting cases in queue order (urgency, then longest wait) after the
    (urgency, enqueued_at, id) of a previous page's last case: `hotline queue`, from SQL."""
    c = conversations.c
    out: list[ConversationRow] = []
    for level in sorted(Urgency, key=lambda u: u.rank):
        if after is not None and level.rank < after[0].rank:
            continue
        query = select(*CONV_COLS).with_hint(conversations, _BY_WAITING, "sqlite").where(
            and_(_WAITING, c.urgency == level.value))
        if after is not None and level == after[0]:
            query = query.where((c.enqueued_at > after[1])
                                | and_(c.enqueued_at == after[1], c.id > after[2]))
        rows = await conn.execute(query.order_by(c.enqueued_at, c.id).limit(limit - len(out)))
        out += [row_of(r) for r in rows]
        if len(out) >= limit:
            break
    return out


def _unanswered_query() -> Select[Any]:
    ids: BindParameter[str] = bindparam("ids", expanding=True)
    last_out = (select(messages.c.conversation_id, func.max(messages.c.seq).label("seq"))
                .where(and_(messages.c.conversation_id.in_(ids),
                            messages.c.direction == Direction.OUT.value))
                .group_by(messages.c.conversation_id).subquery())
    return (select(messages.c.conversation_id, func.min(messages.c.created_at))
            .select_from(messages.outerjoin(
                last_out, last_out.c.conversation_id == messages.c.conversation_id))
            .where(and_(messages.c.conversation_id.in_(ids),
                        messages.c.direction == Direction.IN.value,
                        messages.c.seq > func.coalesce(last_out.c.seq, 0)))
            .group_by(messages.c.conversation_id))


# Built once: built for every floor and case read, its subquery's copied columns made
# reference cycles, left for the garbage collector (bench/README.md).
_UNANSWERED = _unanswered_query()


async def unanswered_since(conn: AsyncConnection, ids: list[str]) -> dict[str, datetime]:
    """For each of `ids` whose victim wrote after the last reply (or was never answered),
    when the first such message came: how long the victim has waited for a reply."""
    if not ids:
        return {}
    rows = await conn.execute(_UNANSWERED, {"ids": ids})
    return {r[0]: r[1] for r in rows}
