"""The staff accounts as the roster and routing read them (hotline.cases.roster, staffing):
names, who follows the roster, and what each active person serves. The staff room owns the
`counselors` table (one owner per table); callers own the transaction. See docs/floor.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.staff.tables import counselors


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


async def active(conn: AsyncConnection, only: int | None = None) -> list[Person]:
    """Every active staff member by name (or only `only`)."""
    q = select(counselors.c.id, counselors.c.name, counselors.c.role, counselors.c.rostered,
               counselors.c.languages, counselors.c.channels, counselors.c.specialisms,
               counselors.c.max_chats).where(counselors.c.active.is_(True))
    if only is not None:
        q = q.where(counselors.c.id == only)
    rows = (await conn.execute(q.order_by(counselors.c.name))).all()
    out = []
    for at in range(0, len(rows), _PART):
        if at:
            # 1,000 people built in one step held the loop 6 ms, twice that under load.
            await asyncio.sleep(0)
        out += [Person(int(i), str(name), str(role), bool(rostered), _split(langs),
                       _split(chans), _split(specs), int(most))
                for i, name, role, rostered, langs, chans, specs, most in rows[at:at + _PART]]
    return out


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
