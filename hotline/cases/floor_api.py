"""The JSON API for routing on the floor: presence, offers, shift-lead actions, handovers
and alerts (the roster's: console/roster_api.py). Role checks answer 403; case lookups answer
404 for missing and forbidden alike (through casework.load_case). See docs/routing.md.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from hotline.cases import alerts, casework, floorview, handover, presence, router, urgency
from hotline.domain.conversation import Status, Urgency
from hotline.domain.policy import Action, may
from hotline.domain.routing import Presence
from hotline.domain.staff import Staff
from hotline.staff.auth import require_staff
from hotline.web.appkeys import DEPS
from hotline.web.inputs import (
    field_bool,
    field_int,
    field_str,
    json_body,
    page_after,
    page_limit,
)
from hotline.web.middleware import json_error

routes = web.RouteTableDef()

_RECENT_ALERTS = timedelta(minutes=15)


def _require(staff: Staff, action: Action) -> None:
    """The policy's answer, enforced here too (the route guard asked it first): a role without
    the right sees the record as missing."""
    if not may(staff.role, action):
        raise json_error(404, "not found")


async def _case_for(request: web.Request, staff: Staff) -> str:
    """The case id of the URL, if `staff` may see it (404 otherwise, missing or forbidden)."""
    deps = request.app[DEPS]
    try:
        async with deps.engine.connect() as conn:
            conv = await casework.load_case(conn, staff, request.match_info["id"])
    except casework.CaseNotFound:
        raise json_error(404, "no such case") from None
    return conv.id


@routes.post("/api/v1/presence")
async def set_presence(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    body = await json_body(request)
    status = field_str(body, "status", 16, choices=tuple(p.value for p in Presence))
    deps = request.app[DEPS]
    await presence.beat(deps, staff.id)
    await presence.set_status(deps, staff.id, Presence(status))
    return web.json_response({"status": status})


@routes.get("/api/v1/offers/mine")
async def my_offers(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    deps = request.app[DEPS]
    mine = await floorview.offers_to(deps, staff.id)
    return web.json_response({"offers": [
        {"id": w.conversation_id, "channel": w.channel.value, "language": w.language,
         "urgency": w.urgency.value, "deadline_ms": deadline, "reasons": list(reasons)}
        for w, deadline, reasons in mine]})


@routes.post("/api/v1/offers/{id}/{action:accept|decline}")
async def answer_offer(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    deps = request.app[DEPS]
    cid = request.match_info["id"]
    try:
        if request.match_info["action"] == "accept":
            await router.accept(deps, staff, cid)
        else:
            await router.decline(deps, staff, cid)
    except casework.CaseConflict as e:
        raise json_error(409, e.reason) from None
    return web.json_response({"conversation": cid, "action": request.match_info["action"]})


@routes.post("/api/v1/cases/{id}/reassign")
async def reassign(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    _require(staff, Action.SUPERVISE)
    cid = await _case_for(request, staff)
    body = await json_body(request)
    to = field_int(body, "counselor_id")
    reason = field_str(body, "reason", 32, choices=handover.REASONS)
    override = field_bool(body, "override_capacity", False)
    try:
        previous = await handover.reassign(request.app[DEPS], cid, to, reason, staff.id,
                                           override_capacity=override)
    except casework.CaseNotFound:
        raise json_error(404, "no such case") from None
    except casework.CaseConflict as e:
        raise json_error(409, f"counselor not eligible: {e.reason}", reason=e.reason) from None
    return web.json_response({"conversation": cid, "counselor": to, "previous": previous})


@routes.get("/api/v1/cases/{id}/takers")
async def takers(request: web.Request) -> web.Response:
    """Whom the lead may give the case to now: the first `limit` (default 50) routable
    people for its language and channel, those with room first; and how many there are.
    The reassign picker lists these, not the floor's first page of staff."""
    staff = await require_staff(request)
    _require(staff, Action.SUPERVISE)
    try:
        found = await handover.takers(request.app[DEPS], staff, request.match_info["id"],
                                      page_limit(request))
    except casework.CaseNotFound:
        raise json_error(404, "no such case") from None
    return web.json_response(found)


