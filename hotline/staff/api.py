"""The JSON API of staff administration (admins; the policy guard refuses anyone else):
/api/v1/staff; the audit search /api/v1/audit (+ .csv) and /api/v1/case-search (admins, and
leads for the floor's records). Bad input answers 400 naming the field and changes
nothing. See docs/staff.md for the routes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hotline.audit import search as audit_log_svc
from hotline.cases import casefind
from hotline.domain.accounts import FieldError, parse_fields
from hotline.domain.audit_search import AuditInputError
from hotline.domain.staff import Role
from hotline.staff import admin, sessions
from hotline.staff.auth import require_staff
from hotline.web.appkeys import DEPS
from hotline.web.inputs import json_body
from hotline.web.middleware import json_error

routes = web.RouteTableDef()
_ID = "{id:[0-9]{1,9}}"


def _bad(e: FieldError) -> web.HTTPException:
    return json_error(400, str(e), field=e.field)


def _missing() -> web.HTTPException:
    return json_error(404, "no such staff member")


@routes.get("/api/v1/staff")
async def list_staff(request: web.Request) -> web.Response:
    await require_staff(request)
    found = await admin.listing(request.app[DEPS])
    return web.json_response({"staff": [m.as_json() for m in found]})


@routes.post("/api/v1/staff")
async def add_staff(request: web.Request) -> web.Response:
    """{name, role, languages, channels?, specialisms?, max_chats?}: the new account and a
    one-time link to set its password (shown once)."""
    actor = await require_staff(request)
    deps = request.app[DEPS]
    body = await json_body(request)
    try:
        fields = parse_fields(body, deps.config.languages.supported)
        if fields.role is None:
            raise FieldError("role", f"expected one of {', '.join(r.value for r in Role)}")
        new_id, reset = await admin.add(deps, actor.id, body.get("name"), fields.role, fields)
    except FieldError as e:
        raise _bad(e) from None
    assert reset is not None
    return web.json_response({"id": new_id, "reset_link": reset.link(
        deps.config.server.public_url), "expires_at": reset.expires_at.isoformat()},
        status=201)


@routes.post(f"/api/v1/staff/{_ID}")
async def edit_staff(request: web.Request) -> web.Response:
    actor = await require_staff(request)
    deps = request.app[DEPS]
    body = await json_body(request)
    unknown = sorted(set(body) - {"role", "languages", "channels", "specialisms", "max_chats"})
    if unknown:
        raise json_error(400, f"{unknown[0]}: not a field that can be edited", field=unknown[0])
    try:
        await admin.edit(deps, actor.id, int(request.match_info["id"]),
                         parse_fields(body, deps.config.languages.supported))
    except FieldError as e:
        raise _bad(e) from None
    except admin.NoSuchMember:
        raise _missing() from None
    return web.json_response({"edited": int(request.match_info["id"])})


@routes.post(f"/api/v1/staff/{_ID}/{{action:deactivate|reactivate|reset-password|reset-2fa}}")
async def act(request: web.Request) -> web.Response:
    actor = await require_staff(request)
    deps = request.app[DEPS]
    target = int(request.match_info["id"])
    action = request.match_info["action"]
    out: dict[str, Any] = {"id": target, "done": action}
    try:
        if action == "deactivate":
            out["cases_moved"] = len(await admin.deactivate(deps, actor.id, target))
        elif action == "reactivate":
            await admin.reactivate(deps, actor.id, target)
        elif action == "reset-password":
            reset = await admin.reset_password(deps, actor.id, target)
            out.update(reset_link=reset.link(deps.config.server.public_url),
                       expires_at=reset.expires_at.isoformat())
        else:
            await admin.reset_second_factor(deps, actor.id, target)
    except FieldError as e:
        raise _bad(e) from None
    except admin.NoSuchMember:
        raise _missing() from None
    return web.json_response(out)


@routes.get(f"/api/v1/staff/{_ID}/sessions")
async def sessions_of(request: web.Request) -> web.Response:
    await require_staff(request)
    try:
        found = await admin.sessions_of(request.app[DEPS], int(request.match_info["id"]))
    except admin.NoSuchMember:
        raise _missing() from None
    return web.json_response({"sessions": found})


@routes.delete(f"/api/v1/staff/{_ID}/sessions/{{ref:[0-9a-f]{{16}}}}")
async def end_session(request: web.Request) -> web.Response:
    actor = await require_staff(request)
    ended = await sessions.end_by_ref(request.app[DEPS], int(request.match_info["id"]),
                                      request.match_info["ref"], actor.id)
    if not ended:
        raise json_error(404, "no such session")
    return web.json_response({"ended": request.match_info["ref"]})


@routes.get("/api/v1/audit")
async def audit_log(request: web.Request) -> web.Response:
    """The audit search, newest first (docs/audit.md): ?actor=&case=&action=&from=&to=
    &target_kind=&target_id=&before=&limit=; a lead gets the floor's records only."""
    staff = await require_staff(request)
    try:
        found = await audit_log_svc.search(request.app[DEPS], staff, request.query,
                                           await admin.names(request.app[DEPS]))
    except AuditInputError as e:
        raise json_error(400, str(e), field=e.field) from None
    return web.json_response(found)


@routes.get("/api/v1/audit.csv")
async def audit_csv(request: web.Request) -> web.Response:
    """The same search as CSV (up to 50,000 events); the export is audited."""
    staff = await require_staff(request)
    try:
        body = await audit_log_svc.export_csv(request.app[DEPS], staff, request.query)
    except AuditInputError as e:
        raise json_error(400, str(e), field=e.field) from None
    return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": 'attachment; filename="audit.csv"',
        "Cache-Control": "no-store"})


@routes.get("/api/v1/case-search")
async def case_search(request: web.Request) -> web.Response:
    """Cases (closed ones too) by ?number= or ?date=; each one the person may read."""
    staff = await require_staff(request)
    try:
        found = await casefind.find(request.app[DEPS], staff, request.query)
    except AuditInputError as e:
        raise json_error(400, str(e), field=e.field) from None
    return web.json_response(found)
