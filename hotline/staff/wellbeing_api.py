"""JSON routes of the limits that protect counselors and the holiday calendar: the lead's
wellbeing view, debrief flags, "this case was hard", and holidays. Who may call which is in
hotline/domain/policy.py (enforced by the guard). See docs/staff.md."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from hotline.cases import casework
from hotline.domain.exposure import Standing
from hotline.domain.holidays import KINDS, Holiday
from hotline.domain.shift_text import parse_hhmm
from hotline.staff import calendar, debriefs, exposure
from hotline.staff.auth import require_staff
from hotline.web.appkeys import DEPS
from hotline.web.inputs import json_body, page_after, page_limit
from hotline.web.middleware import json_error

routes = web.RouteTableDef()


@routes.get("/api/v1/wellbeing")
async def wellbeing(request: web.Request) -> web.Response:
    """Everyone present a page at a time (`limit`, `after`: the `next` of the page before),
    whoever needs a word first, then the longest without a break; exposure and caps; the
    floor's counts; debrief flags."""
    await require_staff(request)
    limit, after = page_limit(request), page_after(request)
    try:
        cursor = Standing.parse(after) if after is not None else None
    except ValueError:
        raise json_error(400, "after: not a cursor of this list", field="after") from None
    return web.json_response(await exposure.wellbeing(request.app[DEPS], limit, cursor))


@routes.get("/api/v1/me/wellbeing")
async def my_wellbeing(request: web.Request) -> web.Response:
    """One's own: minutes since the last break and whether one is due."""
    staff = await require_staff(request)
    return web.json_response(await exposure.my_break(request.app[DEPS], staff.id))


@routes.post("/api/v1/debriefs/{id:[0-9]{1,9}}/clear")
async def clear_debrief(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    if not await debriefs.clear_debrief(request.app[DEPS], staff.id,
                                        int(request.match_info["id"])):
        raise json_error(404, "no such open debrief flag")
    return web.json_response({"cleared": int(request.match_info["id"])})


@routes.post("/api/v1/cases/{id}/hard")
async def mark_hard(request: web.Request) -> web.Response:
    """The counselor holding (or having held) a case marks it as hard: a debrief flag."""
    staff = await require_staff(request)
    deps = request.app[DEPS]
    cid = request.match_info["id"]
    try:
        flag = await debriefs.mark_hard(deps, staff, cid)
    except casework.CaseNotFound:
        raise json_error(404, "no such case") from None
    return web.json_response({"debrief": flag}, status=201)


@routes.get("/api/v1/holidays")
async def list_holidays(request: web.Request) -> web.Response:
    await require_staff(request)
    found = await calendar.upcoming(request.app[DEPS])
    return web.json_response({"holidays": [_json(h) for h in found]})


def _json(h: Holiday) -> dict[str, object]:
    def hhmm(m: int | None) -> str | None:
        return None if m is None else f"{m // 60:02d}:{m % 60:02d}"
    return {"day": h.day.isoformat(), "kind": h.kind, "opens": hhmm(h.opens_minute),
            "closes": hhmm(h.closes_minute), "label": h.label, "tz": h.tz}


def _day(raw: object) -> date:
    try:
        if not isinstance(raw, str) or len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise json_error(400, "day: expected YYYY-MM-DD", field="day") from None


def _minute(body: dict[str, object], name: str) -> int | None:
    raw = body.get(name)
    if raw is None:
        return None
    try:
        if not isinstance(raw, str):
            raise ValueError(raw)
        at = parse_hhmm(raw, as_end=name == "closes")
    except ValueError:
        raise json_error(400, f"{name}: expected HH:MM", field=name) from None
    minute = at.hour * 60 + at.minute
    return 1440 if name == "closes" and minute == 0 else minute


@routes.post("/api/v1/holidays")
async def put_holiday(request: web.Request) -> web.Response:
    """{day, kind: closed|reduced, opens?, closes?, label?}: set (or replace) one day."""
    staff = await require_staff(request)
    deps = request.app[DEPS]
    body = await json_body(request)
    kind = body.get("kind")
    if kind not in KINDS:
        raise json_error(400, f"kind: expected one of {', '.join(KINDS)}", field="kind")
    label = body.get("label", "")
    if not isinstance(label, str) or len(label) > 64 or not label.isprintable():
        raise json_error(400, "label: expected at most 64 characters", field="label")
    try:
        h = Holiday(day=_day(body.get("day")), kind=str(kind), opens_minute=_minute(body, "opens"),
                    closes_minute=_minute(body, "closes"), label=label.strip(),
                    tz=deps.config.roster.timezone)
    except ValueError as e:
        field = str(e).split(":")[0]
        raise json_error(400, str(e), field=field) from None
    await calendar.put(deps, staff.id, h)
    return web.json_response({"holiday": _json(h)}, status=201)


@routes.delete("/api/v1/holidays/{day:[0-9]{4}-[0-9]{2}-[0-9]{2}}")
async def remove_holiday(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    day = _day(request.match_info["day"])
    if not await calendar.remove(request.app[DEPS], staff.id, day):
        raise json_error(404, "no such holiday")
    return web.json_response({"removed": day.isoformat()})
