"""Quick exit: a victim leaves the web chat in a hurry (someone may have come near).

The chat session ends on the server: it is listed in `chat_exits` (by a keyed digest, never
the cookie), so its cookie is refused on every instance for state, events and messages, and a
`chat.ended` event closes its open event streams wherever they are. The victim's open case is
marked as left (`conversations.victim_left_at`, audited, a `victim.left` event) and keeps a
note for the counselor; the rule on abandoned contacts closes it (services/abandon.py: at once
while waiting, after the holder's notice time while held). See docs/webchat.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hotline.audit import log as audit
from hotline.cases import case_rows, inbox
from hotline.cases import conversations as convs
from hotline.deps import Deps
from hotline.domain import abandon as abandon_rule
from hotline.domain.conversation import Channel, Inbound, Stored
from hotline.domain.event_types import EventType
from hotline.stores.sql.direct import Prebuilt, Sql, first
from hotline.victim.tables import chat_exits

log = logging.getLogger(__name__)

ENDED = EventType.CHAT_ENDED
LEFT = EventType.VICTIM_LEFT


def chat_ref(deps: Deps, chat_id: str) -> str:
    """How the server names an ended chat session: not its cookie, and not the pseudonym its
    conversations carry (the list of exits cannot be joined to cases)."""
    return deps.keyring.pseudonymize("chat-exit", chat_id)


class ChatEnded(Exception):
    """The chat session was ended with Quick exit: its cookie is refused."""


_ENDED = Prebuilt(select(chat_exits.c.chat_ref)
                  .where(chat_exits.c.chat_ref == bindparam("b_ref")))


async def has_ended(conn: Sql, deps: Deps, chat_id: str) -> bool:
    """Whether the chat session was ended with Quick exit (on the caller's connection)."""
    return await first(conn, _ENDED, {"b_ref": chat_ref(deps, chat_id)}) is not None


def refuse_if_ended(deps: Deps, chat_id: str) -> inbox.InTx:
    """For inbox.receive: inside the message's own transaction (no second round trip on
    the message path), raise ChatEnded if the session has ended; nothing is stored."""
    async def check(conn: Sql, _stored: Stored) -> None:
        if await has_ended(conn, deps, chat_id):
            raise ChatEnded(chat_ref(deps, chat_id))
    return check


async def leave(deps: Deps, chat_id: str, marker: Callable[[str], str]) -> str | None:
    """End the chat session and mark its open case as left by the victim, with the note
    `marker(language)` in it; the case's id, or None if none was open. Repeats change
    nothing."""
    now = datetime.now(UTC)
    ref = chat_ref(deps, chat_id)
    pseudonym = deps.keyring.pseudonymize(Channel.WEBCHAT.value, chat_id)
    async with deps.engine.begin() as conn:
        make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        await conn.execute(make(chat_exits).values(chat_ref=ref, ended_at=now)
                           .on_conflict_do_nothing())
        conv = await convs.find_open(conn, Channel.WEBCHAT, pseudonym)
        if conv is not None:
            # The rule on abandoned contacts takes it from here (services/abandon.py): a
            # waiting case closes at once, a held one after its holder's notice time.
            if not await case_rows.mark_left(conn, conv.id, now, abandon_rule.after_quick_exit(
                    conv.status, now, deps.config.abandoned)):
                conv = None  # already marked: nothing new to say
            else:
                await audit.record(conn, at=now, actor_id=None, action="case.victim_left",
                                   target_kind="conversation", target_id=conv.id,
                                   how="quick_exit", was=conv.status.value)
    # Open streams of this session close on every instance, before anything else is said.
    await deps.publish({"type": ENDED, "chat": ref})
    if conv is None:
        return None
    # The counselor must know: a quick exit can mean someone came near the victim, and no
    # answer will come from that browser.
    await inbox.receive(deps, Inbound(
        channel=Channel.WEBCHAT, address=chat_id, text=marker(conv.language),
        provider_id=f"{chat_id}:quick-exit", language=conv.language, received_at=now,
        system=True))
    await deps.publish({"type": LEFT, "conversation": conv.id,
                        "counselor": conv.counselor_id})
    log.info("victim left", extra={"conversation": conv.id, "was": conv.status.value})
    return conv.id
