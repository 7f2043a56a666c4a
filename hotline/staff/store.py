"""SQL for staff administration: account fields, second factor, recovery codes, password
resets, login challenges, the holiday calendar (migration 0017) and the counselors' sealed
phone numbers their calls are bridged to (docs/twilio.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.domain.holidays import Holiday
from hotline.domain.staff import Role
from hotline.staff.tables import (
    counselor_phones,
    counselors,
    holidays,
    login_challenges,
    password_resets,
    staff_recovery_codes,
    staff_sessions,
)


@dataclass(frozen=True)
class Member:
    """A staff account as an admin sees it (no secrets)."""

    id: int
    name: str
    role: Role
    active: bool
    languages: tuple[str, ...]
    channels: tuple[str, ...]
    specialisms: tuple[str, ...]
    max_chats: int
    two_factor: bool
    last_login_at: datetime | None
    deactivated_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role.value,
                "active": self.active, "languages": list(self.languages),
                "channels": list(self.channels), "specialisms": list(self.specialisms),
                "max_chats": self.max_chats, "two_factor": self.two_factor,
                "last_login_at": _iso(self.last_login_at),
                "deactivated_at": _iso(self.deactivated_at)}


@dataclass(frozen=True)
class SecondFactor:
    secret_sealed: bytes | None
    enabled: bool
    last_step: int | None


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _split(text: str) -> tuple[str, ...]:
    return tuple(x for x in text.split(",") if x)


def _member(r: Any) -> Member:
    return Member(id=r.id, name=r.name, role=Role(r.role), active=bool(r.active),
                  languages=_split(r.languages), channels=_split(r.channels),
                  specialisms=_split(r.specialisms), max_chats=r.max_chats,
                  two_factor=r.totp_enabled_at is not None, last_login_at=r.last_login_at,
                  deactivated_at=r.deactivated_at)


async def members(conn: AsyncConnection) -> list[Member]:
    rows = await conn.execute(select(counselors).order_by(counselors.c.name))
    return [_member(r) for r in rows]


async def member(conn: AsyncConnection, counselor_id: int) -> Member | None:
    row = (await conn.execute(select(counselors).where(counselors.c.id == counselor_id))).first()
    return _member(row) if row else None


async def member_named(conn: AsyncConnection, name: str) -> Member | None:
    row = (await conn.execute(select(counselors).where(counselors.c.name == name))).first()
    return _member(row) if row else None


async def update_fields(conn: AsyncConnection, counselor_id: int, **values: Any) -> None:
    """Set account fields (role, languages, channels, specialisms, max_chats, active,
    deactivated_at, password_hash, last_login_at, last_break_at)."""
    await conn.execute(update(counselors).where(counselors.c.id == counselor_id)
                       .values(**values))


async def password_hash(conn: AsyncConnection, counselor_id: int) -> str | None:
    return (await conn.execute(select(counselors.c.password_hash)
                               .where(counselors.c.id == counselor_id))).scalar_one_or_none()


# Second factor.

async def second_factor(conn: AsyncConnection, counselor_id: int) -> SecondFactor:
    r = (await conn.execute(select(counselors.c.totp_secret, counselors.c.totp_enabled_at,
                                   counselors.c.totp_last_step)
                            .where(counselors.c.id == counselor_id))).one()
    return SecondFactor(r.totp_secret, r.totp_enabled_at is not None, r.totp_last_step)


async def set_pending_secret(conn: AsyncConnection, counselor_id: int, sealed: bytes) -> None:
    """An enrolment's secret, not yet confirmed (two pages loaded at once: the first wins)."""
    await conn.execute(update(counselors).where(and_(
        counselors.c.id == counselor_id, counselors.c.totp_enabled_at.is_(None),
        counselors.c.totp_secret.is_(None)))
        .values(totp_secret=sealed, totp_last_step=None))


