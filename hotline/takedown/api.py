"""The desk's JSON API under /api/v1/takedown (docs/takedown.md, "HTTP API").

Staff session and CSRF as the rest of the console's API (console.auth.require_staff). Bad
input answers 400 naming the field, a step the state does not allow 409 with a code, a record
this person may not see 404 (missing and forbidden look the same); nothing changes then.
Handlers call the desk's services and never write SQL.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from hotline.cases import conversations as convs
from hotline.domain import policy
from hotline.domain.policy import DeskNotFound
from hotline.domain.removal import RequestState
from hotline.domain.staff import Role, Staff
from hotline.domain.takedown import ImpossibleTransition, TakedownInputError
from hotline.jobs import JobSet
from hotline.staff.auth import require_staff
from hotline.takedown import (
    clusters,
    deadlines,
    export,
    items,
    monitor,
    queries,
    rematch,
    sending,
    views,
)
from hotline.takedown import requests as req_svc
from hotline.takedown.desk import Desk
from hotline.takedown.worklist import NO_REQUEST, worklist
from hotline.web.appkeys import DEPS, HUB, PROMPTS
from hotline.web.inputs import INT_LIMIT, json_body
from hotline.web.middleware import json_error

DESK = web.AppKey("takedown_desk", Desk)
REQUEST_STATES = tuple(s.value for s in RequestState)
routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _answers(handler: Handler) -> Handler:
    """The desk's errors as HTTP answers."""
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except TakedownInputError as e:
            raise json_error(400, str(e), field=e.field) from None
        except DeskNotFound:
            raise json_error(404, "not found") from None
        except ImpossibleTransition as e:
            raise json_error(409, str(e), code=e.code) from None
        except sending.SendFailed as e:
            raise json_error(502, "the SMTP relay did not take the message",
                             code="smtp_failed", detail=str(e)) from None
    return wrapped


def _id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) >= INT_LIMIT:
        raise DeskNotFound(raw)
    return int(raw)


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query.get(name) or None
    if value is not None and value not in allowed:
        raise TakedownInputError(name, f"expected one of {', '.join(allowed)}")
    return value


async def _item_response(desk: Desk, staff: Staff, item_id: int, status: int = 200
                         ) -> web.Response:
    async with desk.deps.engine.connect() as conn:
        item = await items.load_item(desk, conn, staff, item_id)
        return web.json_response(await views.item_json(desk, conn, staff, item), status=status)


async def _request_response(desk: Desk, staff: Staff, request_id: int, status: int = 200
                            ) -> web.Response:
    async with desk.deps.engine.connect() as conn:
        row, item = await req_svc.load_request(desk, conn, staff, request_id)
        return web.json_response(await views.request_json(desk, conn, row, item),
                                 status=status)


