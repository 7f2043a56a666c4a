"""The one owner of the takedown tables: every statement on them is here.

Callers own the transactions. A request is read back as the pure
hotline.domain.removal.RemovalRequest (with its steps) plus the row's own facts; writing a
step stores the request's new state and appends the step row. See docs/takedown.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.domain.clusters import cluster_key
from hotline.domain.legal import LegalBasis
from hotline.domain.locations import Location
from hotline.domain.removal import AWAITING, RemovalRequest, RequestState, Step, StepRecord
from hotline.domain.takedown import Fingerprint, ItemKind, ItemStatus, Reporter
from hotline.takedown import tables

items_t, locations_t = tables.takedown_items, tables.takedown_locations
requests_t, req_locs_t = tables.takedown_requests, tables.takedown_request_locations
steps_t, consents_t = tables.takedown_steps, tables.takedown_consents
alerts_t = tables.takedown_alerts


@dataclass(frozen=True)
class ItemRow:
    id: int
    kind: ItemKind
    minor: bool
    status: ItemStatus
    conversation_id: str | None
    reporter: Reporter
    fingerprint: Fingerprint | None
    evidence_id: int | None
    created_at: datetime
    created_by: int | None
    updated_at: datetime


@dataclass(frozen=True)
class LocationRow:
    id: int
    item_id: int
    url: str
    platform: str
    host: str
    telegram_kind: str | None
    channel: str | None
    message_id: int | None
    first_seen_at: datetime
    last_checked_at: datetime | None
    online: str
    watch: str = "unchecked"
    cluster_key: str | None = None


@dataclass(frozen=True)
class RequestRow:
    id: int
    item_id: int
    language: str
    parent_id: int | None
    location_ids: tuple[int, ...]
    fields_sealed: bytes | None
    text_sealed: bytes | None
    message_id: str | None
    relay_reply: str | None
    sending_at: datetime | None
    created_by: int | None
    actors: tuple[int | None, ...]  # who recorded each step, beside request.steps
    request: RemovalRequest


@dataclass(frozen=True)
class ConsentRow:
    id: int
    item_id: int
    purpose: str
    given: bool
    at: datetime
    via: str
    recorded_by: int | None
    recorded_at: datetime


@dataclass(frozen=True)
class AlertRow:
    id: int
    request_id: int
    created_at: datetime
    step: int
    target_id: int | None
    escalate_at: datetime | None
    acked_at: datetime | None
    acked_by: int | None


def _item(m: object) -> ItemRow:
    r = m._mapping  # type: ignore[attr-defined]
    fp = (Fingerprint(r["sha256"], r["pdq"], r["pdq_quality"])
          if r["sha256"] or r["pdq"] else None)
    return ItemRow(r["id"], ItemKind(r["kind"]), bool(r["minor"]), ItemStatus(r["status"]),
                   r["conversation_id"], Reporter(r["reporter"]), fp, r["evidence_id"],
                   r["created_at"], r["created_by"], r["updated_at"])


def _location(m: object) -> LocationRow:
    r = m._mapping  # type: ignore[attr-defined]
    return LocationRow(r["id"], r["item_id"], r["url"], r["platform"], r["host"],
                       r["telegram_kind"], r["channel"], r["message_id"], r["first_seen_at"],
                       r["last_checked_at"], r["online"], r["watch"], r["cluster_key"])


# --- items ---------------------------------------------------------------------------------

async def insert_item(conn: AsyncConnection, *, kind: ItemKind, minor: bool,
                      conversation_id: str | None, reporter: Reporter,
                      fingerprint: Fingerprint | None, evidence_id: int | None,
                      at: datetime, created_by: int | None) -> int:
    fp = fingerprint or Fingerprint()
    return int((await conn.execute(insert(items_t).values(
        kind=kind.value, minor=minor, status=ItemStatus.OPEN.value,
        conversation_id=conversation_id, reporter=reporter.value, sha256=fp.sha256,
        pdq=fp.pdq, pdq_quality=fp.pdq_quality, evidence_id=evidence_id, created_at=at,
        created_by=created_by, updated_at=at).returning(items_t.c.id))).scalar_one())


async def get_item(conn: AsyncConnection, item_id: int, *, lock: bool = False
                   ) -> ItemRow | None:
    stmt = select(items_t).where(items_t.c.id == item_id)
    row = (await conn.execute(stmt.with_for_update() if lock else stmt)).first()
    return _item(row) if row else None


async def set_item_status(conn: AsyncConnection, item_id: int, status: ItemStatus,
                          at: datetime) -> None:
    """The item's status; a closed item's locations are no longer watched, a reopened one's
    are due a check at once (hotline.domain.monitoring)."""
    await conn.execute(update(items_t).where(items_t.c.id == item_id).values(
        status=status.value, updated_at=at))
    closed = status is ItemStatus.CLOSED
    await conn.execute(update(locations_t).where(and_(
        locations_t.c.item_id == item_id,
        locations_t.c.next_check_at.is_not(None) if closed
        else locations_t.c.next_check_at.is_(None))).values(
        next_check_at=None if closed else at))


async def list_items(conn: AsyncConnection, *, status: str | None = None,
                     platform: str | None = None, conversation_ids: Sequence[str] | None = None,
                     limit: int = 500) -> list[ItemRow]:
    """Items, newest first; filtered by status, by a platform any location is on, or by the
    cases they came from."""
    stmt = select(items_t).order_by(items_t.c.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(items_t.c.status == status)
    if platform is not None:
        stmt = stmt.where(items_t.c.id.in_(select(locations_t.c.item_id).where(
            locations_t.c.platform == platform)))
    if conversation_ids is not None:
        stmt = stmt.where(items_t.c.conversation_id.in_(list(conversation_ids)))
    return [_item(r) for r in await conn.execute(stmt)]


# --- locations -----------------------------------------------------------------------------

async def add_location(conn: AsyncConnection, item_id: int, loc: Location, at: datetime
                       ) -> tuple[int, bool]:
    """The location's id on this item, and whether it is new (one URL is one location)."""
    found = (await conn.execute(select(locations_t.c.id).where(and_(
        locations_t.c.item_id == item_id, locations_t.c.url == loc.url)))).first()
    if found is not None:
        return int(found.id), False
    tg = loc.telegram
    channel = None
    if tg is not None:
        channel = tg.channel or (str(tg.channel_id) if tg.channel_id is not None else None)
    new_id = int((await conn.execute(insert(locations_t).values(
        item_id=item_id, url=loc.url, platform=loc.platform, host=loc.host,
        telegram_kind=tg.kind.value if tg else None, channel=channel,
        message_id=tg.message_id if tg else None, first_seen_at=at, online="unknown",
        next_check_at=at, cluster_key=cluster_key(loc.url, loc.host,
                                                  tg.kind.value if tg else None, channel),
        ).returning(locations_t.c.id))).scalar_one())
    return new_id, True


