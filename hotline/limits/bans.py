"""The ban list: a lead bans a sender or a client address, with a reason code, until a time. A
banned sender gets the same calm answer as a flood, and nothing of theirs is stored or reaches
staff. Every ban and lift is audited. See docs/limits.md.

Bans live in SQL; each instance checks against its own copy in memory (bancache.BanCache), so a
check costs no I/O and still holds while Redis is down. The copy is reloaded at start, after a
change here, when another instance announces one (event "bans"), and every REFRESH_S.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from hotline.audit import log as audit
from hotline.cases.casework import load_case
from hotline.domain.bans import Ban, BanList, Kind
from hotline.domain.conversation import Channel
from hotline.domain.event_types import EventType
from hotline.domain.staff import Staff
from hotline.jobs import pause
from hotline.limits import ban_store as store
from hotline.staff import accounts as staff_store

if TYPE_CHECKING:
    from hotline.deps import Deps

log = logging.getLogger(__name__)

# Another instance's change reaches this one by its event at once; this is the fallback.
REFRESH_S = 30.0


class OriginUnknown(LookupError):
    """The case's client address is not known (not a web chat case, or too old)."""


async def refresh(deps: Deps) -> int:
    """Reload this instance's copy from SQL; how many bans are in force."""
    async with deps.engine.connect() as conn:
        found = await store.in_force(conn, datetime.now(UTC))
    deps.bans.current = BanList.of(found)
    return len(found)


async def add(deps: Deps, *, kind: Kind, subject: str, channel: str | None, reason: str,
              expires_at: datetime, actor_id: int, conversation_id: str | None = None) -> Ban:
    """Record a ban (audited) and put it in force on every instance."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        ban = await store.add(conn, kind=kind, subject=subject, channel=channel, reason=reason,
                              conversation_id=conversation_id, at=now, by=actor_id,
                              expires_at=expires_at)
        await audit.record(conn, at=now, actor_id=actor_id, action="ban.added",
                           target_kind="ban", target_id=str(ban.id), kind=kind.value,
                           channel=channel, reason=reason, case=conversation_id,
                           expires_at=expires_at.isoformat())
    await _changed(deps)
    log.info("ban added", extra={"ban": ban.id, "kind": kind.value, "reason": reason})
    return ban


async def ban_case(deps: Deps, staff: Staff, conversation_id: str, scope: Kind, reason: str,
                   expires_at: datetime) -> Ban:
    """Ban the sender of a case, or the client address it was opened from, without anyone
    seeing either. CaseNotFound if `staff` may not see the case; OriginUnknown for an address
    that is not known."""
    async with deps.engine.connect() as conn:
        conv = await load_case(conn, staff, conversation_id)
    if scope == Kind.SENDER:
        subject, channel = conv.pseudonym, conv.channel.value
    else:
        tag = None
        if conv.channel == Channel.WEBCHAT:
            try:
                tag = await deps.redis.get(deps.keys.origin(conv.id))
            except (RedisError, OSError):
                tag = None
        if not tag:
            raise OriginUnknown(conversation_id)
        subject, channel = str(tag), None
    return await add(deps, kind=scope, subject=subject, channel=channel, reason=reason,
                     expires_at=expires_at, actor_id=staff.id, conversation_id=conv.id)


async def lift(deps: Deps, ban_id: int, actor_id: int) -> bool:
    """End a ban now (audited); False if there is no such ban."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        gone = await store.remove(conn, ban_id)
        if gone is None:
            return False
        await audit.record(conn, at=now, actor_id=actor_id, action="ban.lifted",
                           target_kind="ban", target_id=str(ban_id), kind=gone.kind.value,
                           reason=gone.reason, case=gone.conversation_id)
    await _changed(deps)
    log.info("ban lifted", extra={"ban": ban_id})
    return True


async def listing(deps: Deps) -> tuple[list[Ban], dict[int, str]]:
    """The bans in force, oldest first, and the names of the staff who made them."""
    async with deps.engine.connect() as conn:
        found = await store.active(conn, datetime.now(UTC))
        names = await staff_store.names(
            conn, sorted({b.created_by for b in found if b.created_by is not None}))
    return found, names


async def _changed(deps: Deps) -> None:
    await refresh(deps)
    await deps.publish({"type": EventType.BANS})


async def run_bans(deps: Deps, stop: asyncio.Event, wake: asyncio.Event) -> None:
    """Forever: reload the copy (at once when `wake` is set by a "bans" event, else every
    REFRESH_S) and delete bans that have ended."""
    while not stop.is_set():
        await refresh(deps)
        async with deps.engine.begin() as conn:
            await store.purge_expired(conn, datetime.now(UTC))
        await pause(stop, REFRESH_S, wake)
