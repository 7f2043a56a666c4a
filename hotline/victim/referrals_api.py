"""Referrals on the case page (docs/victim.md): the directory with the entries that fit the
case first, and giving one to the victim (sent as the counselor's reply, counted in the
intake record at close). Access as the case itself: missing and forbidden look the same."""

from __future__ import annotations

from aiohttp import web

from hotline.cases import casework
from hotline.staff.auth import require_staff
from hotline.victim import victimcase
from hotline.web.appkeys import CONFIG, DEPS, PROMPTS
from hotline.web.inputs import json_body
from hotline.web.middleware import json_error

routes = web.RouteTableDef()


@routes.get("/api/v1/cases/{id}/referrals")
async def options(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    try:
        found = await victimcase.referral_options(request.app[DEPS], staff,
                                                  request.match_info["id"])
    except casework.CaseNotFound:
        raise json_error(404, "no such case") from None
    lang = request.app[CONFIG].languages.default
    return web.json_response({"referrals": [
        {"code": o.entry.code, "name": o.entry.text(lang, lang)[0], "phone": o.entry.phone,
         "web": o.entry.web, "situations": list(o.entry.situations), "fits": o.fits,
         "given": o.given} for o in found]})


@routes.post("/api/v1/cases/{id}/referrals")
async def give(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    body = await json_body(request)
    deps = request.app[DEPS]
    code = body.get("code")
    entry = deps.config.referrals.get(code) if isinstance(code, str) else None
    if entry is None:
        raise json_error(400, "code: expected a referral code from the directory")
    prompts, fallback = request.app[PROMPTS], deps.config.languages.default
    try:
        seq = await victimcase.give_referral(
            deps, staff, request.match_info["id"], entry,
            lambda lang: victimcase.referral_line(prompts, lang, entry, fallback))
    except casework.CaseNotFound:
        raise json_error(404, "no such case") from None
    except casework.CaseConflict as e:
        raise json_error(409, e.reason) from None
    return web.json_response({"seq": seq, "code": entry.code}, status=201)
