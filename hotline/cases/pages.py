"""The console's HTML pages: login, the floor (queue and my cases), one case."""

from __future__ import annotations

import logging
import math
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hotline.cases import caseview, casework, handover, urgency
from hotline.domain import intake, shift_text, shifts
from hotline.domain.bans import REASONS as BAN_REASONS
from hotline.domain.conversation import Urgency
from hotline.domain.staff import Role
from hotline.staff import account, auth
from hotline.staff import login_throttle as throttle
from hotline.staff import pages as staff_pages
from hotline.web import i18n
from hotline.web.appkeys import DEPS
from hotline.web.inputs import form_body

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

def _wait_words(request: web.Request, lang: str, seconds: int) -> str:
    if seconds < 90:
        if seconds == 1:
            return i18n.words_for(request, lang, "login.wait_one_second")
        return i18n.words_for(request, lang, "login.wait_seconds", n=seconds)
    return i18n.words_for(request, lang, "login.wait_minutes", n=math.ceil(seconds / 60))


def _login_page(request: web.Request, error: str | None = None, status: int = 200
                ) -> web.Response:
    token, fresh = auth.login_csrf(request)
    lang = i18n.login_language(request)
    # The language chosen with ?lang= stays through a failed attempt.
    chosen = request.query.get("lang") if request.query.get("lang") == lang else None
    resp = aiohttp_jinja2.render_template(
        "console/login.html", request,
        {"csrf": token, "error": error, "lang": lang, "chosen_lang": chosen}, status=status)
    if fresh:
        auth.set_login_csrf_cookie(request, resp, token)
    return resp


@routes.get("/console/login")
async def login_form(request: web.Request) -> web.Response:
    return _login_page(request)


@routes.post("/console/login")
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await form_body(request)
    name, password, csrf = (str(form.get(k, "")) for k in ("name", "password", "csrf"))
    try:
        staff, attempt = await auth.login(request, name, password, csrf)
    except auth.LoginRefused as e:
        lang = i18n.login_language(request)
        message = i18n.words_for(request, lang, f"login.{e.reason}",
                                 wait=_wait_words(request, lang, e.retry_after_s))
        resp = _login_page(request, message, e.status)
        if e.status == 429:
            resp.headers["Retry-After"] = str(e.retry_after_s)
        return resp
    if account.needs_second_factor(request.app[DEPS], staff.role):
        # The password was right: the throttle hands its attempt back; the code comes next
        # (hotline/staff/pages.py), limited per challenge.
        resp = web.HTTPSeeOther("/console/2fa")
        await staff_pages.start_challenge(request, resp, staff.id)
        await throttle.succeeded(request, resp, attempt)
        raise resp
    resp = web.HTTPSeeOther("/console")
    await staff_pages.begin_console(request, resp, staff)
    await throttle.succeeded(request, resp, attempt)
    raise resp


@routes.post("/console/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    form = await form_body(request)
    staff = await auth.require_staff(request, str(form.get("csrf", "")))
    resp = web.HTTPSeeOther("/console/login")
    await auth.end_session(request, resp, staff)
    raise resp


async def _page_context(request: web.Request) -> dict[str, Any]:
    staff, csrf = await auth.require_session(request)
    return {"staff": staff, "csrf": csrf, "lang": i18n.staff_language(request, staff)}


@routes.get("/console")
async def floor(request: web.Request) -> web.Response:
    ctx = await _page_context(request)
    if ctx["staff"].role == Role.TAKEDOWN:
        # Takedown staff work from their alerts (each linking to a read-only case view),
        # not from the victims' queue.
        return aiohttp_jinja2.render_template("console/floor_takedown.html", request, ctx)
    status = await request.app[DEPS].live.status_of(ctx["staff"].id)
    ctx.update(presence=status.value, may_open_cases=ctx["staff"].sees_all_cases)
    return aiohttp_jinja2.render_template("console/floor.html", request, ctx)


def _is_lead(ctx: dict[str, Any]) -> bool:
    return bool(ctx["staff"].role in (Role.LEAD, Role.ADMIN))


def _forbidden(request: web.Request, ctx: dict[str, Any]) -> web.Response:
    return aiohttp_jinja2.render_template("console/forbidden.html", request, ctx, status=403)


@routes.get("/console/lead")
async def lead_page(request: web.Request) -> web.Response:
    ctx = await _page_context(request)
    if not _is_lead(ctx):
        return _forbidden(request, ctx)
    ctx.update(reasons=handover.REASONS,
               urgencies=[u.value for u in Urgency], ban_reasons=BAN_REASONS,
               urgency_reasons=urgency.LEAD_REASONS)
    return aiohttp_jinja2.render_template("console/lead.html", request, ctx)


@routes.get("/console/roster")
async def roster_page(request: web.Request) -> web.Response:
    ctx = await _page_context(request)
    if not _is_lead(ctx):
        return _forbidden(request, ctx)
    ctx.update(override_reasons=shifts.OVERRIDE_REASONS,
               default_tz=request.app[DEPS].config.roster.timezone, weekdays=shift_text.DAY_NAMES)
    return aiohttp_jinja2.render_template("console/roster.html", request, ctx)


@routes.get("/console/cases/{id}")
async def case_page(request: web.Request) -> web.Response:
    ctx = await _page_context(request)
    deps = request.app[DEPS]
    try:
        async with deps.engine.connect() as conn:
            conv = await casework.load_case(conn, ctx["staff"], request.match_info["id"])
    except casework.CaseNotFound:
        raise web.HTTPNotFound(text=i18n.words_for(request, ctx["lang"], "common.not_found")
                               ) from None
    view = await caseview.view(deps, ctx["staff"], conv, 0)
    ctx.update(case=conv, harm_types=intake.HARM_TYPES, platforms=intake.PLATFORMS,
               age_bands=intake.AGE_BANDS, relations=intake.RELATIONS,
               referrals=intake.REFERRALS,
               outcomes=intake.OUTCOMES, urgencies=[u.value for u in Urgency],
               may_act=view.may_act, suggested_age=view.suggested_age_band)
    return aiohttp_jinja2.render_template("console/case.html", request, ctx)
