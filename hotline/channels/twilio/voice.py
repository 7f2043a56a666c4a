"""Phone calls through Twilio: the IVR, the hold queue, and the call's end.

    /webhooks/twilio/voice                 greeting and language choice (Gather, 1 digit)
    /webhooks/twilio/voice/language        the menu: 1 images shared now, 2 call-back, else wait
    /webhooks/twilio/voice/menu            opens the case and <Enqueue>s the caller
    /webhooks/twilio/voice/hold            waitUrl: place in line and estimated wait, spoken
    /webhooks/twilio/voice/hold/key        2 on hold: leave the queue for a call-back
    /webhooks/twilio/voice/dequeued        Enqueue action: hung up (abandoned), left, queue full
    /webhooks/twilio/voice/callback/window and /callback/message   the call-back questions
    /webhooks/twilio/voice/status          call status callback (configure it on the number)

A call becomes a conversation with channel "voice" in our own queue when the caller has chosen
from the menu; its transcript starts with a system note (`marker_call`), never text the caller
did not type. The Twilio queue only holds the line: our queue decides who is answered next, and
the hold message speaks our position (waitinfo, the same words as every channel). When a
counselor accepts the case, hotline.channels.twilio.voice_bridge redirects the live call to the
counselor's phone. A caller who hangs up while waiting is recorded as abandoned with the wait.
Every step is idempotent per CallSid and step. Voicemail is never offered. See docs/twilio.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from twilio.twiml.voice_response import Gather, VoiceResponse

from hotline.callbacks import service as callback
from hotline.cases import inbox, waitinfo
from hotline.channels.twilio import store, voice_bridge, voice_callback
from hotline.channels.twilio.common import (
    CALL_SID,
    TWILIO,
    Runtime,
    add_runtime_ctx,
    field_str,
    runtime,
    verified_form,
    xml,
)
from hotline.channels.twilio.voice_bridge import DEQUEUED_PATH, HOLD_PATH, say
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Inbound
from hotline.domain.phone import E164
from hotline.domain.triage import IntakeAnswers
from hotline.jobs import JobSet
from hotline.limits import flood
from hotline.prompts import Prompts
from hotline.web.appkeys import DEPS, HUB, PROMPTS
from hotline.web.middleware import json_error

routes = web.RouteTableDef()

BASE = "/webhooks/twilio/voice"
LANGUAGE_PATH = f"{BASE}/language"
MENU_PATH = f"{BASE}/menu"
HOLD_KEY_PATH = f"{BASE}/hold/key"
CB_WINDOW_PATH = f"{BASE}/callback/window"
CB_MESSAGE_PATH = f"{BASE}/callback/message"
_QUEUE_RESULTS = frozenset({"bridged", "bridging-in-process", "queue-full", "redirected",
                            "leave", "hangup", "error", "system-error"})


def setup(app: web.Application) -> None:
    """Add the phone webhooks, the bridge and the call-back job (when Twilio is on)."""
    add_runtime_ctx(app)
    app.router.add_routes(routes)
    app.router.add_routes(voice_bridge.routes)
    app.router.add_routes(voice_callback.routes)
    app.cleanup_ctx.append(_voice_ctx)


async def _voice_ctx(app: web.Application) -> AsyncIterator[None]:
    rt = app.get(TWILIO)
    if rt is None or not rt.voice_on:
        yield
        return
    deps, prompts = app[DEPS], app[PROMPTS]
    jobs = JobSet(grace_s=5.0)
    jobs.start("call-bridge", lambda: voice_bridge.follow_assignments(deps, rt, prompts, app[HUB]))
    jobs.start("call-sweep", lambda: voice_bridge.run_sweep(deps, rt, prompts, jobs.stop))
    jobs.start("callbacks", lambda: callback.run_callbacks(deps, jobs.stop))
    yield
    # The loops end between passes; the hub's close (on_shutdown) ends the event follower.
    await jobs.close()


async def _begin(request: web.Request) -> tuple[Deps, Runtime, Prompts, dict[str, str], str]:
    form = await verified_form(request)
    rt = runtime(request)
    if not rt.voice_on:
        # Without our own number as caller id, a bridged call would show the victim's number
        # on the counselor's personal phone.
        raise json_error(503, "set twilio.phone_number to switch calls on")
    sid = field_str(form, "CallSid", CALL_SID, max_len=34)
    field_str(form, "From", required=False, max_len=64)
    return request.app[DEPS], rt, request.app[PROMPTS], form, sid


async def _call(deps: Deps, sid: str) -> store.Call:
    """The call's row, created at its first webhook (a retry finds the same row)."""
    now = datetime.now(UTC)
    async with deps.engine.connect() as conn:
        call = await store.get_call(conn, sid)
    if call is None:
        with contextlib.suppress(Exception):
            async with deps.engine.begin() as conn:
                await store.add_call(conn, call_sid=sid, direction="in", state="ivr", at=now)
        async with deps.engine.connect() as conn:
            call = await store.get_call(conn, sid)
    if call is None:  # pragma: no cover - the insert above failed for another reason
        raise json_error(503, "call not recorded; retry")
    return call