@routes.post("/api/v1/cases/{id}/requeue")
async def requeue(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    cid = await _case_for(request, staff)
    body = await json_body(request)
    reason = field_str(body, "reason", 32, choices=handover.REASONS)
    if not may(staff.role, Action.SUPERVISE):
        # A counselor may return their own case (e.g. the wrong language); leads any case.
        async with request.app[DEPS].engine.connect() as conn:
            conv = await casework.load_case(conn, staff, cid)
        if conv.counselor_id != staff.id:
            raise json_error(403, "not allowed for your role")
    try:
        await handover.requeue(request.app[DEPS], cid, reason, staff.id)
    except casework.CaseNotFound:
        raise json_error(409, "case is closed") from None
    except casework.CaseConflict as e:
        raise json_error(409, e.reason) from None
    return web.json_response({"conversation": cid, "status": Status.WAITING.value})


@routes.post("/api/v1/cases/{id}/urgency")
async def set_urgency(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    _require(staff, Action.SUPERVISE)
    cid = await _case_for(request, staff)
    body = await json_body(request)
    level = field_str(body, "urgency", 16, choices=tuple(u.value for u in Urgency))
    reason = field_str(body, "reason", 32, choices=urgency.LEAD_REASONS)
    try:
        change = await urgency.lead_set(request.app[DEPS], cid, Urgency(level), reason,
                                        staff.id)
    except LookupError:
        raise json_error(409, "case is closed") from None
    if change is None:
        return web.json_response({"conversation": cid, "urgency": level, "changed": False})
    return web.json_response({"conversation": cid, "urgency": change.urgency.value,
                              "reasons": list(change.reasons), "changed": True})


@routes.post("/api/v1/cases/{id}/flag-spreading")
async def flag_spreading(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    cid = await _case_for(request, staff)
    try:
        change = await urgency.flag_spreading(request.app[DEPS], cid, staff.id)
    except LookupError:
        raise json_error(409, "case is closed") from None
    return web.json_response({"conversation": cid, "changed": change is not None})


@routes.post("/api/v1/cases/{id}/handover")
async def plan_handover(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    cid = await _case_for(request, staff)
    body = await json_body(request)
    to = body.get("to_counselor_id")
    if to is not None:
        to = field_int(body, "to_counselor_id")
    note = field_str(body, "note", 2000, required=False)
    try:
        await handover.plan(request.app[DEPS], cid, staff.id, to, note)
    except casework.CaseNotFound:
        raise json_error(409, "only the counselor holding an open case can hand it over"
                         ) from None
    return web.json_response({"conversation": cid, "to": to})


@routes.get("/api/v1/alerts")
async def list_alerts(request: web.Request) -> web.Response:
    """The first `limit` (default 50) open alerts this person may act on, takedown first,
    oldest first; how many are open in all, by kind and reasons; then the last ones closed
    (acknowledged, or closed by themselves) with who acknowledged them."""
    staff = await require_staff(request)
    found = await alerts.panel(request.app[DEPS], staff, page_limit(request),
                               recent=_RECENT_ALERTS)
    return web.json_response({
        "alerts": [a.as_json() for a in (*found.open, *found.closed)],
        "open": found.total,
        "counts": [{"kind": k, "reasons": list(r), "n": n} for k, r, n in found.counts]})


@routes.post("/api/v1/alerts/{id:[0-9]{1,9}}/ack")
async def ack_alert(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    try:
        done = await alerts.ack(request.app[DEPS], staff, int(request.match_info["id"]))
    except LookupError:
        raise json_error(404, "no such alert") from None
    if not done:
        raise json_error(409, "already acknowledged")
    return web.json_response({"alert": int(request.match_info["id"]), "acked": True})


@routes.get("/api/v1/floor")
async def floor(request: web.Request) -> web.Response:
    """The lead's live view, bounded: counts per urgency, language and channel with the
    oldest waits, and the first `limit` (default 50) staff, unassigned and active cases, each
    list with the cursor of its next page (GET /api/v1/floor/{list})."""
    staff = await require_staff(request)
    _require(staff, Action.SUPERVISE)
    return web.Response(body=await floorview.floor_json(request.app[DEPS], page_limit(request)),
                        content_type="application/json")


@routes.get("/api/v1/floor/unassigned")
@routes.get("/api/v1/floor/active")
@routes.get("/api/v1/floor/agents")
async def floor_page(request: web.Request) -> web.Response:
    """One more page of a floor list: {"items", "total", "next"}; `after` is the `next` of
    the page before."""
    staff = await require_staff(request)
    _require(staff, Action.SUPERVISE)
    deps, limit, after = request.app[DEPS], page_limit(request), page_after(request)
    part = request.path.rsplit("/", 1)[1]
    try:
        if part == "unassigned":
            found = await floorview.queue(deps, limit, after)
            page = {"items": found["waiting"], "total": found["total"], "next": found["next"],
                    "names": found["names"]}
        elif part == "active":
            page = await floorview.active(deps, limit, after)
            page["names"] = await floorview.staff_names(
                deps, [a["counselor"] for a in page["items"]])
        else:
            if after is not None and not (after.isascii() and after.isdigit()
                                              and len(after) <= 9):
                raise floorview.BadCursor(after)
            page = await floorview.agents_json(deps, limit, int(after or 0))
    except floorview.BadCursor:
        raise json_error(400, "after: not a cursor of this list", field="after") from None
    return web.json_response(page)
