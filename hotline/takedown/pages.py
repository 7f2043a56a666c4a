"""The desk's console pages: /console/takedown (worklist, urgent cases to make items from,
overdue alerts), an item's page and a request's page. The pages read through the desk's
services and views; their buttons call the JSON API (static/takedown.js). Staff who do not
act on the desk get 404, as for a record that does not exist."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hotline.domain import policy
from hotline.domain.policy import DeskNotFound
from hotline.domain.removal import STAFF_STEPS
from hotline.domain.takedown import ItemKind, ItemStatus, TakedownInputError
from hotline.staff import auth
from hotline.takedown import clusters, deadlines, items, prefill, views
from hotline.takedown import requests as req_svc
from hotline.takedown.api import DESK, REQUEST_STATES
from hotline.takedown.desk import Desk
from hotline.takedown.items import CONSENT_PURPOSES, CONSENT_VIA
from hotline.takedown.worklist import NO_REQUEST, worklist
from hotline.web import i18n

routes = web.RouteTableDef()


async def _context(request: web.Request) -> dict[str, Any]:
    staff, csrf = await auth.require_session(request)
    lang = i18n.staff_language(request, staff)
    if not policy.acts_on_desk(staff):
        raise web.HTTPNotFound(text=i18n.words_for(request, lang, "common.not_found"))
    desk = request.app[DESK]
    return {"staff": staff, "csrf": csrf, "lang": lang, "directory": desk.directory,
            "platform_names": desk.directory.names(lang)}


def _not_found(request: web.Request, ctx: dict[str, Any]) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=i18n.words_for(request, ctx["lang"], "common.not_found"))


@routes.get("/console/takedown")
async def desk_page(request: web.Request) -> web.Response:
    ctx = await _context(request)
    desk: Desk = request.app[DESK]
    q = request.query
    platform = q.get("platform") or None
    state = q.get("state") or None
    if platform not in (None, *desk.directory.codes):
        platform = None
    if state not in (None, *REQUEST_STATES, NO_REQUEST):
        state = None
    async with desk.deps.engine.connect() as conn:
        rows = await worklist(conn, desk.clock(), state=state, platform=platform,
                              overdue_only=q.get("overdue") == "1")
    ctx.update(rows=rows, platform=platform, state=state, overdue=q.get("overdue") == "1",
               states=(*REQUEST_STATES, NO_REQUEST),
               case_alerts=await prefill.case_alerts(desk, ctx["staff"]),
               desk_alerts=await deadlines.open_alerts(desk, ctx["staff"]),
               kinds=[k.value for k in ItemKind])
    return aiohttp_jinja2.render_template("console/takedown.html", request, ctx)


def _int(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None


@routes.get("/console/takedown/items/{id}")
async def item_page(request: web.Request) -> web.Response:
    ctx = await _context(request)
    desk: Desk = request.app[DESK]
    item_id = _int(request.match_info["id"])
    if item_id is None:
        raise _not_found(request, ctx)
    try:
        async with desk.deps.engine.connect() as conn:
            item = await items.load_item(desk, conn, ctx["staff"], item_id)
            view = await views.item_json(desk, conn, ctx["staff"], item)
    except DeskNotFound:
        raise _not_found(request, ctx) from None
    routes_for = [(p.code, r) for p in desk.directory.platforms
                  for r in p.routes_for(item.kind, item.minor)]
    ctx.update(item=view, routes_for=routes_for, purposes=CONSENT_PURPOSES, vias=CONSENT_VIA,
               item_events=[s for s in items.STAFF_ITEM_EVENTS
                            if (ItemStatus(view["status"]), s) != (ItemStatus.OPEN,
                                                                     "monitor")])
    return aiohttp_jinja2.render_template("console/takedown_item.html", request, ctx)


@routes.get("/console/takedown/requests/{id}")
async def request_page(request: web.Request) -> web.Response:
    ctx = await _context(request)
    desk: Desk = request.app[DESK]
    rid = _int(request.match_info["id"])
    if rid is None:
        raise _not_found(request, ctx)
    try:
        async with desk.deps.engine.connect() as conn:
            row, item = await req_svc.load_request(desk, conn, ctx["staff"], rid)
            view = await views.request_json(desk, conn, row, item)
    except (DeskNotFound, TakedownInputError):
        raise _not_found(request, ctx) from None
    ctx.update(req=view, editable=row.request.state in req_svc.EDITABLE,
               steps=[s.value for s in STAFF_STEPS],
               field_names=[f for f in view["required_fields"] if f != "urls"])
    return aiohttp_jinja2.render_template("console/takedown_request.html", request, ctx)


@routes.get("/console/takedown/clusters")
async def clusters_page(request: web.Request) -> web.Response:
    ctx = await _context(request)
    desk: Desk = request.app[DESK]
    after = request.query.get("after") or None
    try:
        found = await clusters.list_clusters(desk, ctx["staff"],
                                             {"after": after} if after else {})
    except TakedownInputError:
        raise _not_found(request, ctx) from None
    for c in found["clusters"]:
        detail = await clusters.cluster(desk, ctx["staff"], c["key"])
        c["item_ids"] = sorted({r["item"] for r in detail["locations"]})
    ctx.update(clusters=found["clusters"], next=found["next"])
    return aiohttp_jinja2.render_template("console/takedown_clusters.html", request, ctx)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
