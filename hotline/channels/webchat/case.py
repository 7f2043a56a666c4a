"""The victim's case page at /chat/case: a case number and PIN, then the case in plain words
and what the victim can do with it (docs/victim.md). Plain HTML forms, no script needed.

After a right number and PIN the browser holds `hl_case` = "<number>.<expiry>.<mac>" (path
/chat, HttpOnly, SameSite=Strict, a browser-session cookie): the page works for CASE_PAGE_S,
and a browser holding one, even expired, has shown the case's PIN before, so the case's lock
does not hold it (services/casecode.py). Wrong tries are counted per client address as well.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hotline.cases import inbox
from hotline.channels.webchat import chat as webchat
from hotline.crypto import tokens_equal
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Inbound
from hotline.limits import flood
from hotline.victim import casecode, quickexit, victimcase
from hotline.web.appkeys import CONFIG, DEPS, PROMPTS
from hotline.web.inputs import form_body

routes = web.RouteTableDef()

COOKIE = "hl_case"
CASE_PAGE_S = 30 * 60
# Notices a finished action shows on the page (?done=...), each a prompt.
_DONE = {"link_location": "victim/case_link_done_location",
         "link_note": "victim/case_link_done_note",
         "consent": "victim/case_consent_done"}


def _sign(deps: Deps, number: str, expiry: int) -> str:
    return deps.keyring.sign("case-page", f"{number}.{expiry}")


def _read_cookie(request: web.Request) -> tuple[str, bool] | None:
    """(case number, still valid) from a cookie we issued; None if absent or forged."""
    number, _, rest = request.cookies.get(COOKIE, "").partition(".")
    expiry, _, mac = rest.partition(".")
    if not (number.isascii() and number.isalnum() and expiry.isascii() and expiry.isdigit()
            and len(number) <= 16 and len(expiry) <= 12):
        return None
    if not tokens_equal(mac, _sign(request.app[DEPS], number, int(expiry))):
        return None
    return number, int(expiry) > time.time()


def _csrf(deps: Deps, request: web.Request) -> str:
    return deps.keyring.sign("case-csrf", request.cookies.get(COOKIE, ""))


def _lang(request: web.Request, form: Any = None) -> str:
    wanted = form.get("lang") if form is not None else None
    return webchat.language(request, wanted if isinstance(wanted, str)
                            else request.query.get("lang"))


def _render(request: web.Request, lang: str, status: int = 200, **ctx: Any) -> web.Response:
    deps = request.app[DEPS]
    prompts = request.app[PROMPTS]
    t = {n.rpartition("/")[2]: prompts.render(lang, n) for n in PAGE_PROMPTS}
    page = {"case": None, "error": None, "done": None, "field": None, "lines": [],
            "referrals": [], "csrf": "", **ctx}
    resp = aiohttp_jinja2.render_template("chat_case.html", request, {
        "lang": lang, "t": t, "languages": deps.config.languages.supported,
        "quick_exit_url": deps.config.privacy.quick_exit_url, **page}, status=status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


PAGE_PROMPTS = [
    "chat_quick_exit", "chat_emergency", "chat_language", "victim/case_page_title",
    "victim/case_lookup_intro", "victim/case_number_label", "victim/case_pin_label",
    "victim/case_lookup_submit", "victim/case_link_label", "victim/case_link_submit",
    "victim/case_return_label", "victim/case_return_submit", "victim/case_return_open",
    "victim/case_return_go", "victim/case_consent_label", "victim/case_consent_explain",
    "victim/case_consent_submit", "victim/case_hide_platforms", "victim/case_show_platforms",
    "victim/case_leave", "victim/chat_exit_hint", "victim/chat_referrals_title",
    "chat_placeholder",
]


def _refuse(request: web.Request) -> None:
    """Form posts from another site are refused (the browser says where a request is from)."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise web.HTTPForbidden(text="cross-site form post refused")


@routes.get("/chat/case")
async def page(request: web.Request) -> web.Response:
    lang = _lang(request)
    found = _read_cookie(request)
    if found is None or not found[1]:
        return _render(request, lang)
    return await _case_page(request, lang, found[0])


async def _view(deps: Deps, number: str) -> casecode.CaseView | None:
    return await casecode.view_by_number(deps, number)


async def _case_page(request: web.Request, lang: str, number: str, status: int = 200,
                     **ctx: Any) -> web.Response:
    deps = request.app[DEPS]
    prompts = request.app[PROMPTS]
    view = await _view(deps, number)
    if view is None:  # erased meanwhile
        resp = _render(request, lang)
        resp.del_cookie(COOKIE, path="/chat")
        return resp
    summary = await victimcase.summary(deps, view)
    fallback = deps.config.languages.default
    done = _DONE.get(request.query.get("done", ""))
    return _render(request, lang, status, case=summary,
                   lines=victimcase.describe(prompts, lang, summary),
                   referrals=[victimcase.referral_line(prompts, lang, e, fallback)
                              for e in summary.referrals],
                   done=prompts.render(lang, done) if done else None,
                   csrf=_csrf(deps, request), **ctx)


