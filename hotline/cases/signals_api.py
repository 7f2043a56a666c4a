"""A case's triage signals for staff: what raised each (catalogue terms, never message text)
and withdrawing a wrong one with a reason code. Read: whoever may read the case (404
otherwise); withdraw: its holder, a lead or an admin (409 "not_holder" for other readers).
See docs/floor.md.
"""

from __future__ import annotations

from aiohttp import web

from hotline.cases import casework, signals, withdraw
from hotline.domain.signals import Signal
from hotline.staff.auth import require_staff
from hotline.web.appkeys import DEPS
from hotline.web.inputs import field_str, json_body
from hotline.web.middleware import json_error

routes = web.RouteTableDef()

_SIGNALS = tuple(s.value for s in Signal)


@routes.get("/api/v1/cases/{id}/signals")
async def case_signals(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    deps = request.app[DEPS]
    try:
        async with deps.engine.connect() as conn:
            conv = await casework.load_case(conn, staff, request.match_info["id"])
    except casework.CaseNotFound:
        raise json_error(404, "no such case") from None
    return web.json_response({"signals": await signals.view(deps, conv),
                              "withdraw_reasons": list(withdraw.REASONS),
                              "urgency": conv.urgency.value, "reasons": list(conv.reasons)})


@routes.post("/api/v1/cases/{id}/signals/{signal}/withdraw")
async def withdraw_signal(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    name = request.match_info["signal"]
    if name not in _SIGNALS:
        raise json_error(404, "no such signal")
    body = await json_body(request)
    reason = field_str(body, "reason", 24, choices=withdraw.REASONS)
    try:
        done = await withdraw.withdraw(request.app[DEPS], staff, request.match_info["id"],
                                       Signal(name), reason)
    except casework.CaseNotFound:
        raise json_error(404, "no such case") from None
    except casework.CaseConflict as e:
        raise json_error(409, e.reason) from None
    return web.json_response({"urgency": done.change.urgency.value,
                              "reasons": list(done.change.reasons),
                              "alerts_withdrawn": done.alerts_withdrawn,
                              "alerts_already_acknowledged": done.alerts_already_acked})
