"""The anonymous web chat for victims at /chat: no account, no phone number.

The browser holds one session cookie, `hl_chat` = "<random>.<mac>": it names the chat, not the
person, and a cookie we did not issue is refused. Messages go in by POST and come back by
server-sent events (ids only) plus a fetch of the access-checked state. Quick exit ends the
chat session on the server (services/quickexit.py): the old cookie is refused everywhere, and
a person who later opens the same browser sees an empty chat. See docs/webchat.md.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hotline.cases import abandon, inbox, waitinfo
from hotline.cases import conversations as convs
from hotline.cases.casework import decrypt_lines
from hotline.channels.twilio.common import TWILIO
from hotline.crypto import tokens_equal
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Inbound, Status
from hotline.domain.event_types import EventType
from hotline.events import Event
from hotline.limits import flood
from hotline.limits.buckets import FLOOD_NOTICE_TTL_S
from hotline.victim import casefile, quickexit, victimcase
from hotline.web.appkeys import CONFIG, DEPS, HUB, PROMPTS, STREAMS
from hotline.web.inputs import form_body, json_body, query_int
from hotline.web.middleware import json_error
from hotline.web.sse import StreamView, stream_events

routes = web.RouteTableDef()

COOKIE = "hl_chat"
# Every text the chat page shows comes from prompts/<lang>/chat_*.txt.
PAGE_PROMPTS = [
    "chat_title", "chat_safety_notice", "chat_quick_exit", "chat_intro", "chat_placeholder",
    "chat_send", "chat_waiting", "chat_connected", "chat_closed", "chat_error_too_long",
    "chat_error_send", "chat_reconnecting", "chat_language", "chat_emergency", "flood_calm",
    # The victim's way back and onward (docs/victim.md); shown without the "victim/".
    "victim/chat_exit_hint", "victim/chat_case_get", "victim/chat_case_link",
    "victim/chat_erase", "victim/chat_erase_confirm", "victim/chat_erase_yes",
    "victim/chat_erase_no", "victim/chat_erased", "victim/chat_referrals_title",
    "victim/chat_evidence_title", "victim/chat_evidence_intro", "victim/chat_evidence_pick",
    "victim/chat_evidence_where", "victim/chat_evidence_send_file",
    "victim/chat_evidence_submit", "victim/chat_evidence_done",
    "victim/chat_evidence_failed", "victim/chat_evidence_first",
]
# The page a client gets instead of a new chat session past its address's flood limit.
BUSY_PROMPTS = ["chat_title", "chat_quick_exit", "flood_calm", "chat_emergency"]
# The call-back form, shown when the phone channel is on.
CALLBACK_PROMPTS = [
    "chat_callback_title", "chat_callback_intro", "chat_callback_number",
    "chat_callback_window", "chat_callback_window_1", "chat_callback_window_2",
    "chat_callback_window_3", "chat_callback_window_4", "chat_callback_message",
    "chat_callback_message_no", "chat_callback_message_yes", "chat_callback_send",
    "chat_callback_error_number",
]


def _issue_token(deps: Deps) -> str:
    raw = secrets.token_urlsafe(24)
    return f"{raw}.{deps.keyring.sign('chat', raw)}"


def _chat_id(request: web.Request) -> str | None:
    """The verified random part of the chat cookie, or None if absent or forged."""
    cookie = request.cookies.get(COOKIE, "")
    raw, _, mac = cookie.partition(".")
    if not raw or len(cookie) > 100 or not cookie.isascii():
        # Cookie bytes that are not UTF-8 arrive surrogate-escaped: never one we issued.
        return None
    if not tokens_equal(mac, request.app[DEPS].keyring.sign("chat", raw)):
        return None
    return raw


def _csrf(deps: Deps, chat_id: str) -> str:
    return deps.keyring.sign("chat-csrf", chat_id)


def _require_chat(request: web.Request, unsafe: bool = False) -> str:
    """The cookie's chat id (and, for unsafe methods, a good CSRF token). Whether Quick exit
    ended the session is checked where the route reads the database anyway."""
    chat_id = _chat_id(request)
    if chat_id is None:
        raise no_session()
    if unsafe and not tokens_equal(request.headers.get("X-CSRF-Token", ""),
                                   _csrf(request.app[DEPS], chat_id)):
        raise json_error(403, "missing or wrong CSRF token")
    return chat_id


def no_session() -> web.HTTPException:
    return json_error(401, "no chat session; reload the page")


async def has_ended(deps: Deps, chat_id: str) -> bool:
    async with deps.engine.connect() as conn:
        return await quickexit.has_ended(conn, deps, chat_id)


def _language(request: web.Request, wanted: str | None) -> str:
    langs = request.app[CONFIG].languages
    if wanted in langs.supported:
        return str(wanted)
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in langs.supported:
            return code
    return langs.default


def _cookie(request: web.Request, resp: web.StreamResponse, token: str) -> None:
    # A browser-session cookie: it survives a reload and ends when the browser closes.
    resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/chat",
                    secure=request.app[CONFIG].secure_cookies)


def _busy_page(request: web.Request, lang: str, retry_after_s: int) -> web.Response:
    """The calm answer instead of a chat page: 429, with the emergency numbers."""
    deps = request.app[DEPS]
    resp = aiohttp_jinja2.render_template("chat_busy.html", request, {
        "lang": lang, "t": request.app[PROMPTS].bundle(lang, BUSY_PROMPTS),
        "quick_exit_url": deps.config.privacy.quick_exit_url}, status=429)
    resp.headers["Retry-After"] = str(retry_after_s)
    return resp


def busy(request: web.Request, lang: str, retry_after_s: int) -> web.HTTPException:
    """The calm answer to a chat message or request refused by a flood limit or a ban: 429,
    the same words either way, nothing stored."""
    exc = json_error(429, "busy", text=request.app[PROMPTS].render(lang, "flood_calm"),
                     retry_after=retry_after_s)
    exc.headers["Retry-After"] = str(retry_after_s)
    return exc


def admit(request: web.Request, chat_id: str, lang: str) -> tuple[str, str | None]:
    """The chat's sender pseudonym and client address tag, unless the chat or the address is
    banned (then the calm 429)."""
    deps = request.app[DEPS]
    pseudonym = deps.keyring.pseudonymize(Channel.WEBCHAT.value, chat_id)
    address = flood.address_tag(deps, request.remote)
    if flood.banned(deps, sender=pseudonym, address=address):
        raise busy(request, lang, FLOOD_NOTICE_TTL_S)
    return pseudonym, address


async def new_case(request: web.Request, lang: str, address: str | None) -> None:
    """A new case from this client address, within its flood limit; else the calm 429."""
    verdict = await flood.new_case_from(request.app[DEPS], address)
    if not verdict.allowed:
        raise busy(request, lang, verdict.retry_after_s)


@routes.get("/chat")
async def page(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    lang = _language(request, request.query.get("lang"))
    chat_id = _chat_id(request)
    if chat_id is not None and await has_ended(deps, chat_id):
        chat_id = None  # ended by Quick exit: a new, empty chat
    token = None
    if chat_id is None:
        # A new chat session: counted per client address (docs/limits.md).
        address = flood.address_tag(deps, request.remote)
        if flood.banned(deps, address=address):
            return _busy_page(request, lang, FLOOD_NOTICE_TTL_S)
        verdict = await flood.new_session(deps, address)
        if not verdict.allowed:
            return _busy_page(request, lang, verdict.retry_after_s)
        token = _issue_token(deps)
        chat_id = token.partition(".")[0]
    prompts = request.app[PROMPTS]
    callback_on = callbacks_on(request)
    names = PAGE_PROMPTS + (CALLBACK_PROMPTS if callback_on else [])
    texts = {k.rpartition("/")[2]: v for k, v in prompts.bundle(
        lang, names, position="{position}", short="{short}",
        days=deps.config.telegram.evidence_days).items()}
    resp = aiohttp_jinja2.render_template("chat.html", request, {
        "lang": lang, "t": texts, "callback_on": callback_on,
        "csrf": _csrf(deps, chat_id), "languages": deps.config.languages.supported,
        "quick_exit_url": deps.config.privacy.quick_exit_url,
        "max_chars": deps.config.privacy.max_message_chars})
    if token:
        _cookie(request, resp, token)
    return resp


async def _current(deps: Deps, chat_id: str) -> convs.ConversationRow | None:
    """The chat's latest conversation; 401 if Quick exit ended the session (one connection
    for both)."""
    pseudonym = deps.keyring.pseudonymize(Channel.WEBCHAT.value, chat_id)
    async with deps.engine.connect() as conn:
        if await quickexit.has_ended(conn, deps, chat_id):
            raise no_session()
        return await convs.latest_for(conn, Channel.WEBCHAT, pseudonym)


@routes.post("/chat/api/messages")
async def send(request: web.Request) -> web.Response:
    chat_id = _require_chat(request, unsafe=True)
    deps = request.app[DEPS]
    body = await json_body(request)
    text, client_id = body.get("text"), body.get("client_id")
    if not isinstance(text, str) or not text.strip():
        raise json_error(400, "text: expected a non-empty string")
    if len(text) > deps.config.privacy.max_message_chars:
        raise json_error(413, "text: too long", max_chars=deps.config.privacy.max_message_chars)
    if not isinstance(client_id, str) or not 8 <= len(client_id) <= 64:
        raise json_error(400, "client_id: expected a string of 8 to 64 characters")
    lang = body.get("language")
    lang = lang if lang in deps.config.languages.supported else deps.config.languages.default
    pseudonym, address = admit(request, chat_id, lang)
    msg = Inbound(channel=Channel.WEBCHAT, address=chat_id, text=text,
                  provider_id=f"{chat_id}:{client_id}", language=lang,
                  received_at=datetime.now(UTC), origin=address)
    try:
        stored = await inbox.receive(deps, msg, pseudonym=pseudonym,
                                     in_tx=quickexit.refuse_if_ended(deps, chat_id),
                                     admit=lambda: new_case(request, lang, address))
    except quickexit.ChatEnded:
        raise no_session() from None
    out: dict[str, Any] = {"seq": stored.seq, "duplicate": stored.duplicate}
    if stored.held:
        # Kept, but held back by this chat's own flood limit: the page shows the calm words.
        out.update(held=True, text=request.app[PROMPTS].render(lang, "flood_calm"))
    return web.json_response(out, status=200 if stored.duplicate else 201)


def callbacks_on(request: web.Request) -> bool:
    rt = request.app.get(TWILIO)
    return rt is not None and rt.voice_on


@routes.get("/chat/api/state")
async def state(request: web.Request) -> web.Response:
    """The victim's current conversation: its state, queue position and messages after N."""
    chat_id = _require_chat(request)
    deps = request.app[DEPS]
    after = query_int(request, "after")
    conv = await _current(deps, chat_id)
    if conv is None:
        return web.json_response({"state": "none", "messages": []})
    async with deps.engine.connect() as conn:
        rows = await convs.list_messages(conn, conv.id, after)
        given = await casefile.referrals_of(conn, conv.id) if conv.status == Status.CLOSED \
            else []
    out: dict[str, Any] = {"state": conv.status.value, "messages": [
        {"seq": ln.seq, "direction": ln.direction.value, "text": ln.text,
         "at": ln.at.isoformat()} for ln in decrypt_lines(deps, conv.id, rows)],
        "referrals": _referral_lines(request, conv.language, given)}
    if conv.status == Status.WAITING:
        info = await waitinfo.wait_info(deps, conv.id)
        if info is not None:
            out["position"] = info.position
            out["wait"] = info.prompt_values()
            out["status_text"] = request.app[PROMPTS].render(conv.language, "wait_status",
                                                             **info.prompt_values())
    return web.json_response(out)