def _lang(deps: Deps, call: store.Call) -> str:
    return call.language or deps.config.languages.default


def _can_call_back(rt: Runtime, form: dict[str, str]) -> bool:
    return rt.voice_on and bool(E164.match(form.get("From", "")))


def _banned(deps: Deps, form: dict[str, str]) -> bool:
    """Whether the caller's number is banned (a withheld number is nobody's: never)."""
    sender = form.get("From", "")
    return bool(E164.match(sender)) and flood.banned(
        deps, sender=deps.keyring.pseudonymize(Channel.VOICE.value, sender))


def _calm(rt: Runtime, prompts: Prompts, lang: str) -> VoiceResponse:
    """The calm answer to a banned caller or one past the flood limit; the call ends."""
    vr = VoiceResponse()
    say(rt, vr, lang, prompts.render(lang, "voice_flood_calm"))
    vr.hangup()
    return vr


@routes.post(BASE)
async def incoming(request: web.Request) -> web.Response:
    deps, rt, prompts, form, sid = await _begin(request)
    langs = deps.config.languages
    if _banned(deps, form):
        # Nothing recorded of the call: staff see nothing new.
        return xml(_calm(rt, prompts, langs.default))
    await _call(deps, sid)
    vr = VoiceResponse()
    g = Gather(num_digits=1, timeout=5, action=rt.url(LANGUAGE_PATH),
               action_on_empty_result=True)
    say(rt, g, langs.default, prompts.render(langs.default, "voice_welcome"))
    for digit, lang in enumerate(langs.supported, start=1):
        say(rt, g, lang, prompts.render(lang, "voice_language", digit=digit))
    vr.append(g)
    return xml(vr)


@routes.post(LANGUAGE_PATH)
async def language(request: web.Request) -> web.Response:
    deps, rt, prompts, form, sid = await _begin(request)
    await _call(deps, sid)
    supported = deps.config.languages.supported
    digits = form.get("Digits", "")
    ok = digits.isascii() and digits.isdigit() and len(digits) <= 2
    lang = (supported[int(digits) - 1] if ok and 1 <= int(digits) <= len(supported)
            else deps.config.languages.default)
    async with deps.engine.begin() as conn:
        await store.update_call(conn, sid, datetime.now(UTC), language=lang)
    return xml(_menu(rt, prompts, lang, _can_call_back(rt, form)))


def _ask(rt: Runtime, path: str, timeout: int, lang: str, text: str,
         vr: VoiceResponse | None = None) -> VoiceResponse:
    """One spoken question answered with one key; silence goes to `path` too."""
    vr = vr or VoiceResponse()
    g = Gather(num_digits=1, timeout=timeout, action=rt.url(path), action_on_empty_result=True)
    say(rt, g, lang, text)
    vr.append(g)
    return vr


def _menu(rt: Runtime, prompts: Prompts, lang: str, callback_ok: bool) -> VoiceResponse:
    return _ask(rt, MENU_PATH, 6, lang, prompts.render(lang, "voice_menu", callback=callback_ok))


@routes.post(MENU_PATH)
async def menu(request: web.Request) -> web.Response:
    deps, rt, prompts, form, sid = await _begin(request)
    call = await _call(deps, sid)
    lang = _lang(deps, call)
    if call.state == "ended" and call.conversation_id is not None:
        # A retried menu choice of a call whose case was held (flood limit): the same end.
        return xml(_calm(rt, prompts, lang))
    digits = form.get("Digits", "")
    if digits == "2" and _can_call_back(rt, form) and call.conversation_id is None:
        return xml(_ask_window(rt, prompts, lang))
    return xml(await _enqueue(deps, rt, prompts, form, call, lang, spreading=digits == "1"))


