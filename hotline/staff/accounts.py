"""SQL access for staff accounts and console sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from hotline.domain.routing import Presence
from hotline.domain.staff import Role, Staff
from hotline.staff.tables import counselors, staff_sessions


@dataclass(frozen=True)
class Account:
    staff: Staff
    password_hash: str
    active: bool


def _staff(r: object) -> Staff:
    m = r._mapping  # type: ignore[attr-defined]
    langs = tuple(x for x in m["languages"].split(",") if x)
    return Staff(id=m["id"], name=m["name"], role=Role(m["role"]), languages=langs,
                 ui_language=m["ui_language"])


async def add(conn: AsyncConnection, *, name: str, role: Role, languages: tuple[str, ...],
              password_hash: str, at: datetime) -> int:
    result = await conn.execute(insert(counselors).values(
        name=name, role=role.value, languages=",".join(languages), password_hash=password_hash,
        active=True, created_at=at).returning(counselors.c.id))
    return int(result.scalar_one())


async def by_name(conn: AsyncConnection, name: str) -> Account | None:
    row = (await conn.execute(select(counselors).where(counselors.c.name == name))).first()
    if row is None:
        return None
    return Account(_staff(row), row.password_hash, bool(row.active))


async def by_id(conn: AsyncConnection, counselor_id: int) -> Staff | None:
    row = (await conn.execute(select(counselors).where(and_(
        counselors.c.id == counselor_id, counselors.c.active.is_(True))))).first()
    return _staff(row) if row else None


async def set_last_login(conn: AsyncConnection, counselor_id: int, at: datetime) -> None:
    await conn.execute(update(counselors).where(counselors.c.id == counselor_id)
                       .values(last_login_at=at))


async def set_presence_status(conn: AsyncConnection, counselor_id: int,
                              status: Presence) -> None:
    """Record the status a counselor chose (what a rebuild of Redis restores)."""
    values: dict[str, object] = {"presence_status": status.value}
    if status == Presence.BREAK:
        # The wellbeing view counts time on the floor since the last break (docs/staff.md).
        values["last_break_at"] = datetime.now(UTC)
    await conn.execute(update(counselors).where(counselors.c.id == counselor_id)
                       .values(**values))


async def set_ui_language(conn: AsyncConnection, counselor_id: int, language: str) -> None:
    """Record the console language a staff member chose."""
    await conn.execute(update(counselors).where(counselors.c.id == counselor_id)
                       .values(ui_language=language))


async def presence_statuses(conn: AsyncConnection) -> dict[int, Presence]:
    """The last chosen status of every active counselor (an unknown value reads offline)."""
    rows = await conn.execute(select(counselors.c.id, counselors.c.presence_status)
                              .where(counselors.c.active.is_(True)))
    known = {p.value for p in Presence}
    return {r.id: Presence(r.presence_status) if r.presence_status in known
            else Presence.OFFLINE for r in rows}


async def create_session(conn: AsyncConnection, *, token_digest: str, counselor_id: int,
                         csrf_token: str, at: datetime) -> None:
    await conn.execute(insert(staff_sessions).values(
        token_digest=token_digest, counselor_id=counselor_id, csrf_token=csrf_token,
        created_at=at, last_seen_at=at))


async def session(conn: AsyncConnection, token_digest: str, idle_since: datetime
                  ) -> tuple[Staff, str, datetime] | None:
    """The staff member, CSRF token and last-seen time of a live session."""
    row = (await conn.execute(
        select(counselors, staff_sessions.c.csrf_token, staff_sessions.c.last_seen_at)
        .join(staff_sessions, staff_sessions.c.counselor_id == counselors.c.id)
        .where(and_(staff_sessions.c.token_digest == token_digest,
                    staff_sessions.c.last_seen_at > idle_since,
                    counselors.c.active.is_(True))))).first()
    if row is None:
        return None
    return _staff(row), row.csrf_token, row.last_seen_at


async def touch_session(conn: AsyncConnection, token_digest: str, at: datetime) -> None:
    await conn.execute(update(staff_sessions).where(staff_sessions.c.token_digest == token_digest)
                       .values(last_seen_at=at))


async def end_session(conn: AsyncConnection, token_digest: str) -> None:
    await conn.execute(delete(staff_sessions).where(
        staff_sessions.c.token_digest == token_digest))


async def end_sessions_of(conn: AsyncConnection, counselor_id: int) -> int:
    result = await conn.execute(delete(staff_sessions).where(
        staff_sessions.c.counselor_id == counselor_id))
    return int(result.rowcount)


async def end_idle_sessions(conn: AsyncConnection, idle_since: datetime) -> int:
    result = await conn.execute(delete(staff_sessions).where(
        staff_sessions.c.last_seen_at <= idle_since))
    return int(result.rowcount)


async def names(conn: AsyncConnection, ids: list[int]) -> dict[int, str]:
    """The names of these staff members (a floor page's, at most a few hundred)."""
    if not ids:
        return {}
    rows = await conn.execute(select(counselors.c.id, counselors.c.name)
                              .where(counselors.c.id.in_(ids)))
    return {int(r.id): str(r.name) for r in rows}


async def active_with_role(conn: AsyncConnection, role: Role) -> list[int]:
    """The ids of the active staff of one role."""
    return [int(r.id) for r in await conn.execute(select(counselors.c.id).where(and_(
        counselors.c.role == role.value, counselors.c.active.is_(True))))]


@dataclass(frozen=True)
class Skills:
    """What a staff member serves: languages and channels."""

    id: int
    languages: tuple[str, ...]
    channels: tuple[str, ...]


async def active_skills(conn: AsyncConnection) -> list[Skills]:
    """The languages and channels of every active staff member."""
    rows = await conn.execute(select(counselors.c.id, counselors.c.languages,
                                     counselors.c.channels).where(counselors.c.active.is_(True)))
    return [Skills(int(r.id), tuple(x for x in r.languages.split(",") if x),
                   tuple(x for x in r.channels.split(",") if x)) for r in rows]


async def set_telegram_chat(conn: AsyncConnection, name: str, chat_id: int | None) -> bool:
    """Link (or with None unlink) a staff member's Telegram chat; False: no such name.
    IntegrityError when the chat is already linked to someone else."""
    result = await conn.execute(update(counselors).where(counselors.c.name == name)
                                .values(telegram_chat_id=chat_id))
    return int(result.rowcount) > 0


async def by_telegram_chat(conn: AsyncConnection, chat_id: int) -> Staff | None:
    """The active staff member whose linked Telegram chat this is."""
    found = (await conn.execute(select(counselors.c.id).where(and_(
        counselors.c.telegram_chat_id == chat_id,
        counselors.c.active.is_(True))))).scalar_one_or_none()
    return await by_id(conn, int(found)) if found is not None else None


async def telegram_chats(conn: AsyncConnection, *, leads: bool = False,
                         staff_id: int | None = None) -> list[tuple[int, tuple[str, ...]]]:
    """(linked Telegram chat, languages) of the active leads and admins, or of one person."""
    cond: ColumnElement[bool]
    if leads:
        cond = counselors.c.role.in_((Role.LEAD.value, Role.ADMIN.value))
    elif staff_id is not None:
        cond = counselors.c.id == staff_id
    else:
        return []
    rows = await conn.execute(select(counselors.c.telegram_chat_id, counselors.c.languages)
                              .where(and_(cond, counselors.c.active.is_(True),
                                          counselors.c.telegram_chat_id.is_not(None))))
    return [(int(r.telegram_chat_id), tuple(x for x in r.languages.split(",") if x))
            for r in rows]