@routes.get("/api/v1/takedown/platforms")
@_answers
async def platforms(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    if not (policy.acts_on_desk(staff) or staff.role is Role.COUNSELOR):
        raise DeskNotFound("platforms")
    return web.json_response(request.app[DESK].directory.public())


@routes.post("/api/v1/takedown/items")
@_answers
async def create_item(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    desk = request.app[DESK]
    item_id = await items.create_item(desk, staff, await json_body(request))
    return await _item_response(desk, staff, item_id, status=201)


@routes.get("/api/v1/takedown/items")
@_answers
async def list_items(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    desk = request.app[DESK]
    state = _choice(request, "state", ("open", "all_removed", "monitoring", "closed"))
    platform = _choice(request, "platform", desk.directory.codes)
    async with desk.deps.engine.connect() as conn:
        held = None
        if not policy.acts_on_desk(staff):
            if staff.role is not Role.COUNSELOR:
                raise DeskNotFound("items")
            held = [c.id for c in await convs.held_by(conn, staff.id)]
        found = await queries.list_items(conn, status=state, platform=platform,
                                         conversation_ids=held)
        out = [await views.item_json(desk, conn, staff, i) for i in found]
    return web.json_response({"items": out})


@routes.get("/api/v1/takedown/items/{id}")
@_answers
async def get_item(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    return await _item_response(request.app[DESK], staff, _id(request))


@routes.post("/api/v1/takedown/items/{id}/locations")
@_answers
async def add_location(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    desk = request.app[DESK]
    _loc, new = await items.add_location(desk, staff, _id(request), await json_body(request))
    return await _item_response(desk, staff, _id(request), status=201 if new else 200)


@routes.post("/api/v1/takedown/items/{id}/status")
@_answers
async def item_status(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    desk = request.app[DESK]
    body = await json_body(request)
    await items.apply_item_event(desk, staff, _id(request), body.get("event"))
    return await _item_response(desk, staff, _id(request))


@routes.post("/api/v1/takedown/items/{id}/consents")
@_answers
async def consent(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    desk = request.app[DESK]
    await items.record_consent(desk, staff, _id(request), await json_body(request))
    return await _item_response(desk, staff, _id(request), status=201)


@routes.post("/api/v1/takedown/items/{id}/requests")
@_answers
async def create_request(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    desk = request.app[DESK]
    rid = await req_svc.create_request(desk, staff, _id(request), await json_body(request))
    return await _request_response(desk, staff, rid, status=201)


@routes.post("/api/v1/takedown/items/{id}/export")
@_answers
async def export_item(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    desk = request.app[DESK]
    body = await json_body(request)
    name, data = await export.export_item(desk, staff, _id(request), body)
    return web.Response(body=data, content_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@routes.get("/api/v1/takedown/requests/{id}")
@_answers
async def get_request(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    return await _request_response(request.app[DESK], staff, _id(request))


@routes.post("/api/v1/takedown/requests/{id}/steps")
@_answers
async def step(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    desk = request.app[DESK]
    await req_svc.record_step(desk, staff, _id(request), await json_body(request))
    return await _request_response(desk, staff, _id(request))


@routes.post("/api/v1/takedown/requests/{id}/fields")
@_answers
async def fields(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    desk = request.app[DESK]
    await req_svc.edit_fields(desk, staff, _id(request), await json_body(request))
    return await _request_response(desk, staff, _id(request))


@routes.post("/api/v1/takedown/requests/{id}/send")
@_answers
async def send(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    desk = request.app[DESK]
    await sending.send(desk, staff, _id(request))
    return await _request_response(desk, staff, _id(request))


@routes.post("/api/v1/takedown/requests/{id}/escalate")
@_answers
async def escalate(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    desk = request.app[DESK]
    rid = await req_svc.escalate(desk, staff, _id(request))
    return await _request_response(desk, staff, rid, status=201)


@routes.get("/api/v1/takedown/worklist")
@_answers
async def get_worklist(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    desk = request.app[DESK]
    items.require_desk(staff)
    state = _choice(request, "state", (*REQUEST_STATES, NO_REQUEST))
    platform = _choice(request, "platform", desk.directory.codes)
    overdue = _choice(request, "overdue", ("1", "true")) is not None
    async with desk.deps.engine.connect() as conn:
        rows = await worklist(conn, desk.clock(), state=state, platform=platform,
                              overdue_only=overdue)
    return web.json_response({"worklist": rows})


@routes.get("/api/v1/takedown/alerts")
@_answers
async def list_alerts(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    return web.json_response({"alerts": await deadlines.open_alerts(request.app[DESK],
                                                                     staff)})


@routes.post("/api/v1/takedown/alerts/{id}/ack")
@_answers
async def ack_alert(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    acked = await deadlines.ack(request.app[DESK], staff, _id(request))
    return web.json_response({"acked": acked})


@routes.get("/api/v1/takedown/clusters")
@_answers
async def list_clusters(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    return web.json_response(await clusters.list_clusters(request.app[DESK], staff,
                                                          request.query))


@routes.get("/api/v1/takedown/clusters/items")
@_answers
async def cluster_items(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    return web.json_response(await clusters.cluster(request.app[DESK], staff,
                                                    request.query.get("key")))


async def _desk_ctx(app: web.Application) -> AsyncIterator[None]:
    desk = Desk(app[DEPS], app[PROMPTS])
    app[DESK] = desk
    jobs = JobSet()
    jobs.start("takedown-deadlines", lambda: deadlines.run_deadlines(desk, jobs.stop))
    if desk.config.monitor.enabled:
        jobs.start("takedown-monitor", lambda: monitor.run_monitor(desk, jobs.stop))
    jobs.start("takedown-rematch",
               lambda: rematch.run_rematch(app[HUB], desk.deps, jobs.stop))
    yield
    await jobs.close()


def setup(app: web.Application) -> None:
    """Add the desk's API and its deadline job."""
    app.router.add_routes(routes)
    app.cleanup_ctx.append(_desk_ctx)


__all__ = ["DESK", "setup"]

