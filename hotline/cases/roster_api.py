"""The roster's JSON API: who is on shift, the entries, their edits (leads), whether each
person follows the roster, and the cover ahead. Lists come a page at a time, filtered by a name
or #id (`q`), with `total` and the `next` page's cursor (`after`). An edit that would end
someone's shift now answers 409 with what it would end unless sent with confirm; a combination
that cannot be meant answers 400 naming the field. See docs/floor.md.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from hotline.cases import cover, roster, roster_lists
from hotline.cases.paging import BadCursor
from hotline.domain import policy, shift_text, shifts
from hotline.domain.staff import Staff
from hotline.staff import accounts as staff_store
from hotline.staff import roster_people
from hotline.staff.auth import require_staff
from hotline.web.appkeys import DEPS
from hotline.web.inputs import (
    field_bool,
    field_int,
    field_str,
    json_body,
    page_after,
    page_limit,
    parse_time,
    query_text,
)
from hotline.web.middleware import json_error

routes = web.RouteTableDef()
# The lists' reads scan the roster and every account: on SQLite they run on the reader's
# thread (deps.reads), not the loop's.

# How far ahead the cover may be asked about: a day's rota at most.
_MAX_COVER_HOURS = 24


def _require_lead(staff: Staff) -> None:
    # The policy guard refuses these routes to other roles first (404); kept for callers
    # that reach the handler another way.
    if not policy.may(staff.role, policy.Action.ROSTER):
        raise json_error(403, "not allowed for your role")


async def _require_staff_member(request: web.Request, counselor_id: int) -> None:
    """A roster entry must name an active staff account (400, not an SQL error, otherwise)."""
    async with request.app[DEPS].engine.connect() as conn:
        if await staff_store.by_id(conn, counselor_id) is None:
            raise json_error(400, "counselor_id: no such staff member", field="counselor_id")


def _would_end(e: roster.WouldEnd) -> web.HTTPException:
    return json_error(409, f"this would end {e.name}'s shift now ({e.held_cases} cases held); "
                      "send confirm: true to go ahead", code="would_end_shift",
                      would_end={"counselor_id": e.counselor_id, "name": e.name,
                                 "held_cases": e.held_cases})


def _not_rostered() -> web.HTTPException:
    return json_error(409, "counselor_id: this person does not follow the roster, so shifts "
                      "and extra time would not apply; set them to follow it first",
                      field="counselor_id", code="not_rostered")


def _parse_at(request: web.Request) -> datetime:
    raw = request.query.get("at")
    return datetime.now(UTC) if raw is None else parse_time(raw, "at", shifts.check_time)


def _confirmed(request: web.Request) -> bool:
    raw = request.query.get("confirm", "false")
    if raw not in ("true", "false"):
        raise json_error(400, "confirm: expected true or false", field="confirm")
    return raw == "true"


def _search(request: web.Request) -> str:
    return query_text(request, "q", roster_people.MAX_QUERY)


def _bad_cursor() -> web.HTTPException:
    return json_error(400, "after: not a cursor of this list", field="after")


@routes.get("/api/v1/roster")
async def get_roster(request: web.Request) -> web.Response:
    """Who is on shift at `at` (default now), by name: `limit` (default 50) of those matching
    `q`, after the cursor `after`, with `total` and `next`."""
    await require_staff(request)
    at = _parse_at(request)
    q, limit, after = _search(request), page_limit(request), page_after(request)
    try:
        async with request.app[DEPS].reads.connect() as conn:
            on = await roster_lists.who_is_on(conn, at, q, limit, after)
    except BadCursor:
        raise _bad_cursor() from None
    return web.json_response({"at": at.isoformat(), "on_shift": on.on_shift,
                              "next_edge": on.next_edge.isoformat() if on.next_edge else None,
                              "total": on.total, "next": on.next})


@routes.get("/api/v1/roster/entries")
async def roster_entries(request: web.Request) -> web.Response:
    """Leads: the first `limit` (default 50) weekly shifts, overrides not yet over and people
    (whether each follows the roster) of those matching `q`, each list with its total and the
    cursor of its next page (GET /api/v1/roster/{shifts,overrides,people})."""
    _require_lead(await require_staff(request))
    q, limit = _search(request), page_limit(request)
    async with request.app[DEPS].reads.connect() as conn:
        found = await roster_lists.entries(conn, datetime.now(UTC), q, limit)
    return web.json_response(found)


@routes.get("/api/v1/roster/shifts")
@routes.get("/api/v1/roster/overrides")
@routes.get("/api/v1/roster/people")
async def roster_list(request: web.Request) -> web.Response:
    """Leads: one page of a roster list, {<list>: [...], "total", "next"}, of those matching
    `q` (a name's part or #id); `after` is the `next` of the page before. People are also the
    person pickers' lookup: `limit` defaults to 20 for them (at most 100), else 50."""
    _require_lead(await require_staff(request))
    part = request.path.rsplit("/", 1)[1]
    q, after = _search(request), page_after(request)
    limit = page_limit(request, 20, 100) if part == "people" else page_limit(request)
    try:
        async with request.app[DEPS].reads.connect() as conn:
            if part == "shifts":
                found = await roster_lists.shift_page(conn, q, limit, after)
            elif part == "overrides":
                found = await roster_lists.override_page(conn, datetime.now(UTC), q, limit,
                                                         after)
            else:
                found = await roster_lists.people_page(conn, q, limit, after)
    except BadCursor:
        raise _bad_cursor() from None
    return web.json_response({part: found.items, "total": found.total, "next": found.next})


@routes.get("/api/v1/roster/cover")
async def roster_cover(request: web.Request) -> web.Response:
    """Leads: languages and channels with cases waiting and nobody on shift, now and in the
    next `hours` (default roster.cover_hours)."""
    _require_lead(await require_staff(request))
    deps = request.app[DEPS]
    raw = request.query.get("hours", str(deps.config.roster.cover_hours))
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= _MAX_COVER_HOURS:
        raise json_error(400, f"hours: expected 1 to {_MAX_COVER_HOURS}", field="hours")
    return web.Response(body=await cover.gaps_json(deps, int(raw)),
                        content_type="application/json")


# "mon".."sun" and the three groups: a longer list can only repeat them.
_MAX_DAY_ITEMS = 10


@routes.post("/api/v1/roster/shifts")
async def add_shift(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    _require_lead(staff)
    body = await json_body(request)
    cid = field_int(body, "counselor_id")
    days = body.get("days")
    # Each bad value answers 400 naming its field, like every other input (web/inputs.py).
    if not isinstance(days, list) or not days or len(days) > _MAX_DAY_ITEMS \
            or not all(isinstance(d, str) and len(d) <= 16 for d in days):
        raise json_error(400, "days: expected a list of mon..sun, daily, weekdays or weekends",
                         field="days")
    try:
        weekdays = shift_text.parse_weekdays(days)
    except ValueError as e:
        raise json_error(400, f"days: {e}", field="days") from None
    times = []
    for name in ("start", "end"):
        try:
            times.append(shift_text.parse_hhmm(field_str(body, name, 5), as_end=name == "end"))
        except ValueError as e:
            raise json_error(400, f"{name}: {e}", field=name) from None
    start, end = times
    tz = field_str(body, "tz", 64, required=False) or request.app[DEPS].config.roster.timezone
    try:
        shifts.WeeklyShift(cid, 0, start, end, tz)
    except ValueError as e:
        raise json_error(400, f"tz: {e}", field="tz") from None
    # Accepted like every edit's, though adding time never ends a shift.
    field_bool(body, "confirm", False)
    await _require_staff_member(request, cid)
    try:
        ids = await roster.add_shifts(
            request.app[DEPS], [roster.ShiftIn(cid, d, start, end, tz) for d in weekdays],
            staff.id)
    except roster.NotRostered:
        raise _not_rostered() from None
    return web.json_response({"shifts": ids}, status=201)


@routes.delete("/api/v1/roster/{kind:shifts|overrides}/{id:[0-9]{1,9}}")
async def remove_entry(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    _require_lead(staff)
    entry = int(request.match_info["id"])
    confirm = _confirmed(request)
    try:
        if request.match_info["kind"] == "shifts":
            await roster.remove_shift(request.app[DEPS], entry, staff.id, confirm)
        else:
            await roster.remove_override(request.app[DEPS], entry, staff.id, confirm)
    except LookupError:
        raise json_error(404, "no such roster entry") from None
    except roster.WouldEnd as e:
        raise _would_end(e) from None
    return web.json_response({"removed": entry})


@routes.post("/api/v1/roster/overrides")
async def add_override(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    _require_lead(staff)
    body = await json_body(request)
    cid = field_int(body, "counselor_id")
    when = [parse_time(field_str(body, name, 40), name, shifts.check_time)
            for name in ("start", "end")]
    on_shift = field_bool(body, "on_shift")
    reason = field_str(body, "reason", 16, choices=shifts.OVERRIDE_REASONS)
    if not shifts.reason_fits(on_shift, reason):
        raise json_error(400, f"reason: {reason!r} does not go with "
                         f"{'on' if on_shift else 'off'} shift", field="reason")
    confirm = field_bool(body, "confirm", False)
    try:
        o = shifts.Override(staff_id=cid, start=when[0], end=when[1], on_shift=on_shift,
                            reason=reason)
    except ValueError as e:
        raise json_error(400, f"end: {e}", field="end") from None
    await _require_staff_member(request, cid)
    try:
        oid = await roster.add_override(request.app[DEPS], o, staff.id, confirm)
    except roster.NotRostered:
        raise _not_rostered() from None
    except roster.WouldEnd as e:
        raise _would_end(e) from None
    return web.json_response({"override": oid}, status=201)


@routes.put("/api/v1/roster/people/{id:[0-9]{1,9}}")
async def set_rostered(request: web.Request) -> web.Response:
    """Leads: whether this person follows the roster (true) or is on shift whenever signed in
    except time off (false)."""
    staff = await require_staff(request)
    _require_lead(staff)
    body = await json_body(request)
    rostered = field_bool(body, "rostered")
    confirm = field_bool(body, "confirm", False)
    cid = int(request.match_info["id"])
    try:
        changed = await roster.set_rostered(request.app[DEPS], cid, rostered, staff.id, confirm)
    except LookupError:
        raise json_error(404, "no such staff member") from None
    except roster.WouldEnd as e:
        raise _would_end(e) from None
    return web.json_response({"counselor_id": cid, "rostered": rostered, "changed": changed})