def _referral_lines(request: web.Request, lang: str, codes: list[str]) -> list[str]:
    """The referrals given at close, as the page lists them (in the case's language)."""
    deps = request.app[DEPS]
    # Lines for minors first (a minor was given them), then in the directory's order.
    entries = sorted((e for e in deps.config.referrals.entries if e.code in codes),
                     key=lambda e: "minor" not in e.situations)
    return [victimcase.referral_line(request.app[PROMPTS], lang, e,
                                     deps.config.languages.default) for e in entries]


# The queue-wide events a victim's page hears of (each only as {"type": EventType.QUEUE}), and
# "reset" (reload the state). Everything else is about staff or other people: never sent.
_QUEUE_MOVES = frozenset({EventType.QUEUED, EventType.ASSIGNED, EventType.CLOSED, EventType.RESET})


class ChatStream(StreamView):
    """A victim's page: its own conversation's events, and that the queue moved. While it is
    open it keeps telling the rule on abandoned contacts that the victim is still there
    (`renew`, at most every `renew_every_s`)."""

    def __init__(self, conversation: str | None, ref: str,
                 renew: Callable[[], Awaitable[None]] | None = None,
                 renew_every_s: float = 60.0) -> None:
        self.conversation = conversation
        self.ref = ref
        self._renew = renew
        self._renew_every_s = renew_every_s
        self._renewed = -renew_every_s

    async def refresh(self) -> bool:
        now = time.monotonic()
        if self._renew is not None and now - self._renewed >= self._renew_every_s:
            self._renewed = now
            await self._renew()
        return True

    def _own(self, ev: Event) -> bool:
        # Only with a conversation: a visitor without one must not match every event that
        # has no conversation key (presence, roster, coverage, lead.attention, ...).
        return self.conversation is not None and ev.get("conversation") == self.conversation

    def wants(self, ev: Event) -> bool:
        return self._own(ev) or ev.get("type") in _QUEUE_MOVES

    def ends(self, ev: Event) -> bool:
        # Quick exit, on whichever instance it was pressed.
        return ev.get("type") == quickexit.ENDED and ev.get("chat") == self.ref

    def show(self, ev: Event) -> Event | None:
        if self._own(ev) or ev.get("type") == EventType.RESET:
            return ev
        if ev.get("type") in _QUEUE_MOVES:
            # Another conversation's event says only "the queue moved": no ids, no counselor,
            # no language. The id stays so a reconnect replays from the right place.
            return {"type": EventType.QUEUE, "id": ev.get("id", "")}
        return None


