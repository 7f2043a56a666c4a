"""Ending staff sessions: a logout ends one; a password change or a deactivation ends all of
a person's at once (`end_all`, for the code that will change passwords and deactivate).

Either way the session rows go from SQL (every instance's next request is refused), a
`session.revoked` event tells every instance to close that session's open event streams at
once, and the person goes offline. A stream whose event was lost (Redis unreachable at that
moment) still ends at its next heartbeat, which checks the session in SQL. See docs/console.md.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from redis.exceptions import RedisError

from hotline.services import presence
from hotline.services.deps import Deps
from hotline.stores.sql import audit
from hotline.stores.sql import staff as staff_store

log = logging.getLogger(__name__)

REVOKED = "session.revoked"


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