async def use_step(conn: AsyncConnection, counselor_id: int, step: int,
                   enable_at: datetime | None = None) -> bool:
    """Record `step` as used if it is later than the last one used (False: a replay, or a
    concurrent login that used it first). With `enable_at`, also confirms the enrolment."""
    values: dict[str, Any] = {"totp_last_step": step}
    if enable_at is not None:
        values["totp_enabled_at"] = enable_at
    result = await conn.execute(update(counselors).where(and_(
        counselors.c.id == counselor_id, counselors.c.totp_secret.is_not(None),
        or_(counselors.c.totp_last_step.is_(None), counselors.c.totp_last_step < step)))
        .values(**values))
    return result.rowcount == 1


async def clear_second_factor(conn: AsyncConnection, counselor_id: int) -> None:
    await conn.execute(update(counselors).where(counselors.c.id == counselor_id).values(
        totp_secret=None, totp_enabled_at=None, totp_last_step=None))
    await conn.execute(delete(staff_recovery_codes).where(
        staff_recovery_codes.c.counselor_id == counselor_id))


async def put_recovery_codes(conn: AsyncConnection, counselor_id: int,
                             digests: list[str]) -> None:
    await conn.execute(delete(staff_recovery_codes).where(
        staff_recovery_codes.c.counselor_id == counselor_id))
    await conn.execute(insert(staff_recovery_codes), [
        {"code_digest": d, "counselor_id": counselor_id} for d in digests])


async def use_recovery_code(conn: AsyncConnection, counselor_id: int, digest: str,
                            at: datetime) -> bool:
    """Spend one recovery code (False if unknown, someone else's, or used)."""
    result = await conn.execute(update(staff_recovery_codes).where(and_(
        staff_recovery_codes.c.code_digest == digest,
        staff_recovery_codes.c.counselor_id == counselor_id,
        staff_recovery_codes.c.used_at.is_(None))).values(used_at=at))
    return result.rowcount == 1


async def recovery_codes_left(conn: AsyncConnection, counselor_id: int) -> int:
    return int((await conn.execute(select(func.count()).where(and_(
        staff_recovery_codes.c.counselor_id == counselor_id,
        staff_recovery_codes.c.used_at.is_(None))))).scalar_one())


# Login challenges (between the password and the second factor).

async def add_challenge(conn: AsyncConnection, digest: str, counselor_id: int,
                        expires_at: datetime) -> None:
    await conn.execute(insert(login_challenges).values(
        token_digest=digest, counselor_id=counselor_id, expires_at=expires_at))


async def count_challenge_attempt(conn: AsyncConnection, digest: str, now: datetime,
                                  most: int) -> int | None:
    """Count one code attempt on a live challenge; its owner, or None once it expired or
    spent its attempts."""
    result = await conn.execute(update(login_challenges).where(and_(
        login_challenges.c.token_digest == digest, login_challenges.c.expires_at > now,
        login_challenges.c.attempts < most))
        .values(attempts=login_challenges.c.attempts + 1)
        .returning(login_challenges.c.counselor_id))
    found = result.scalar_one_or_none()
    return int(found) if found is not None else None


async def challenge_owner(conn: AsyncConnection, digest: str, now: datetime, most: int
                          ) -> int | None:
    """The owner of a challenge that has not expired or spent its attempts."""
    found = (await conn.execute(select(login_challenges.c.counselor_id).where(and_(
        login_challenges.c.token_digest == digest, login_challenges.c.expires_at > now,
        login_challenges.c.attempts < most)))).scalar_one_or_none()
    return int(found) if found is not None else None


async def end_challenge(conn: AsyncConnection, digest: str) -> None:
    await conn.execute(delete(login_challenges).where(
        login_challenges.c.token_digest == digest))


async def end_stale(conn: AsyncConnection, now: datetime) -> int:
    """Forget expired challenges and reset tokens."""
    a = await conn.execute(delete(login_challenges).where(login_challenges.c.expires_at <= now))
    b = await conn.execute(delete(password_resets).where(password_resets.c.expires_at <= now))
    return int(a.rowcount) + int(b.rowcount)


# Password resets.

async def add_reset(conn: AsyncConnection, *, digest: str, counselor_id: int,
                    created_by: int | None, at: datetime, expires_at: datetime) -> None:
    """A new reset token; any earlier one of the same person stops working."""
    await conn.execute(delete(password_resets).where(
        password_resets.c.counselor_id == counselor_id))
    await conn.execute(insert(password_resets).values(
        token_digest=digest, counselor_id=counselor_id, created_by=created_by,
        created_at=at, expires_at=expires_at))


