"""The staff accounts as the roster and routing read them (hotline.cases.roster, staffing):
names, who follows the roster, and what each active person serves. The staff room owns the
`counselors` table (one owner per table); callers own the transaction. See docs/floor.md.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.staff.tables import counselors
from hotline.steps import in_parts


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(filter(None, value.split(","))) if value else ()


# People built in one step of the loop.
_PART = 250


@dataclass(frozen=True)
class Person:
    """An active staff member as the roster pages and routing see them."""

    id: int
    name: str
    role: str
    rostered: bool
    languages: tuple[str, ...]
    channels: tuple[str, ...]
    specialisms: tuple[str, ...]
    max_chats: int


# A search's longest text: no name is longer.
MAX_QUERY = 64

_COLUMNS = (counselors.c.id, counselors.c.name, counselors.c.role, counselors.c.rostered,
            counselors.c.languages, counselors.c.channels, counselors.c.specialisms,
            counselors.c.max_chats)


def _person(row: Sequence[Any]) -> Person:
    i, name, role, rostered, langs, chans, specs, most = row
    return Person(int(i), str(name), str(role), bool(rostered), _split(langs), _split(chans),
                  _split(specs), int(most))


def _matches(q: str) -> ColumnElement[bool]:
    """The name contains `q` in any case, or the id is `q` ("12" or "#12")."""
    found = counselors.c.name.icontains(q, autoescape=True)
    digits = q.removeprefix("#")
    if digits.isascii() and digits.isdigit() and len(digits) <= 9:
        found = or_(found, counselors.c.id == int(digits))
    return found


def ids_matching(q: str) -> Select[tuple[int]]:
    """The ids of the accounts matching `q`, deactivated ones too (a roster entry may outlive
    one): a subquery for the roster's own tables."""
    return select(counselors.c.id).where(_matches(q))


async def active(conn: AsyncConnection, only: int | None = None, q: str = "") -> list[Person]:
    """Every active staff member by name (or only `only`, or those matching `q`)."""
    query = select(*_COLUMNS).where(counselors.c.active.is_(True))
    if only is not None:
        query = query.where(counselors.c.id == only)
    if q:
        query = query.where(_matches(q))
    out = []
    # 1,000 people built in one step held the loop 6 ms, twice that under load.
    async for part in in_parts((await conn.execute(query.order_by(counselors.c.name))).all(),
                               _PART):
        out += [_person(r) for r in part]
    return out


@dataclass(frozen=True)
class Page:
    people: list[Person]
    total: int  # everyone matching
    next: int | None  # the last id of this page when there are more


async def page(conn: AsyncConnection, q: str, limit: int, after: int | None) -> Page:
    """Up to `limit` active staff matching `q` (everyone when empty) by name, after the
    person `after` (the `next` of the page before; LookupError for no such account).
    Names are unique, so the name alone orders and resumes the list."""
    where: list[ColumnElement[bool]] = [counselors.c.active.is_(True)]
    if q:
        where.append(_matches(q))
    total = (await conn.execute(select(func.count()).select_from(counselors).where(*where))
             ).scalar_one()
    if after is not None:
        name = await known_name(conn, after)
        if name is None:
            raise LookupError(after)
        where.append(counselors.c.name > name)
    rows = (await conn.execute(select(*_COLUMNS).where(*where).order_by(counselors.c.name)
                               .limit(limit + 1))).all()
    found = [_person(r) for r in rows[:limit]]
    return Page(found, int(total), found[-1].id if len(rows) > limit else None)


async def known_name(conn: AsyncConnection, staff_id: int) -> str | None:
    """The account's name; None: no such account."""
    found = (await conn.execute(select(counselors.c.name).where(
        counselors.c.id == staff_id))).scalar_one_or_none()
    return None if found is None else str(found)


async def all_names(conn: AsyncConnection) -> dict[int, str]:
    """Every account's name by id, deactivated ones too (a roster entry may outlive one)."""
    return {int(r.id): str(r.name)
            for r in await conn.execute(select(counselors.c.id, counselors.c.name))}


async def name_of(conn: AsyncConnection, staff_id: int) -> str:
    return str((await conn.execute(select(counselors.c.name).where(
        counselors.c.id == staff_id))).scalar_one())


async def rostered(conn: AsyncConnection, staff_id: int) -> bool | None:
    """Whether the person follows the roster; None: no such account."""
    found = (await conn.execute(select(counselors.c.rostered).where(
        counselors.c.id == staff_id))).scalar_one_or_none()
    return None if found is None else bool(found)


async def set_rostered(conn: AsyncConnection, staff_id: int, value: bool) -> None:
    await conn.execute(update(counselors).where(counselors.c.id == staff_id)
                       .values(rostered=value))


async def not_rostered(conn: AsyncConnection, staff: Collection[int] | None = None
                       ) -> frozenset[int]:
    """Who does not follow the roster (on shift whenever present); only among `staff` when
    given."""
    q = select(counselors.c.id).where(counselors.c.rostered.is_(False))
    if staff is not None:
        q = q.where(counselors.c.id.in_(staff))
    return frozenset(int(r.id) for r in await conn.execute(q))
