"""PostgreSQL: an inbound message's number, its row and its channel's state in one statement.

On PostgreSQL every statement is a round trip (about 30 us of this process's CPU and a wake-up
of the loop), so the common path of `inbox._store_in_tx` (bump the open conversation, insert
the message, the channel's read of its dialogue state) is one data-modifying CTE here:

    WITH bumped AS (UPDATE conversations ... RETURNING ...),
         ins AS (INSERT INTO messages ... SELECT ... FROM bumped WHERE id = <guess>
                 AND next_seq = <guess> ON CONFLICT (provider_key) DO NOTHING RETURNING id)
    SELECT bumped.*, EXISTS (SELECT FROM ins), <the channel's reads> FROM bumped

The body is sealed before the statement with its conversation and number as associated data
(`msg:{conversation}:{seq}`), so both are guessed: the number this process allocated last for
the sender, plus one (`Guesses`, kept only after a commit). The insert runs only if the guess
was right; otherwise the caller inserts with the number allocated, as on SQLite. A right guess
also means no other transaction allocated a number in the conversation since that commit, so
the reads, made in the statement's snapshot, are not older than the row lock the UPDATE may
have waited for; after a wrong guess the channel reads afresh. See docs/inbox.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    LargeBinary,
    String,
    and_,
    bindparam,
    exists,
    literal,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from hotline.cases.conversations import NOT_CLOSED, OpenCase, Reads
from hotline.cases.tables import conversations, messages
from hotline.domain.conversation import Urgency
from hotline.stores.sql.direct import Prebuilt, Row
from hotline.stores.sql.group import Ahead

# Senders whose next number is remembered (about 200 bytes each); the oldest go first.
_GUESSES = 20_000


class Guesses:
    """The conversation and next number of recent senders, as this process last committed
    them (inbound messages and counselors' replies). A guess is only a guess: the statement
    checks it. Kept on PostgreSQL only (`on`); SQLite has no round trips to save."""

    def __init__(self, on: bool, most: int = _GUESSES) -> None:
        self._on = on
        self._most = most
        self._next: dict[str, tuple[str, int]] = {}

    def get(self, channel: str, pseudonym: str) -> tuple[str, int] | None:
        return self._next.get(f"{channel}:{pseudonym}") if self._on else None

    def stored(self, channel: str, pseudonym: str, conversation_id: str, seq: int) -> None:
        """Call after the COMMIT that stored number `seq` in the sender's conversation (a guess
        taken from a number not yet committed could let the reads be older than the row lock
        waited for): the next is seq + 1."""
        if not self._on:
            return
        sender = f"{channel}:{pseudonym}"
        self._next.pop(sender, None)
        self._next[sender] = (conversation_id, seq + 1)
        if len(self._next) > self._most:
            del self._next[next(iter(self._next))]


_BUILT: dict[tuple[bool, Reads | None], Prebuilt] = {}


def _statement(victim: bool, reads: Reads | None) -> Prebuilt:
    found = _BUILT.get((victim, reads))
    if found is not None:
        return found
    values: dict[str, Any] = {
        "next_seq": conversations.c.next_seq + 1,
        "last_activity_at": bindparam("b_at", type_=conversations.c.last_activity_at.type)}
    if victim:  # as conversations._BUMP_BY_VICTIM
        values["abandon_at"] = bindparam("b_deadline", type_=conversations.c.abandon_at.type)
        values["victim_left_at"] = None
    bumped = (update(conversations)
              .where(and_(conversations.c.channel == bindparam("b_channel"),
                          conversations.c.pseudonym == bindparam("b_pseudonym"), NOT_CLOSED))
              .values(**values)
              .returning(conversations.c.id, conversations.c.urgency,
                         conversations.c.urgency_reasons, conversations.c.next_seq,
                         conversations.c.signals_withdrawn, conversations.c.status,
                         conversations.c.language)
              .cte("bumped"))
    ins = (pg_insert(messages).from_select(
        ["conversation_id", "seq", "direction", "body_sealed", "provider_key", "delivery",
         "counselor_id", "created_at"],
        select(bumped.c.id, bumped.c.next_seq, bindparam("b_direction", type_=String),
               bindparam("b_body", type_=LargeBinary), bindparam("b_key", type_=String),
               literal("stored", String), null(),
               bindparam("b_at", type_=messages.c.created_at.type))
        .where(and_(bumped.c.id == bindparam("b_guess_id", type_=String),
                    bumped.c.next_seq == bindparam("b_guess_seq"))))
        .on_conflict_do_nothing(index_elements=[messages.c.provider_key])
        .returning(messages.c.id)
        .cte("ins"))
    # Exactly one row, NULLs when nothing was bumped: a batch runs this statement for several
    # messages in one round trip and tells their rows apart by their order (group.Ahead).
    one = select(literal(1, Integer).label("one")).subquery("one")
    stmt = (select(bumped.c.id, bumped.c.urgency, bumped.c.urgency_reasons, bumped.c.next_seq,
                   bumped.c.signals_withdrawn, bumped.c.status, bumped.c.language,
                   exists(select(ins.c.id)).label("inserted"),
                   *(reads(bumped.c.id) if reads is not None else ()))
            .select_from(one.outerjoin(bumped, true())))
    built = _BUILT[(victim, reads)] = Prebuilt(stmt)
    return built


@dataclass(frozen=True)
class Bumped:
    """What the statement did: the conversation and number allocated, whether the message
    was inserted (None: the guess was wrong, nothing inserted; False: its provider key is
    stored already), and (with a right guess) the conversation's status and language
    followed by the columns of the channel's reads."""

    case: OpenCase
    seq: int
    inserted: bool | None
    read: tuple[Any, ...] | None


def ahead(*, channel: str, pseudonym: str, at: datetime, deadline: datetime | None,
          victim: bool, guess: tuple[str, int], direction: str, body_sealed: bytes,
          provider_key: str, reads: Reads | None) -> Ahead:
    """The statement that bumps the sender's open conversation and, if `guess` is its next
    number, inserts the message sealed for it; for GroupCommit.run (`bumped` reads its row)."""
    params: dict[str, Any] = {
        "b_channel": channel, "b_pseudonym": pseudonym, "b_at": at,
        "b_guess_id": guess[0], "b_guess_seq": guess[1], "b_direction": direction,
        "b_body": body_sealed, "b_key": provider_key}
    if victim:
        params["b_deadline"] = deadline
    return Ahead(_statement(victim, reads), params)


def bumped(row: Row | None, guess: tuple[str, int]) -> Bumped | None:
    """What the statement of `ahead` did; None: no open conversation, nothing written."""
    if row is None or row[0] is None:
        return None
    case = OpenCase(row[0], Urgency(row[1]), tuple(x for x in row[2].split(",") if x),
                    tuple(x for x in row[4].split(",") if x))
    seq = int(row[3])
    if (case.id, seq) != guess:
        return Bumped(case, seq, None, None)
    return Bumped(case, seq, bool(row[7]), (row[5], row[6], *row[8:]))
