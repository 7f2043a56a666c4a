"""Ending staff sessions: a logout ends one; a password change or a deactivation ends all of
a person's at once (`end_all`: deactivation, a reset password or second factor); a person's
own password change ends all but the session in use (`end_others`); an admin ends one
(`end_by_ref`).

Either way the session rows go from SQL (every instance's next request is refused), a
`session.revoked` event tells every instance to close that session's open event streams at
once, and the person goes offline. A stream whose event was lost (Redis unreachable at that
moment) still ends at its next heartbeat, which checks the session in SQL. See docs/console.md.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from redis.exceptions import RedisError

from hotline.audit import log as audit
from hotline.cases import presence
from hotline.deps import Deps
from hotline.domain.event_types import EventType
from hotline.staff import accounts as staff_store
from hotline.staff import store as staff_admin_store

log = logging.getLogger(__name__)

REVOKED = EventType.SESSION_REVOKED


def session_ref(token_digest: str) -> str:
    """How events and stream caps name a session: a prefix of its stored digest."""
    return token_digest[:16]


async def end_one(deps: Deps, counselor_id: int, token_digest: str) -> None:
    """Logout: this session ends; its streams close on every instance; the person goes
    offline."""
    async with deps.engine.begin() as conn:
        await staff_store.end_session(conn, token_digest)
    await _revoked(deps, counselor_id, session_ref(token_digest))


async def end_all(deps: Deps, counselor_id: int, reason: str, actor_id: int | None) -> int:
    """Every session of a person ends (a password change, a deactivation: `reason` says
    which), audited; their streams close on every instance and they go offline. Returns how
    many sessions there were."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        ended = await staff_store.end_sessions_of(conn, counselor_id)
        await audit.record(conn, at=now, actor_id=actor_id, action="sessions.ended",
                           target_kind="counselor", target_id=str(counselor_id),
                           reason=reason, sessions=ended)
    await _revoked(deps, counselor_id, None)
    return ended


async def end_others(deps: Deps, counselor_id: int, keep_digest: str, reason: str) -> int:
    """Every session of a person but the one in use ends (their own password change),
    audited like `end_all`; the kept session's streams stay open."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        refs = await staff_admin_store.end_sessions_except(conn, counselor_id, keep_digest)
        await audit.record(conn, at=now, actor_id=counselor_id, action="sessions.ended",
                           target_kind="counselor", target_id=str(counselor_id),
                           reason=reason, sessions=len(refs))
    for ref in refs:
        await deps.publish({"type": REVOKED, "counselor": counselor_id, "session": ref})
    return len(refs)


async def end_by_ref(deps: Deps, counselor_id: int, ref: str, actor_id: int) -> bool:
    """An admin ends one session (named by its ref, as the session list shows it)."""
    async with deps.engine.begin() as conn:
        ended = await staff_admin_store.end_session_by_ref(conn, counselor_id, ref)
        if ended:
            await audit.record(conn, at=datetime.now(UTC), actor_id=actor_id,
                               action="sessions.ended", target_kind="counselor",
                               target_id=str(counselor_id), reason="ended_by_admin",
                               sessions=1)
    if ended:
        await deps.publish({"type": REVOKED, "counselor": counselor_id, "session": ref})
    return ended


def revokes(event: dict[str, object], counselor_id: int, ref: str) -> bool:
    """Whether `event` ends the streams of session `ref` of `counselor_id`."""
    return (event.get("type") == REVOKED and event.get("counselor") == counselor_id
            and event.get("session") in (None, ref))


async def _revoked(deps: Deps, counselor_id: int, ref: str | None) -> None:
    # Streams first: the person's screens stop at once, whatever presence then does.
    await deps.publish({"type": REVOKED, "counselor": counselor_id, "session": ref})
    try:
        await presence.sign_out(deps, counselor_id)
    except (RedisError, OSError) as e:
        # The session has ended (SQL) and no stream beats for it any more: their presence
        # lapses within routing.presence_timeout_seconds.
        log.warning("presence not ended at once", extra={"counselor": counselor_id,
                                                         "error": type(e).__name__})
    log.info("sessions revoked", extra={"counselor": counselor_id, "all": ref is None})