@routes.get("/chat/api/events")
async def events(request: web.Request) -> web.StreamResponse:
    chat_id = _require_chat(request)
    deps = request.app[DEPS]
    ref = quickexit.chat_ref(deps, chat_id)
    # Counted before any database work: a client over its caps costs nothing more.
    admission = request.app[STREAMS].admit_chat(ref, request.remote or "?")
    try:
        conv = await _current(deps, chat_id)
    except BaseException:
        admission.release()
        raise
    pseudonym = deps.keyring.pseudonymize(Channel.WEBCHAT.value, chat_id)
    # Renewed well inside the deadline: a page gone counts from its last renewal.
    every = min(60.0, deps.config.abandoned.webchat_gone_minutes * 15.0)
    view = ChatStream(conv.id if conv is not None else None, ref,
                      renew=lambda: abandon.renew_page(deps, pseudonym, datetime.now(UTC)),
                      renew_every_s=every)
    return await stream_events(request, request.app[HUB], view, admission,
                               deps.config.streams)


@routes.post("/chat/api/exit")
async def quick_exit(request: web.Request) -> web.Response:
    """Quick exit (sent by sendBeacon as the page leaves): the chat session ends on the
    server and the open case is marked as left by the victim. A repeat (the beacon sent
    again) answers the same and changes nothing."""
    chat_id = _chat_id(request)
    if chat_id is None:
        raise json_error(401, "no chat session")
    form = await form_body(request)
    deps = request.app[DEPS]
    if not tokens_equal(str(form.get("csrf", "")), _csrf(deps, chat_id)):
        raise json_error(403, "missing or wrong CSRF token")
    prompts = request.app[PROMPTS]
    cid = await quickexit.leave(deps, chat_id,
                                marker=lambda lang: prompts.render(lang, "marker_quick_exit"))
    if cid is not None:
        # A waiting case leaves the queue now, not at the job's next pass.
        await abandon.settle(deps, prompts, cid)
    resp = web.json_response({"ok": True})
    resp.del_cookie(COOKIE, path="/chat")
    return resp


# Shared with the case page (webcase.py), which opens web chat conversations too.
language = _language
chat_of = _chat_id
has_ended = has_ended
issue_token = _issue_token
admit = admit
new_case = new_case
set_cookie = _cookie
require_chat = _require_chat