async def _enqueue(deps: Deps, rt: Runtime, prompts: Prompts, form: dict[str, str],
                   call: store.Call, lang: str, spreading: bool) -> VoiceResponse:
    """Open (or find) the caller's case in our queue and hold the line in Twilio's queue."""
    vr = VoiceResponse()
    cid = call.conversation_id
    if cid is None:
        if _banned(deps, form):  # banned while the caller was in the menu
            return _calm(rt, prompts, lang)
        sender = form.get("From", "")
        # Withheld numbers all look alike: each such call is its own sender.
        address = sender if E164.match(sender) else f"withheld:{call.call_sid}"
        stored = await inbox.receive(deps, Inbound(
            channel=Channel.VOICE, address=address,
            text=prompts.render(lang, "marker_call", spreading=spreading),
            provider_id=f"{call.call_sid}:menu", language=lang,
            received_at=datetime.now(UTC), system=True),
            IntakeAnswers(spreading=True) if spreading else None)
        cid = stored.conversation_id
        if stored.held:
            # Past the number's flood limit: the call is noted with its (closed) case and
            # ends with the calm words; nothing reaches the queue.
            async with deps.engine.begin() as conn:
                await store.update_call(conn, call.call_sid, datetime.now(UTC),
                                        state="ended", conversation_id=cid, pending=None)
            return _calm(rt, prompts, lang)
    async with deps.engine.begin() as conn:
        await store.update_call(conn, call.call_sid, datetime.now(UTC),
                                only_states=("ivr", "queued"), state="queued",
                                conversation_id=cid, pending=None)
    if spreading:
        say(rt, vr, lang, prompts.render(lang, "voice_spreading_ack"))
    vr.enqueue(rt.config.queue_name, wait_url=rt.url(HOLD_PATH), wait_url_method="POST",
               action=rt.url(DEQUEUED_PATH), method="POST")
    return vr


@routes.post(HOLD_PATH)
async def hold(request: web.Request) -> web.Response:
    """What a waiting caller hears, again every hold_repeat_seconds: our place in line."""
    deps, rt, prompts, form, sid = await _begin(request)
    call = await _call(deps, sid)
    lang = _lang(deps, call)
    cb_ok = _can_call_back(rt, form)
    info = await waitinfo.wait_info(deps, call.conversation_id) if call.conversation_id \
        else None
    vr = VoiceResponse()
    g = Gather(num_digits=1, timeout=1, action=rt.url(HOLD_KEY_PATH))
    if info is not None:
        say(rt, g, lang, prompts.render(lang, "wait_status", spoken=True,
                                        **info.prompt_values(callback=cb_ok)))
    if cb_ok:
        say(rt, g, lang, prompts.render(lang, "voice_hold_callback"))
    g.pause(length=rt.config.hold_repeat_seconds)
    vr.append(g)
    return xml(vr)


@routes.post(HOLD_KEY_PATH)
async def hold_key(request: web.Request) -> web.Response:
    deps, rt, _prompts, form, sid = await _begin(request)
    vr = VoiceResponse()
    if form.get("Digits") == "2" and _can_call_back(rt, form):
        async with deps.engine.begin() as conn:
            await store.update_call(conn, sid, datetime.now(UTC), pending="callback")
        vr.leave()  # out of Twilio's queue; the Enqueue action asks the call-back questions
    return xml(vr)


@routes.post(DEQUEUED_PATH)
async def dequeued(request: web.Request) -> web.Response:
    """The caller left Twilio's queue: hung up, chose a call-back, or the queue was full."""
    deps, rt, prompts, form, sid = await _begin(request)
    result = field_str(form, "QueueResult", max_len=32)
    if result not in _QUEUE_RESULTS:
        raise json_error(400, "QueueResult: malformed")
    call = await _call(deps, sid)
    lang = _lang(deps, call)
    vr = VoiceResponse()
    if result == "hangup":
        await voice_bridge.caller_gone(deps, call)
    elif result == "leave" and call.pending == "callback":
        return xml(_ask_window(rt, prompts, lang))
    elif result in ("queue-full", "error", "system-error"):
        await voice_bridge.caller_gone(deps, call)
        say(rt, vr, lang, prompts.render(lang, "voice_queue_full"))
        if _can_call_back(rt, form):
            return xml(_ask_window(rt, prompts, lang, vr))
        vr.hangup()
    return xml(vr)


def _ask_window(rt: Runtime, prompts: Prompts, lang: str,
                vr: VoiceResponse | None = None) -> VoiceResponse:
    return _ask(rt, CB_WINDOW_PATH, 8, lang, prompts.render(lang, "voice_callback_window"), vr)


