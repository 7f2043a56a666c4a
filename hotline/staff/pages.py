"""The staff pages: the second factor at login (/console/2fa), a password set from a reset
link (/console/reset/{token}), one's own account (/console/account), and the admin's pages
(/console/staff, /console/audit). Words come from prompts/<lang>/console/staff.toml."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from redis.exceptions import RedisError

from hotline.audit import search as audit_log
from hotline.cases import casefind, presence
from hotline.crypto import tokens_equal
from hotline.domain.accounts import CHANNELS, SPECIALISMS, FieldError
from hotline.domain.audit_search import PARAMS, AuditInputError
from hotline.domain.staff import Role, Staff
from hotline.staff import account, admin, auth
from hotline.web import i18n
from hotline.web.appkeys import CONFIG, DEPS
from hotline.web.inputs import form_body

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

CHALLENGE_COOKIE = "hl_2fa"


def _lang(request: web.Request, staff: Staff | None = None) -> str:
    """The page language: the person's choice once logged in, else the login page's."""
    if staff is not None:
        return i18n.staff_language(request, staff)
    return i18n.login_language(request)


def _render(request: web.Request, template: str, ctx: dict[str, Any],
            status: int = 200) -> web.Response:
    ctx.setdefault("lang", _lang(request, ctx.get("staff")))
    return aiohttp_jinja2.render_template(f"console/{template}", request, ctx, status=status)


def _word(request: web.Request, key: str, staff: Staff | None = None, **values: Any) -> str:
    return i18n.words_for(request, _lang(request, staff), key, **values)


def _cookie_args(request: web.Request) -> dict[str, Any]:
    return {"httponly": True, "samesite": "Strict",
            "secure": request.app[CONFIG].secure_cookies}


async def begin_console(request: web.Request, resp: web.StreamResponse, staff: Staff) -> None:
    """A login is complete: the session starts and the person comes on the floor."""
    await auth.start_session(request, resp, staff)
    try:
        await presence.sign_in(request.app[DEPS], staff)
    except (RedisError, OSError) as exc:
        # The session is in SQL and the login stands; the console's heartbeat and status
        # buttons set presence once Redis answers again.
        log.warning("presence not set at login: Redis does not answer",
                    extra={"staff_id": staff.id, "error": type(exc).__name__})


async def start_challenge(request: web.Request, resp: web.StreamResponse,
                          counselor_id: int) -> None:
    token = await account.start_challenge(request.app[DEPS], counselor_id)
    resp.set_cookie(CHALLENGE_COOKIE, token, path="/console/2fa",
                    max_age=int(account.CHALLENGE_TTL.total_seconds()), **_cookie_args(request))


def _challenge_token(request: web.Request) -> str:
    token = request.cookies.get(CHALLENGE_COOKIE, "")
    return token if 0 < len(token) <= 128 and token.isascii() else ""


async def _code_page(request: web.Request, owner: int, error: str | None = None,
                     status: int = 200) -> web.Response:
    deps = request.app[DEPS]
    csrf, fresh = auth.login_csrf(request)
    ctx: dict[str, Any] = {"csrf": csrf, "error": error, "enrol": None}
    if not await account.is_enrolled(deps, owner):
        member = await admin.member(deps, owner)
        ctx["enrol"] = await account.enrolment(deps, owner, member.name if member else "")
    resp = _render(request, "twofactor.html", ctx, status)
    if fresh:
        auth.set_login_csrf_cookie(request, resp, csrf)
    return resp


@routes.get("/console/2fa")
async def second_factor_form(request: web.Request) -> web.StreamResponse:
    """The code form, or (not enrolled yet) the QR code to enrol with and the form for the
    first code."""
    owner = await account.challenge_owner(request.app[DEPS], _challenge_token(request))
    if owner is None:
        raise web.HTTPSeeOther("/console/login")
    return await _code_page(request, owner)


@routes.post("/console/2fa")
async def second_factor_submit(request: web.Request) -> web.StreamResponse:
    deps = request.app[DEPS]
    form = await form_body(request)
    code, csrf = str(form.get("code", ""))[:64], str(form.get("csrf", ""))
    cookie = request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
    if not cookie or not tokens_equal(csrf, cookie) or not auth.origin_ok(request):
        raise web.HTTPForbidden(text="This form expired. Please log in again.")
    token = _challenge_token(request)
    passed = await account.answer(deps, token, code)
    if passed is None:
        owner = await account.challenge_owner(deps, token)
        if owner is None:
            raise web.HTTPSeeOther("/console/login")
        return await _code_page(request, owner, _word(request, "staff.code_wrong"), 401)
    staff = await admin.logged_in_as(deps, passed.counselor_id)
    if staff is None:
        raise web.HTTPSeeOther("/console/login")
    if passed.recovery_codes:
        resp: web.StreamResponse = _render(request, "recovery.html",
                                           {"codes": passed.recovery_codes})
        resp.headers["Cache-Control"] = "no-store"
    else:
        resp = web.HTTPSeeOther("/console")
    resp.del_cookie(CHALLENGE_COOKIE, path="/console/2fa")
    await begin_console(request, resp, staff)
    if isinstance(resp, web.HTTPException):
        raise resp
    return resp


@routes.get("/console/reset/{token}")
async def reset_form(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    token = request.match_info["token"]
    if len(token) > 128 or not await account.reset_valid(deps, token):
        return _render(request, "reset.html", {"valid": False, "error": None}, 404)
    csrf, fresh = auth.login_csrf(request)
    resp = _render(request, "reset.html", {"valid": True, "csrf": csrf, "error": None})
    resp.headers["Cache-Control"] = "no-store"
    if fresh:
        auth.set_login_csrf_cookie(request, resp, csrf)
    return resp


@routes.post("/console/reset/{token}")
async def reset_submit(request: web.Request) -> web.StreamResponse:
    deps = request.app[DEPS]
    form = await form_body(request)
    cookie = request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
    if not cookie or not tokens_equal(str(form.get("csrf", "")), cookie) \
            or not auth.origin_ok(request):
        raise web.HTTPForbidden(text="This form expired. Please open the link again.")
    new, again = str(form.get("password", "")), str(form.get("repeat", ""))
    error = None
    if new != again:
        error = _word(request, "staff.passwords_differ")
    else:
        try:
            if await account.use_reset(deps, request.match_info["token"][:128], new) is None:
                return _render(request, "reset.html", {"valid": False, "error": None}, 404)
        except FieldError:
            error = _word(request, "staff.password_rule",
                          min=deps.config.console.min_password_chars)
    if error is not None:
        return _render(request, "reset.html", {"valid": True, "csrf": cookie, "error": error},
                       400)
    raise web.HTTPSeeOther("/console/login")


async def _session_ctx(request: web.Request) -> dict[str, Any]:
    staff, csrf = await auth.require_session(request)
    return {"staff": staff, "csrf": csrf, "lang": _lang(request, staff)}


@routes.get("/console/account")
async def account_page(request: web.Request) -> web.Response:
    ctx = await _session_ctx(request)
    ctx.update(await account.summary(request.app[DEPS], ctx["staff"].id),
               error=None, changed=request.query.get("changed"))
    return _render(request, "account.html", ctx)


@routes.post("/console/account/password")
async def change_password(request: web.Request) -> web.StreamResponse:
    form = await form_body(request)
    staff, csrf = await auth.require_session(request, str(form.get("csrf", "")))
    deps = request.app[DEPS]
    current, new = str(form.get("current", "")), str(form.get("password", ""))
    digest = auth.session_digest(request)
    assert digest is not None  # require_session found the session
    error = None
    if new != str(form.get("repeat", "")):
        error = _word(request, "staff.passwords_differ", staff)
    else:
        try:
            ended = await account.change_password(deps, staff.id, digest, current[:1024], new)
        except FieldError as e:
            error = _word(request, "staff.current_wrong", staff) if e.field == "current" \
                else _word(request, "staff.password_rule", staff,
                           min=deps.config.console.min_password_chars)
    if error is not None:
        ctx = {"staff": staff, "csrf": csrf, "error": error, "changed": None}
        ctx.update(await account.summary(deps, staff.id))
        return _render(request, "account.html", ctx, 400)
    raise web.HTTPSeeOther(f"/console/account?changed={ended}")


@routes.get("/console/staff")
async def staff_page(request: web.Request) -> web.Response:
    """The admin's list of staff (the page's script calls /api/v1/staff)."""
    ctx = await _session_ctx(request)
    deps = request.app[DEPS]
    ctx.update(members=await admin.listing(deps), roles=[r.value for r in Role],
               centre_languages=deps.config.languages.supported, channels=CHANNELS,
               specialisms=SPECIALISMS)
    return _render(request, "staff.html", ctx)


@routes.get("/console/audit")
async def audit_page(request: web.Request) -> web.Response:
    """The audit search (admins all of it, leads the floor's) and the case finder."""
    ctx = await _session_ctx(request)
    deps, q = request.app[DEPS], request.query
    finder = {k: q[k] for k in ("number", "date") if q.get(k)}
    search = {k: v for k, v in q.items() if k in PARAMS}
    ctx.update(q=search, finder=finder, cases=None, error=None, events=[], next=None,
               next_query=None,
               csv_query=urlencode({k: v for k, v in search.items() if k not in
                                    ("before", "limit")}))
    try:
        if finder:
            ctx["cases"] = (await casefind.find(deps, ctx["staff"], finder))["cases"]
        ctx.update(await audit_log.search(deps, ctx["staff"], search,
                                            await admin.names(deps)))
    except AuditInputError as e:
        ctx["error"] = _word(request, "staff.audit_bad_field", ctx["staff"], field=e.field)
        return _render(request, "audit.html", ctx, 400)
    if ctx["next"] is not None:
        ctx["next_query"] = urlencode({**search, "before": ctx["next"]})
    return _render(request, "audit.html", ctx)