async def locations_of(conn: AsyncConnection, item_ids: Iterable[int]
                       ) -> dict[int, list[LocationRow]]:
    ids = list(item_ids)
    found: dict[int, list[LocationRow]] = {i: [] for i in ids}
    if ids:
        for r in await conn.execute(select(locations_t).where(locations_t.c.item_id.in_(ids))
                                    .order_by(locations_t.c.id)):
            found[r.item_id].append(_location(r))
    return found


# --- requests ------------------------------------------------------------------------------

async def insert_request(conn: AsyncConnection, item_id: int, req: RemovalRequest, *,
                         language: str, location_ids: Sequence[int], parent_id: int | None,
                         created_by: int | None) -> int:
    new_id = int((await conn.execute(insert(requests_t).values(
        item_id=item_id, platform=req.platform, route=req.route,
        legal_basis=req.legal_basis.value, language=language, due_hours=req.due_hours,
        state=req.state.value, due_at=req.due_at, attempt=req.attempt, rung=req.rung,
        ticket=req.ticket, parent_id=parent_id, created_at=req.created_at,
        created_by=created_by).returning(requests_t.c.id))).scalar_one())
    if location_ids:
        await conn.execute(insert(req_locs_t), [{"request_id": new_id, "location_id": lid}
                                                 for lid in location_ids])
    return new_id


async def set_sealed(conn: AsyncConnection, request_id: int, *, language: str,
                     fields_sealed: bytes, text_sealed: bytes) -> None:
    await conn.execute(update(requests_t).where(requests_t.c.id == request_id).values(
        language=language, fields_sealed=fields_sealed, text_sealed=text_sealed))


async def _steps(conn: AsyncConnection, request_ids: list[int]
                 ) -> dict[int, list[tuple[StepRecord, int | None]]]:
    found: dict[int, list[tuple[StepRecord, int | None]]] = {i: [] for i in request_ids}
    if request_ids:
        for s in await conn.execute(select(steps_t).where(steps_t.c.request_id.in_(
                request_ids)).order_by(steps_t.c.id)):
            found[s.request_id].append((StepRecord(Step(s.step), s.at, s.recorded_at,
                                                   s.ticket, s.reason), s.actor_id))
    return found