async def _cancel_callback(deps: Deps, rt: Runtime, prompts: Prompts, form: dict[str, str],
                           call: store.Call, lang: str) -> VoiceResponse:
    """No (valid) call-back choice: never drop the caller, put them (back) in line."""
    vr = await _enqueue(deps, rt, prompts, form, call, lang, spreading=False)
    intro = VoiceResponse()
    say(rt, intro, lang, prompts.render(lang, "voice_callback_cancelled"))
    for verb in vr.verbs:
        intro.append(verb)
    return intro


@routes.post(CB_WINDOW_PATH)
async def callback_window(request: web.Request) -> web.Response:
    deps, rt, prompts, form, sid = await _begin(request)
    call = await _call(deps, sid)
    lang = _lang(deps, call)
    choice = form.get("Digits", "")
    if choice not in callback.CHOICES or not _can_call_back(rt, form):
        return xml(await _cancel_callback(deps, rt, prompts, form, call, lang))
    async with deps.engine.begin() as conn:
        await store.update_call(conn, sid, datetime.now(UTC), pending=f"cbw:{choice}")
    return xml(_ask(rt, CB_MESSAGE_PATH, 8, lang,
                    prompts.render(lang, "voice_callback_message")))


@routes.post(CB_MESSAGE_PATH)
async def callback_message(request: web.Request) -> web.Response:
    deps, rt, prompts, form, sid = await _begin(request)
    call = await _call(deps, sid)
    lang = _lang(deps, call)
    now = datetime.now(UTC)
    tz = ZoneInfo(deps.config.roster.timezone)
    if call.state == "ended":
        done = await callback.by_source(deps, f"voice:{sid}")
        if done is not None:
            # Twilio retried a request we had answered: the same answer, nothing changed (not
            # "cancelled" and back in a queue the case has already left).
            return xml(_confirmed(rt, prompts, lang, done.window_start, done.window_end,
                                  done.leave_message, now, tz))
    pending = call.pending or ""
    if not pending.startswith("cbw:") or not _can_call_back(rt, form):
        return xml(await _cancel_callback(deps, rt, prompts, form, call, lang))
    window = callback.window_for(pending[4:], now, tz)
    if window is None:
        return xml(await _cancel_callback(deps, rt, prompts, form, call, lang))
    # Only an explicit 1 allows a voice message: silence or anything else is the safe "no".
    leave = form.get("Digits") == "1"
    await callback.request(deps, number=form["From"], language=lang, start=window[0],
                           end=window[1], leave_message=leave, source_channel=Channel.VOICE,
                           source_key=f"voice:{sid}")
    if call.conversation_id:
        # The caller chose a call-back over waiting: this call's case ends here (abandoned,
        # with its wait); the call-back becomes a case of its own when its window opens.
        await callback.abandon(deps, call.conversation_id, now, "call.left_for_callback")
    async with deps.engine.begin() as conn:
        await store.update_call(conn, sid, now, state="ended", pending=None)
    return xml(_confirmed(rt, prompts, lang, window[0], window[1], leave, now, tz))


def _confirmed(rt: Runtime, prompts: Prompts, lang: str, start: datetime, end: datetime,
               leave: bool, now: datetime, tz: ZoneInfo) -> VoiceResponse:
    vr = VoiceResponse()
    say(rt, vr, lang, prompts.render(lang, "voice_callback_confirmed", leave_message=leave,
                                     **callback.confirmation(start, end, now, tz)))
    vr.hangup()
    return vr


def _terminal(status: str) -> bool:
    return status in ("completed", "busy", "no-answer", "failed", "canceled")


@routes.post(voice_bridge.STATUS_PATH)
async def call_status(request: web.Request) -> web.Response:
    """Call status callback: a caller who hangs up while waiting is recorded as abandoned."""
    form = await verified_form(request)
    sid = field_str(form, "CallSid", CALL_SID, max_len=34)
    status = field_str(form, "CallStatus", max_len=16)
    if status not in ("queued", "initiated", "ringing", "in-progress", "answered",
                      "completed", "busy", "no-answer", "failed", "canceled"):
        raise json_error(400, "CallStatus: malformed")
    deps = request.app[DEPS]
    async with deps.engine.connect() as conn:
        call = await store.get_call(conn, sid)
    if call is None or not _terminal(status):
        return web.Response(status=204)
    if call.direction == "callback":
        if status != "completed":
            await callback.call_result(deps, sid, answered=False)
        return web.Response(status=204)
    await voice_bridge.caller_gone(deps, call)
    return web.Response(status=204)
