"""The monitoring job's and the clusters' statements on the takedown tables (the desk's second
query module; hotline.takedown.queries holds the rest). Callers own the transactions.

The job reads only what is due: `claim_due` walks ix_takedown_locations_next_check from the
oldest due time and moves what it takes a lease ahead, so two instances never check the same
location in one round. See docs/takedown.md, "Monitoring" and "Clusters".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.domain.monitoring import Watch
from hotline.domain.takedown import ItemStatus
from hotline.takedown import tables

items_t, locations_t = tables.takedown_items, tables.takedown_locations
requests_t, req_locs_t = tables.takedown_requests, tables.takedown_request_locations
checks_t, reuploads_t = tables.takedown_checks, tables.takedown_reuploads


@dataclass(frozen=True)
class Due:
    """A location taken for checking: its id and URL."""

    id: int
    url: str


@dataclass(frozen=True)
class Watched:
    """A location with what the job needs to apply a result."""

    id: int
    item_id: int
    watch: Watch
    cluster_key: str | None
    item_status: ItemStatus


@dataclass(frozen=True)
class Checked:
    """One check's result as stored."""

    location_id: int
    result: str
    http_status: int | None
    watch: Watch
    next_check_at: datetime | None


async def claim_due(conn: AsyncConnection, now: datetime, limit: int, lease_until: datetime
                    ) -> list[Due]:
    """Up to `limit` locations due a check at `now`, oldest due first, leased until
    `lease_until` (a pass that dies leaves them due again then)."""
    stmt = (select(locations_t.c.id, locations_t.c.url)
            .where(locations_t.c.next_check_at <= now)
            .order_by(locations_t.c.next_check_at).limit(limit)
            .with_for_update(skip_locked=True))
    due = [Due(int(r.id), r.url) for r in await conn.execute(stmt)]
    if due:
        await conn.execute(update(locations_t).where(locations_t.c.id.in_([d.id for d in due]))
                           .values(next_check_at=lease_until))
    return due


async def watched(conn: AsyncConnection, location_ids: Sequence[int]) -> dict[int, Watched]:
    rows = await conn.execute(
        select(locations_t.c.id, locations_t.c.item_id, locations_t.c.watch,
               locations_t.c.cluster_key, items_t.c.status)
        .join(items_t, items_t.c.id == locations_t.c.item_id)
        .where(locations_t.c.id.in_(list(location_ids))))
    return {int(r.id): Watched(int(r.id), int(r.item_id), Watch(r.watch), r.cluster_key,
                               ItemStatus(r.status)) for r in rows}


# One statement for a whole pass (executemany), not one round trip per location.
_SET_CHECKED = (update(locations_t).where(locations_t.c.id == bindparam("lid"))
                .values(online=bindparam("result"), watch=bindparam("watch_now"),
                        last_checked_at=bindparam("at"), next_check_at=bindparam("due")))


async def record_checks(conn: AsyncConnection, at: datetime, checked: Sequence[Checked]
                        ) -> None:
    """Append each check and store the location's last result, watch and next due time."""
    if not checked:
        return
    await conn.execute(insert(checks_t), [
        {"location_id": c.location_id, "at": at, "result": c.result,
         "http_status": c.http_status} for c in checked])
    await conn.execute(_SET_CHECKED, [
        {"lid": c.location_id, "result": c.result, "watch_now": c.watch.value, "at": at,
         "due": c.next_check_at} for c in checked])


async def reschedule_item(conn: AsyncConnection, item_id: int, when: datetime | None) -> None:
    """The next check of every location of an item whose status the job just changed."""
    await conn.execute(update(locations_t).where(locations_t.c.item_id == item_id)
                       .values(next_check_at=when))


async def watches_of_items(conn: AsyncConnection, item_ids: Iterable[int]
                           ) -> dict[int, list[Watch]]:
    ids = list(item_ids)
    found: dict[int, list[Watch]] = {i: [] for i in ids}
    if ids:
        for r in await conn.execute(select(locations_t.c.item_id, locations_t.c.watch)
                                    .where(locations_t.c.item_id.in_(ids))):
            found[int(r.item_id)].append(Watch(r.watch))
    return found


async def requests_at(conn: AsyncConnection, location_ids: Iterable[int]
                      ) -> dict[int, list[Watch]]:
    """Requests naming any of these locations, each with the watches of all its locations."""
    ids = list(location_ids)
    if not ids:
        return {}
    req_ids = [int(r.request_id) for r in await conn.execute(
        select(req_locs_t.c.request_id).where(req_locs_t.c.location_id.in_(ids)).distinct())]
    found: dict[int, list[Watch]] = {r: [] for r in req_ids}
    if req_ids:
        for r in await conn.execute(
                select(req_locs_t.c.request_id, locations_t.c.watch)
                .join(locations_t, locations_t.c.id == req_locs_t.c.location_id)
                .where(req_locs_t.c.request_id.in_(req_ids))):
            found[int(r.request_id)].append(Watch(r.watch))
    return found


async def newest_request(conn: AsyncConnection, item_id: int) -> int | None:
    found = (await conn.execute(select(func.max(requests_t.c.id)).where(
        requests_t.c.item_id == item_id))).scalar()
    return int(found) if found is not None else None


async def insert_reupload(conn: AsyncConnection, *, item_id: int, via: str, at: datetime,
                          location_id: int | None = None, evidence_id: int | None = None,
                          cluster_key: str | None = None) -> int | None:
    """The new re-upload's id; None when this evidence was linked to this item before."""
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = make(reuploads_t).values(
        item_id=item_id, location_id=location_id, evidence_id=evidence_id,
        cluster_key=cluster_key, via=via, found_at=at).on_conflict_do_nothing()
    found = (await conn.execute(stmt.returning(reuploads_t.c.id))).scalar_one_or_none()
    return int(found) if found is not None else None