async def _request_rows(conn: AsyncConnection, rows: Sequence[object]) -> list[RequestRow]:
    ids = [r.id for r in rows]  # type: ignore[attr-defined]
    steps = await _steps(conn, ids)
    locs: dict[int, list[int]] = {i: [] for i in ids}
    if ids:
        for link in await conn.execute(select(req_locs_t).where(
                req_locs_t.c.request_id.in_(ids)).order_by(req_locs_t.c.location_id)):
            locs[link.request_id].append(link.location_id)
    out = []
    for row in rows:
        r = row._mapping  # type: ignore[attr-defined]
        mine = steps[r["id"]]
        req = RemovalRequest(
            platform=r["platform"], route=r["route"], legal_basis=LegalBasis(r["legal_basis"]),
            due_hours=r["due_hours"], created_at=r["created_at"],
            state=RequestState(r["state"]), steps=tuple(s for s, _ in mine),
            due_at=r["due_at"], attempt=r["attempt"], rung=r["rung"], ticket=r["ticket"])
        out.append(RequestRow(
            r["id"], r["item_id"], r["language"], r["parent_id"], tuple(locs[r["id"]]),
            r["fields_sealed"], r["text_sealed"], r["message_id"], r["relay_reply"],
            r["sending_at"], r["created_by"], tuple(a for _, a in mine), req))
    return out


async def get_request(conn: AsyncConnection, request_id: int, *, lock: bool = False
                      ) -> RequestRow | None:
    stmt = select(requests_t).where(requests_t.c.id == request_id)
    rows = (await conn.execute(stmt.with_for_update() if lock else stmt)).all()
    found = await _request_rows(conn, rows)
    return found[0] if found else None


async def requests_of(conn: AsyncConnection, item_ids: Iterable[int]
                      ) -> dict[int, list[RequestRow]]:
    ids = list(item_ids)
    found: dict[int, list[RequestRow]] = {i: [] for i in ids}
    if ids:
        rows = (await conn.execute(select(requests_t).where(requests_t.c.item_id.in_(ids))
                                   .order_by(requests_t.c.id))).all()
        for r in await _request_rows(conn, rows):
            found[r.item_id].append(r)
    return found


async def save_step(conn: AsyncConnection, request_id: int, after: RemovalRequest,
                    actor_id: int | None) -> None:
    """Store the request's state after its newest step, and that step."""
    step = after.steps[-1]
    await conn.execute(update(requests_t).where(requests_t.c.id == request_id).values(
        state=after.state.value, due_at=after.due_at, attempt=after.attempt,
        ticket=after.ticket))
    await conn.execute(insert(steps_t).values(
        request_id=request_id, step=step.step.value, at=step.at, recorded_at=step.recorded_at,
        ticket=step.ticket, reason=step.reason, actor_id=actor_id))


async def claim_sending(conn: AsyncConnection, request_id: int, now: datetime,
                        stale_before: datetime) -> bool:
    """Take the request for an SMTP send; False if another send holds it (or held it since
    `stale_before`)."""
    result = await conn.execute(update(requests_t).where(and_(
        requests_t.c.id == request_id,
        or_(requests_t.c.sending_at.is_(None), requests_t.c.sending_at < stale_before)))
        .values(sending_at=now))
    return result.rowcount == 1


async def finish_sending(conn: AsyncConnection, request_id: int, *, message_id: str | None,
                         relay_reply: str | None) -> None:
    values: dict[str, object] = {"sending_at": None}
    if message_id is not None:
        values.update(message_id=message_id, relay_reply=relay_reply)
    await conn.execute(update(requests_t).where(requests_t.c.id == request_id).values(**values))


async def awaiting_past_due(conn: AsyncConnection, now: datetime) -> list[int]:
    """Requests waiting for an outcome whose due time has passed and that are not yet
    marked overdue (the deadline job's work)."""
    waiting = [s.value for s in AWAITING if s is not RequestState.OVERDUE]
    return [r.id for r in await conn.execute(select(requests_t.c.id).where(and_(
        requests_t.c.state.in_(waiting), requests_t.c.due_at < now)).order_by(requests_t.c.id))]