@routes.post("/chat/case")
async def lookup(request: web.Request) -> web.Response:
    _refuse(request)
    deps = request.app[DEPS]
    prompts = request.app[PROMPTS]
    form = await form_body(request)
    lang = _lang(request, form)
    number, pin = form.get("number"), form.get("pin")
    for name, value, limit in (("number", number, 32), ("pin", pin, 12)):
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            return _render(request, lang, 400, error=prompts.render(
                lang, "victim/case_field_error"), field=name)
    assert isinstance(number, str) and isinstance(pin, str)
    old = _read_cookie(request)
    typed = casecode.normalise(number)
    device = (casecode.device_proof(deps, old[0])
              if old is not None and typed == old[0] else None)
    try:
        view = await casecode.lookup(deps, number, pin.strip(), device=device,
                                     client=flood.address_tag(deps, request.remote))
    except casecode.ClientLimited as e:
        resp = _render(request, lang, 429, error=prompts.render(
            lang, "victim/case_lookup_limited"))
        resp.headers["Retry-After"] = str(e.retry_after_s)
        return resp
    except casecode.Locked:
        return _render(request, lang, 423, error=prompts.render(
            lang, "victim/case_lookup_locked"))
    if view is None:
        return _render(request, lang, 403, error=prompts.render(
            lang, "victim/case_lookup_wrong"), field="pin")
    stored = casecode.normalise(view.case_number) or ""
    expiry = int(time.time()) + CASE_PAGE_S
    resp = web.HTTPSeeOther(f"/chat/case?lang={lang}")
    resp.set_cookie(COOKIE, f"{stored}.{expiry}.{_sign(deps, stored, expiry)}",
                    httponly=True, samesite="Strict", path="/chat",
                    secure=request.app[CONFIG].secure_cookies)
    raise resp


async def _acting(request: web.Request) -> tuple[Deps, Any, str, casecode.CaseView]:
    """A case-page action: same site, a valid case cookie and its CSRF token."""
    _refuse(request)
    deps = request.app[DEPS]
    form = await form_body(request)
    found = _read_cookie(request)
    lang = _lang(request, form)
    if found is None or not found[1]:
        raise web.HTTPSeeOther(f"/chat/case?lang={lang}")
    if not tokens_equal(str(form.get("csrf", "")), _csrf(deps, request)):
        raise web.HTTPForbidden(text="csrf: missing or wrong token; reload the page")
    view = await _view(deps, found[0])
    if view is None:
        raise web.HTTPSeeOther(f"/chat/case?lang={lang}")
    return deps, form, lang, view


@routes.post("/chat/case/link")
async def add_link(request: web.Request) -> web.Response:
    deps, form, lang, view = await _acting(request)
    text = form.get("link")
    try:
        if not isinstance(text, str) or len(text) > 2048:
            raise victimcase.BadLink("link")
        how = await victimcase.add_link(deps, view.conversation_id, text)
    except victimcase.BadLink:
        return await _case_page(request, lang, casecode.normalise(view.case_number) or "",
                                400, error=request.app[PROMPTS].render(
                                    lang, "victim/case_link_bad"), field="link")
    raise web.HTTPSeeOther(f"/chat/case?lang={lang}&done=link_{how}")


@routes.post("/chat/case/consent")
async def withdraw(request: web.Request) -> web.Response:
    deps, _form, lang, view = await _acting(request)
    await victimcase.withdraw_consent(deps, view.conversation_id)
    raise web.HTTPSeeOther(f"/chat/case?lang={lang}&done=consent")


@routes.post("/chat/case/platforms")
async def platforms(request: web.Request) -> web.Response:
    deps, form, lang, view = await _acting(request)
    await victimcase.set_hide_platforms(deps, view.conversation_id, form.get("hide") == "1")
    raise web.HTTPSeeOther(f"/chat/case?lang={lang}")


@routes.post("/chat/case/leave")
async def leave(request: web.Request) -> web.Response:
    _refuse(request)
    resp = web.HTTPSeeOther("/chat/case")
    resp.del_cookie(COOKIE, path="/chat")
    raise resp


@routes.post("/chat/case/return")
async def open_return(request: web.Request) -> web.Response:
    """A new web chat conversation about the case: the victim's first words are stored, the
    conversation is a return of the case, and the browser goes to the chat."""
    deps, form, lang, view = await _acting(request)
    text = form.get("text")
    limit = deps.config.privacy.max_message_chars
    if not isinstance(text, str) or not text.strip() or len(text) > limit:
        return await _case_page(request, lang, casecode.normalise(view.case_number) or "",
                                400, error=request.app[PROMPTS].render(
                                    lang, "victim/case_field_error"), field="text")
    chat_id = webchat.chat_of(request)
    token = None
    if chat_id is None or await webchat.has_ended(deps, chat_id):
        token = webchat.issue_token(deps)
        chat_id = token.partition(".")[0]
    pseudonym, address = webchat.admit(request, chat_id, lang)
    msg = Inbound(channel=Channel.WEBCHAT, address=chat_id, text=text,
                  provider_id=f"{chat_id}:return:{secrets.token_hex(8)}", language=lang,
                  received_at=datetime.now(UTC), origin=address)
    try:
        stored = await inbox.receive(deps, msg, pseudonym=pseudonym,
                                     in_tx=quickexit.refuse_if_ended(deps, chat_id),
                                     admit=lambda: webchat.new_case(request, lang, address))
    except quickexit.ChatEnded:
        raise web.HTTPSeeOther("/chat") from None
    if stored.new_conversation and await victimcase.mark_return(
            deps, stored.conversation_id, view.conversation_id):
        await victimcase.add_marker(deps, msg, request.app[PROMPTS].render(
            lang, "victim/marker_return", number=view.case_number))
    resp = web.HTTPSeeOther(f"/chat?lang={lang}")
    if token:
        webchat.set_cookie(request, resp, token)
    raise resp