async def reuploads_of(conn: AsyncConnection, item_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(select(reuploads_t).where(reuploads_t.c.item_id == item_id)
                              .order_by(reuploads_t.c.id))
    return [{"id": r.id, "via": r.via, "location": r.location_id, "evidence": r.evidence_id,
             "found_at": r.found_at.isoformat()} for r in rows]


async def checks_of(conn: AsyncConnection, location_id: int, limit: int = 20
                    ) -> list[dict[str, Any]]:
    rows = await conn.execute(select(checks_t).where(checks_t.c.location_id == location_id)
                              .order_by(checks_t.c.id.desc()).limit(limit))
    return [{"at": r.at.isoformat(), "result": r.result, "http_status": r.http_status}
            for r in rows]


@dataclass(frozen=True)
class Fingerprinted:
    """A removed item's PDQ fingerprint, and where it came from."""

    id: int
    pdq: str
    quality: int
    created_at: datetime
    evidence_id: int | None


async def items_with_pdq(conn: AsyncConnection, statuses: Sequence[ItemStatus]
                         ) -> list[Fingerprinted]:
    """Items in these statuses with a PDQ fingerprint."""
    rows = await conn.execute(
        select(items_t.c.id, items_t.c.pdq, items_t.c.pdq_quality, items_t.c.created_at,
               items_t.c.evidence_id)
        .where(and_(items_t.c.status.in_([s.value for s in statuses]),
                    items_t.c.pdq.is_not(None))).order_by(items_t.c.id))
    return [Fingerprinted(int(r.id), str(r.pdq), int(r.pdq_quality or 0), r.created_at,
                          r.evidence_id) for r in rows]


# --- clusters ------------------------------------------------------------------------------

def _cluster_counts() -> Any:
    victims = func.count(func.distinct(items_t.c.conversation_id))
    return (select(locations_t.c.cluster_key.label("key"), victims.label("victims"),
                   func.count(func.distinct(items_t.c.id)).label("items"),
                   func.count(locations_t.c.id).label("locations"))
            .join(items_t, items_t.c.id == locations_t.c.item_id)
            .where(locations_t.c.cluster_key.is_not(None))
            .group_by(locations_t.c.cluster_key))


async def clusters(conn: AsyncConnection, min_victims: int, limit: int, after: str | None
                   ) -> list[dict[str, Any]]:
    """Clusters with at least `min_victims` victims (distinct cases), by key, paged."""
    counts = _cluster_counts().subquery()
    stmt = (select(counts).where(counts.c.victims >= min_victims)
            .order_by(counts.c.key).limit(limit))
    if after is not None:
        stmt = stmt.where(counts.c.key > after)
    rows = list(await conn.execute(stmt))
    keys = [r.key for r in rows]
    reup: dict[str, int] = {}
    if keys:
        reup = {r.cluster_key: int(r.n) for r in await conn.execute(
            select(reuploads_t.c.cluster_key, func.count().label("n"))
            .where(reuploads_t.c.cluster_key.in_(keys)).group_by(reuploads_t.c.cluster_key))}
    return [{"key": r.key, "victims": int(r.victims), "items": int(r.items),
             "locations": int(r.locations), "reuploads": reup.get(r.key, 0)} for r in rows]


async def cluster_items(conn: AsyncConnection, key: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(items_t.c.id, items_t.c.status, items_t.c.kind, locations_t.c.id.label("loc"),
               locations_t.c.platform, locations_t.c.watch)
        .join(items_t, items_t.c.id == locations_t.c.item_id)
        .where(locations_t.c.cluster_key == key).order_by(items_t.c.id, locations_t.c.id))
    return [{"item": r.id, "status": r.status, "kind": r.kind, "location": r.loc,
             "platform": r.platform, "watch": r.watch} for r in rows]


async def cluster_victims_of_items(conn: AsyncConnection, item_ids: Iterable[int]
                                   ) -> dict[int, int]:
    """Per item, the most victims of any cluster one of its locations is in."""
    ids = list(item_ids)
    if not ids:
        return {}
    keys = (select(locations_t.c.item_id, locations_t.c.cluster_key)
            .where(and_(locations_t.c.item_id.in_(ids), locations_t.c.cluster_key.is_not(None)))
            .subquery())
    counts = _cluster_counts().where(
        locations_t.c.cluster_key.in_(select(keys.c.cluster_key))).subquery()
    rows = await conn.execute(select(keys.c.item_id, func.max(counts.c.victims))
                              .join(counts, counts.c.key == keys.c.cluster_key)
                              .group_by(keys.c.item_id))
    return {int(i): int(v) for i, v in rows}


# --- marks -----------------------------------------------------------------------------------

async def mark(conn: AsyncConnection, name: str) -> int | None:
    """How far the job `name` has read (None: it never ran)."""
    found = (await conn.execute(select(tables.takedown_marks.c.position).where(
        tables.takedown_marks.c.name == name))).scalar_one_or_none()
    return None if found is None else int(found)


async def advance_mark(conn: AsyncConnection, name: str, position: int) -> None:
    """Move the mark forward to `position` (never back: two passes may overlap)."""
    marks = tables.takedown_marks
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = make(marks).values(name=name, position=position)
    await conn.execute(stmt.on_conflict_do_update(
        index_elements=[marks.c.name], set_={"position": stmt.excluded.position},
        where=marks.c.position < stmt.excluded.position))