async def worklist(conn: AsyncConnection, *, state: str | None, platform: str | None,
                   limit: int = 500) -> list[RequestRow]:
    """Requests for the desk's list (every state but the finished ones unless asked)."""
    stmt = select(requests_t).limit(limit)
    if state is not None:
        stmt = stmt.where(requests_t.c.state == state)
    else:
        stmt = stmt.where(requests_t.c.state.not_in(
            [RequestState.ESCALATED.value, RequestState.VERIFIED.value]))
    if platform is not None:
        stmt = stmt.where(requests_t.c.platform == platform)
    return await _request_rows(conn, (await conn.execute(stmt)).all())


async def children_of(conn: AsyncConnection, request_id: int) -> list[int]:
    return [r.id for r in await conn.execute(select(requests_t.c.id).where(
        requests_t.c.parent_id == request_id))]


# --- consent -------------------------------------------------------------------------------

async def add_consent(conn: AsyncConnection, item_id: int, *, purpose: str, given: bool,
                      at: datetime, via: str, recorded_by: int | None,
                      recorded_at: datetime) -> int:
    return int((await conn.execute(insert(consents_t).values(
        item_id=item_id, purpose=purpose, given=given, at=at, via=via,
        recorded_by=recorded_by, recorded_at=recorded_at).returning(consents_t.c.id)))
        .scalar_one())


async def consents_of(conn: AsyncConnection, item_id: int) -> list[ConsentRow]:
    """Every consent record of the item, oldest first (the newest per purpose is in force)."""
    return [ConsentRow(r.id, r.item_id, r.purpose, bool(r.given), r.at, r.via, r.recorded_by,
                       r.recorded_at)
            for r in await conn.execute(select(consents_t).where(
                consents_t.c.item_id == item_id).order_by(consents_t.c.id))]


# --- desk alerts ---------------------------------------------------------------------------

def _alert(r: object) -> AlertRow:
    m = r._mapping  # type: ignore[attr-defined]
    return AlertRow(m["id"], m["request_id"], m["created_at"], m["step"], m["target_id"],
                    m["escalate_at"], m["acked_at"], m["acked_by"])


async def open_alert_for(conn: AsyncConnection, request_id: int) -> AlertRow | None:
    row = (await conn.execute(select(alerts_t).where(and_(
        alerts_t.c.request_id == request_id, alerts_t.c.acked_at.is_(None))))).first()
    return _alert(row) if row else None


async def insert_alert(conn: AsyncConnection, request_id: int, *, at: datetime,
                       target_id: int | None, escalate_at: datetime | None) -> int:
    return int((await conn.execute(insert(alerts_t).values(
        request_id=request_id, created_at=at, step=0, target_id=target_id,
        escalate_at=escalate_at).returning(alerts_t.c.id))).scalar_one())


async def alerts_due(conn: AsyncConnection, now: datetime) -> list[AlertRow]:
    return [_alert(r) for r in await conn.execute(select(alerts_t).where(and_(
        alerts_t.c.acked_at.is_(None), alerts_t.c.escalate_at.is_not(None),
        alerts_t.c.escalate_at <= now)).order_by(alerts_t.c.id))]


async def move_alert(conn: AsyncConnection, alert_id: int, *, step: int,
                     target_id: int | None, escalate_at: datetime | None) -> None:
    await conn.execute(update(alerts_t).where(alerts_t.c.id == alert_id).values(
        step=step, target_id=target_id, escalate_at=escalate_at))


async def get_alert(conn: AsyncConnection, alert_id: int) -> AlertRow | None:
    row = (await conn.execute(select(alerts_t).where(alerts_t.c.id == alert_id))).first()
    return _alert(row) if row else None


async def ack_alert(conn: AsyncConnection, alert_id: int, by: int, at: datetime) -> bool:
    result = await conn.execute(update(alerts_t).where(and_(
        alerts_t.c.id == alert_id, alerts_t.c.acked_at.is_(None))).values(
        acked_at=at, acked_by=by, escalate_at=None))
    return result.rowcount == 1


async def ack_alerts_of(conn: AsyncConnection, request_id: int, by: int | None,
                        at: datetime) -> list[int]:
    """Close the request's open alerts (it has an outcome now); their ids."""
    ids = [r.id for r in await conn.execute(select(alerts_t.c.id).where(and_(
        alerts_t.c.request_id == request_id, alerts_t.c.acked_at.is_(None))))]
    if ids:
        await conn.execute(update(alerts_t).where(alerts_t.c.id.in_(ids)).values(
            acked_at=at, acked_by=by, escalate_at=None))
    return ids


async def open_alerts(conn: AsyncConnection) -> list[AlertRow]:
    return [_alert(r) for r in await conn.execute(select(alerts_t).where(
        alerts_t.c.acked_at.is_(None)).order_by(alerts_t.c.id))]
