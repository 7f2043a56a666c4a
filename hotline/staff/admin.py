"""What an admin does to staff accounts (the console's /console/staff and `hotline staff`):
add, edit, deactivate, reactivate, reset a password or second factor, end sessions. Every
change is audited with ids and field names only. See docs/staff.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from hotline.audit import log as audit
from hotline.audit import search as audit_log
from hotline.cases import handover, staffing
from hotline.crypto import new_token
from hotline.deps import Deps
from hotline.domain.accounts import FieldError, Fields, check_name, check_password
from hotline.domain.event_types import EventType
from hotline.domain.staff import Role, Staff
from hotline.staff import accounts as staff_store
from hotline.staff import sessions, store
from hotline.staff.auth import hash_password

log = logging.getLogger(__name__)


class NoSuchMember(LookupError):
    """No account with that id or name (or an action on oneself that is refused)."""


@dataclass(frozen=True)
class Reset:
    """A one-time password reset: the token is shown once and stored only as a digest."""

    token: str
    expires_at: datetime

    def link(self, public_url: str) -> str:
        return f"{public_url.rstrip('/')}/console/reset/{self.token}"


async def _audit(deps: Deps, actor_id: int | None, action: str, target: int,
                 **detail: object) -> None:
    await audit_log.note(deps, actor_id, action, "counselor", str(target), **detail)


async def _resync(deps: Deps, counselor_id: int) -> None:
    await staffing.sync_one(deps, counselor_id)
    await deps.publish({"type": EventType.ROSTER, "counselor": counselor_id})


async def add(deps: Deps, actor_id: int | None, name: object, role: Role, fields: Fields,
              password: str | None = None) -> tuple[int, Reset | None]:
    """A new account. Without a password it gets a reset link to choose one (shown once)."""
    name = check_name(name)
    langs = fields.languages or ()
    if not langs:
        raise FieldError("languages", "expected one or more languages")
    if password is not None:
        check_password(password, deps.config.console.min_password_chars)
    pw_hash = hash_password(password if password is not None else new_token())
    try:
        async with deps.engine.begin() as conn:
            new_id = await staff_store.add(conn, name=name, role=role, languages=langs,
                                           password_hash=pw_hash, at=datetime.now(UTC))
            extra = Fields(channels=fields.channels, specialisms=fields.specialisms,
                           max_chats=fields.max_chats).columns()
            if extra:
                await store.update_fields(conn, new_id, **extra)
            await audit.record(conn, at=datetime.now(UTC), actor_id=actor_id,
                               action="staff.added", target_kind="counselor",
                               target_id=str(new_id), role=role.value,
                               fields=sorted(fields.columns()))
    except IntegrityError:
        raise FieldError("name", "already taken") from None
    reset = None if password is not None else await reset_password(deps, actor_id, new_id)
    await _resync(deps, new_id)
    return new_id, reset


async def edit(deps: Deps, actor_id: int | None, counselor_id: int, fields: Fields) -> None:
    if await _get(deps, counselor_id) is None:
        raise NoSuchMember(counselor_id)
    columns = fields.columns()
    if not columns:
        raise FieldError("fields", "expected at least one of role, languages, channels, "
                                   "specialisms, max_chats")
    async with deps.engine.begin() as conn:
        await store.update_fields(conn, counselor_id, **columns)
        await audit.record(conn, at=datetime.now(UTC), actor_id=actor_id, action="staff.edited",
                           target_kind="counselor", target_id=str(counselor_id),
                           fields=sorted(columns), role=columns.get("role"))
    await _resync(deps, counselor_id)


async def deactivate(deps: Deps, actor_id: int | None, counselor_id: int) -> list[str]:
    """The account stops working at once: sessions and streams end on every instance, held
    cases go by the handover rules, routing forgets the person; the history stays. Returns
    the cases handed over."""
    if actor_id == counselor_id:
        raise FieldError("id", "you cannot deactivate your own account")
    found = await _get(deps, counselor_id)
    if found is None:
        raise NoSuchMember(counselor_id)
    if found.active:
        async with deps.engine.begin() as conn:
            await store.update_fields(conn, counselor_id, active=False,
                                      deactivated_at=datetime.now(UTC))
    await sessions.end_all(deps, counselor_id, "deactivated", actor_id)
    moved = await handover.release_all(deps, counselor_id, "deactivated")
    await _resync(deps, counselor_id)
    await _audit(deps, actor_id, "staff.deactivated", counselor_id, cases_moved=len(moved))
    return moved


async def reactivate(deps: Deps, actor_id: int | None, counselor_id: int) -> None:
    if await _get(deps, counselor_id) is None:
        raise NoSuchMember(counselor_id)
    async with deps.engine.begin() as conn:
        await store.update_fields(conn, counselor_id, active=True, deactivated_at=None)
        await audit.record(conn, at=datetime.now(UTC), actor_id=actor_id,
                           action="staff.reactivated", target_kind="counselor",
                           target_id=str(counselor_id))
    await _resync(deps, counselor_id)


async def reset_password(deps: Deps, actor_id: int | None, counselor_id: int) -> Reset:
    """A one-time reset token (any earlier one stops working). The old password keeps
    working until the new one is set."""
    if await _get(deps, counselor_id) is None:
        raise NoSuchMember(counselor_id)
    token = new_token()
    now = datetime.now(UTC)
    expires = now + timedelta(hours=deps.config.console.password_reset_hours)
    async with deps.engine.begin() as conn:
        await store.add_reset(conn, digest=deps.keyring.digest_token(token),
                              counselor_id=counselor_id, created_by=actor_id, at=now,
                              expires_at=expires)
        await audit.record(conn, at=now, actor_id=actor_id, action="staff.password_reset",
                           target_kind="counselor", target_id=str(counselor_id),
                           expires_at=expires.isoformat())
    return Reset(token, expires)


async def reset_second_factor(deps: Deps, actor_id: int | None, counselor_id: int) -> None:
    """Forget someone's second factor and recovery codes (a lost phone); they enrol again at
    their next login. Their sessions end."""
    if await _get(deps, counselor_id) is None:
        raise NoSuchMember(counselor_id)
    async with deps.engine.begin() as conn:
        await store.clear_second_factor(conn, counselor_id)
        await audit.record(conn, at=datetime.now(UTC), actor_id=actor_id,
                           action="staff.2fa_reset", target_kind="counselor",
                           target_id=str(counselor_id))
    await sessions.end_all(deps, counselor_id, "2fa_reset", actor_id)


async def _get(deps: Deps, counselor_id: int) -> store.Member | None:
    async with deps.engine.connect() as conn:
        return await store.member(conn, counselor_id)


async def by_name(deps: Deps, name: str) -> store.Member:
    async with deps.engine.connect() as conn:
        found = await store.member_named(conn, name)
    if found is None:
        raise NoSuchMember(name)
    return found


async def listing(deps: Deps) -> list[store.Member]:
    async with deps.engine.connect() as conn:
        return await store.members(conn)


async def sessions_of(deps: Deps, counselor_id: int) -> list[dict[str, object]]:
    if await _get(deps, counselor_id) is None:
        raise NoSuchMember(counselor_id)
    async with deps.engine.connect() as conn:
        return list(await store.sessions_of(conn, counselor_id))


async def names(deps: Deps) -> dict[int, str]:
    """Every staff member's name by id (the audit log shows who acted)."""
    return {m.id: m.name for m in await listing(deps)}


async def member(deps: Deps, counselor_id: int) -> store.Member | None:
    return await _get(deps, counselor_id)


async def logged_in_as(deps: Deps, counselor_id: int) -> Staff | None:
    """The active account as the console sees it (None once deactivated)."""
    async with deps.engine.connect() as conn:
        return await staff_store.by_id(conn, counselor_id)
