"""The JSON shapes of the desk's API (docs/takedown.md, "HTTP API"), read in one go per
item. Counselors get an item's state and its requests' states, never texts or consent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.domain import policy
from hotline.domain.locations import parse_location
from hotline.domain.removal import is_overdue, needs_escalation, next_rung
from hotline.domain.staff import Staff
from hotline.domain.urls import LocationError
from hotline.takedown import items as items_svc
from hotline.takedown import monitor_queries as mq
from hotline.takedown import queries
from hotline.takedown import requests as req_svc
from hotline.takedown.desk import Desk


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def location_json(loc: queries.LocationRow) -> dict[str, Any]:
    out: dict[str, Any] = {"id": loc.id, "url": loc.url, "platform": loc.platform,
                           "host": loc.host, "first_seen_at": _iso(loc.first_seen_at),
                           "last_checked_at": _iso(loc.last_checked_at),
                           "online": loc.online, "watch": loc.watch,
                           "cluster": loc.cluster_key}
    if loc.telegram_kind is not None:
        out.update(telegram_kind=loc.telegram_kind, channel=loc.channel,
                   message_id=loc.message_id)
        try:
            ref = parse_location(loc.url).telegram
        except LocationError:
            ref = None
        if ref is not None and ref.channel_id is not None:
            out["private"] = True
    return out


def request_summary(row: queries.RequestRow, now: datetime) -> dict[str, Any]:
    r = row.request
    return {"id": row.id, "item_id": row.item_id, "platform": r.platform, "route": r.route,
            "legal_basis": r.legal_basis.value, "state": r.state.value,
            "due_at": _iso(r.due_at), "overdue": is_overdue(r, now), "rung": r.rung,
            "attempt": r.attempt}


async def request_json(desk: Desk, conn: AsyncConnection, row: queries.RequestRow,
                       item: queries.ItemRow) -> dict[str, Any]:
    now = desk.clock()
    r = row.request
    platform, route = desk.route(r.platform, r.route)
    composed = await req_svc.current(desk, conn, row, item)
    nxt = next_rung(platform, r) if needs_escalation(r, now) or r.state.value in (
        "partially_removed", "overdue") else None
    children = await queries.children_of(conn, row.id)
    return {
        **request_summary(row, now), "language": row.language, "ticket": r.ticket,
        "route_kind": route.kind.value, "form_url": route.url,
        "email": (req_svc.stored_fields(desk, row).get("address") if route.address_per_request
                  else route.email),
        "address_per_request": route.address_per_request,
        "due_hours": r.due_hours, "created_at": _iso(r.created_at),
        "parent_id": row.parent_id, "escalated_by": children[0] if children else None,
        "location_ids": list(row.location_ids), "text": composed.text,
        "fields": req_svc.stored_fields(desk, row),
        "values": {f.value: composed.values.get(f.value, "") for f in route.required_fields},
        "required_fields": [f.value for f in route.required_fields],
        "missing_fields": [f.value for f in composed.missing],
        "next_rung": nxt.code if nxt is not None and not children else None,
        "message_id": row.message_id, "relay_reply": row.relay_reply,
        "steps": [{"step": s.step.value, "at": _iso(s.at), "recorded_at": _iso(s.recorded_at),
                   "ticket": s.ticket, "reason": s.reason, "by": by}
                  for s, by in zip(r.steps, row.actors, strict=True)],
    }


async def item_json(desk: Desk, conn: AsyncConnection, staff: Staff, item: queries.ItemRow
                    ) -> dict[str, Any]:
    now = desk.clock()
    locs = (await queries.locations_of(conn, [item.id]))[item.id]
    reqs = (await queries.requests_of(conn, [item.id]))[item.id]
    fp = item.fingerprint
    out: dict[str, Any] = {
        "id": item.id, "kind": item.kind.value, "minor": item.minor,
        "status": item.status.value, "case_id": item.conversation_id,
        "reporter": item.reporter.value, "created_at": _iso(item.created_at),
        "updated_at": _iso(item.updated_at),
        "fingerprint": {"sha256": fp.sha256, "pdq": fp.pdq, "pdq_quality": fp.pdq_quality}
        if fp else None,
        "evidence_id": item.evidence_id,
        "locations": [location_json(loc) for loc in locs],
        "requests": [request_summary(r, now) for r in reqs],
        "reuploads": await mq.reuploads_of(conn, item.id),
    }
    if policy.sees_request_text(staff):
        consent = await items_svc.consent_of(conn, item)
        out["consent"] = dict(consent.state)
        out["consent_needed"] = items_svc.needs_consent(item)
        out["consents"] = [{"id": c.id, "purpose": c.purpose, "given": c.given,
                            "at": _iso(c.at), "via": c.via, "recorded_by": c.recorded_by,
                            "recorded_at": _iso(c.recorded_at)}
                           for c in await queries.consents_of(conn, item.id)]
    return out