async def reset_owner(conn: AsyncConnection, digest: str, now: datetime) -> int | None:
    found = (await conn.execute(select(password_resets.c.counselor_id).where(and_(
        password_resets.c.token_digest == digest,
        password_resets.c.expires_at > now)))).scalar_one_or_none()
    return int(found) if found is not None else None


async def spend_reset(conn: AsyncConnection, digest: str, now: datetime) -> int | None:
    """Use a reset token once: its owner, or None (unknown, expired or used)."""
    result = await conn.execute(delete(password_resets).where(and_(
        password_resets.c.token_digest == digest, password_resets.c.expires_at > now))
        .returning(password_resets.c.counselor_id))
    found = result.scalar_one_or_none()
    return int(found) if found is not None else None


# Sessions of one person (the admin's list).

async def sessions_of(conn: AsyncConnection, counselor_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(select(staff_sessions.c.token_digest, staff_sessions.c.created_at,
                                     staff_sessions.c.last_seen_at)
                              .where(staff_sessions.c.counselor_id == counselor_id)
                              .order_by(staff_sessions.c.created_at))
    return [{"ref": r.token_digest[:16], "created_at": r.created_at.isoformat(),
             "last_seen_at": r.last_seen_at.isoformat()} for r in rows]


async def end_session_by_ref(conn: AsyncConnection, counselor_id: int, ref: str) -> bool:
    result = await conn.execute(delete(staff_sessions).where(and_(
        staff_sessions.c.counselor_id == counselor_id,
        func.substr(staff_sessions.c.token_digest, 1, 16) == ref)))
    return int(result.rowcount) > 0


async def end_sessions_except(conn: AsyncConnection, counselor_id: int, keep: str
                              ) -> list[str]:
    """End every session of a person but `keep` (a token digest); the refs ended."""
    result = await conn.execute(delete(staff_sessions).where(and_(
        staff_sessions.c.counselor_id == counselor_id,
        staff_sessions.c.token_digest != keep)).returning(staff_sessions.c.token_digest))
    return [d[:16] for d in result.scalars()]


# The holiday calendar.

def _holiday(r: Any) -> Holiday:
    return Holiday(day=r.day, kind=r.kind, opens_minute=r.opens_minute,
                   closes_minute=r.closes_minute, label=r.label, tz=r.tz)


async def holidays_from(conn: AsyncConnection, since: date) -> list[Holiday]:
    rows = await conn.execute(select(holidays).where(holidays.c.day >= since)
                              .order_by(holidays.c.day))
    return [_holiday(r) for r in rows]


async def put_holiday(conn: AsyncConnection, h: Holiday) -> None:
    await conn.execute(delete(holidays).where(holidays.c.day == h.day))
    await conn.execute(insert(holidays).values(day=h.day, kind=h.kind,
                                               opens_minute=h.opens_minute,
                                               closes_minute=h.closes_minute, label=h.label,
                                               tz=h.tz))


async def remove_holiday(conn: AsyncConnection, day: date) -> bool:
    result = await conn.execute(delete(holidays).where(holidays.c.day == day))
    return int(result.rowcount) > 0


# --- counselor phones ---


async def set_phone(conn: AsyncConnection, counselor_id: int, sealed: bytes | None,
                    at: datetime) -> None:
    """Store (or with None, remove) a counselor's sealed phone number."""
    await conn.execute(delete(counselor_phones)
                       .where(counselor_phones.c.counselor_id == counselor_id))
    if sealed is not None:
        await conn.execute(insert(counselor_phones).values(
            counselor_id=counselor_id, phone_sealed=sealed, updated_at=at))


async def phone_sealed(conn: AsyncConnection, counselor_id: int) -> bytes | None:
    row = (await conn.execute(select(counselor_phones.c.phone_sealed).where(
        counselor_phones.c.counselor_id == counselor_id))).first()
    return bytes(row[0]) if row else None
