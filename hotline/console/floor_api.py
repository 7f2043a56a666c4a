"""The JSON API for routing on the floor: presence, offers, shift-lead actions, handovers,
alerts and the roster. Role checks answer 403; case lookups answer 404 for missing and
forbidden alike (through casework.load_case). See docs/routing.md.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from hotline.console.auth import require_staff
from hotline.domain import shifts
from hotline.domain.conversation import Status, Urgency
from hotline.domain.routing import Presence
from hotline.domain.staff import Role, Staff
from hotline.services import (
    alerts,
    casework,
    floorview,
    handover,
    presence,
    roster,
    router,
    urgency,
)
from hotline.stores.sql import staff as staff_store
from hotline.web.appkeys import DEPS
from hotline.web.inputs import (
    field_bool,
    field_int,
    field_str,
    json_body,
    page_after,
    page_limit,
    parse_time,
)
from hotline.web.middleware import json_error

routes = web.RouteTableDef()

_LEADS = (Role.LEAD, Role.ADMIN)


def _require_role(staff: Staff, roles: tuple[Role, ...]) -> None:
    if staff.role not in roles:
        raise json_error(403, "not allowed for your role")


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
         "urgency": w.urgency.value, "deadline_ms": deadline}
        for w, deadline in mine]})


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
    _require_role(staff, _LEADS)
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


@routes.post("/api/v1/cases/{id}/requeue")
async def requeue(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    cid = await _case_for(request, staff)
    body = await json_body(request)
    reason = field_str(body, "reason", 32, choices=handover.REASONS)
    if staff.role not in _LEADS:
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
    _require_role(staff, _LEADS)
    cid = await _case_for(request, staff)
    body = await json_body(request)
    level = field_str(body, "urgency", 16, choices=tuple(u.value for u in Urgency))
    reason = field_str(body, "reason", 32, choices=handover.REASONS)
    try:
        change = await urgency.lead_set(request.app[DEPS], cid, Urgency(level), reason,
                                        staff.id)
    except LookupError:
        raise json_error(409, "case is closed") from None
    return web.json_response({"conversation": cid, "urgency": change.urgency.value,
                              "reasons": list(change.reasons)})


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
    staff = await require_staff(request)
    found = await alerts.open_alerts(request.app[DEPS], staff)
    return web.json_response({"alerts": [a.as_json() for a in found]})


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
    _require_role(staff, _LEADS)
    return web.json_response(await floorview.floor(request.app[DEPS], page_limit(request)))


@routes.get("/api/v1/floor/{part:unassigned|active|agents}")
async def floor_page(request: web.Request) -> web.Response:
    """One more page of a floor list: {"items", "total", "next"}; `after` is the `next` of
    the page before."""
    staff = await require_staff(request)
    _require_role(staff, _LEADS)
    deps, limit, after = request.app[DEPS], page_limit(request), page_after(request)
    part = request.match_info["part"]
    try:
        if part == "unassigned":
            found = await floorview.queue(deps, limit, after)
            page = {"items": found["waiting"], "total": found["total"], "next": found["next"]}
        elif part == "active":
            page = await floorview.active(deps, limit, after)
        else:
            if after is not None and not (after.isdigit() and len(after) <= 9):
                raise floorview.BadCursor(after)
            page = await floorview.agents_json(deps, limit, int(after or 0))
    except floorview.BadCursor:
        raise json_error(400, "after: not a cursor of this list", field="after") from None
    return web.json_response(page)


async def _require_staff_member(request: web.Request, counselor_id: int) -> None:
    """A roster entry must name an active staff account (400, not an SQL error, otherwise)."""
    async with request.app[DEPS].engine.connect() as conn:
        if await staff_store.by_id(conn, counselor_id) is None:
            raise json_error(400, "counselor_id: no such staff member", field="counselor_id")


def _parse_at(request: web.Request) -> datetime:
    raw = request.query.get("at")
    return datetime.now(UTC) if raw is None else parse_time(raw, "at", shifts.check_time)


@routes.get("/api/v1/roster")
async def get_roster(request: web.Request) -> web.Response:
    await require_staff(request)
    at = _parse_at(request)
    async with request.app[DEPS].engine.connect() as conn:
        on = await roster.who_is_on(conn, at)
    return web.json_response({"at": at.isoformat(), "on_shift": on.on_shift,
                              "next_edge": on.next_edge.isoformat() if on.next_edge else None})


@routes.get("/api/v1/roster/entries")
async def roster_entries(request: web.Request) -> web.Response:
    """Leads: every weekly shift and every override not yet over, with their ids."""
    staff = await require_staff(request)
    _require_role(staff, _LEADS)
    async with request.app[DEPS].engine.connect() as conn:
        found = await roster.entries(conn, datetime.now(UTC))
    return web.json_response(found)


# "mon".."sun" and the three groups: a longer list can only repeat them.
_MAX_DAY_ITEMS = 10


@routes.post("/api/v1/roster/shifts")
async def add_shift(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    _require_role(staff, _LEADS)
    body = await json_body(request)
    cid = field_int(body, "counselor_id")
    days = body.get("days")
    # Each bad value answers 400 naming its field, like every other input (web/inputs.py).
    if not isinstance(days, list) or not days or len(days) > _MAX_DAY_ITEMS \
            or not all(isinstance(d, str) and len(d) <= 16 for d in days):
        raise json_error(400, "days: expected a list of mon..sun, daily, weekdays or weekends",
                         field="days")
    try:
        weekdays = shifts.parse_weekdays(days)
    except ValueError as e:
        raise json_error(400, f"days: {e}", field="days") from None
    times = []
    for name in ("start", "end"):
        try:
            times.append(shifts.parse_hhmm(field_str(body, name, 5), as_end=name == "end"))
        except ValueError as e:
            raise json_error(400, f"{name}: {e}", field=name) from None
    start, end = times
    tz = field_str(body, "tz", 64, required=False) or request.app[DEPS].config.roster.timezone
    try:
        shifts.WeeklyShift(cid, 0, start, end, tz)
    except ValueError as e:
        raise json_error(400, f"tz: {e}", field="tz") from None
    await _require_staff_member(request, cid)
    ids = [await roster.add_shift(request.app[DEPS], roster.ShiftIn(cid, d, start, end, tz),
                                  staff.id) for d in weekdays]
    return web.json_response({"shifts": ids}, status=201)


@routes.delete("/api/v1/roster/{kind:shifts|overrides}/{id:[0-9]{1,9}}")
async def remove_entry(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    _require_role(staff, _LEADS)
    entry = int(request.match_info["id"])
    try:
        if request.match_info["kind"] == "shifts":
            await roster.remove_shift(request.app[DEPS], entry, staff.id)
        else:
            await roster.remove_override(request.app[DEPS], entry, staff.id)
    except LookupError:
        raise json_error(404, "no such roster entry") from None
    return web.json_response({"removed": entry})


@routes.post("/api/v1/roster/overrides")
async def add_override(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    _require_role(staff, _LEADS)
    body = await json_body(request)
    cid = field_int(body, "counselor_id")
    when = [parse_time(field_str(body, name, 40), name, shifts.check_time)
            for name in ("start", "end")]
    on_shift = field_bool(body, "on_shift")
    reason = field_str(body, "reason", 16, choices=shifts.OVERRIDE_REASONS)
    try:
        o = shifts.Override(staff_id=cid, start=when[0], end=when[1], on_shift=on_shift,
                            reason=reason)
    except ValueError as e:
        raise json_error(400, f"end: {e}", field="end") from None
    await _require_staff_member(request, cid)
    oid = await roster.add_override(request.app[DEPS], o, staff.id)
    return web.json_response({"override": oid}, status=201)
