"""Call-backs placed from the console: the counselor's phone rings first and, once they
answer, the victim is dialled from our number (a victim only ever hears a person), with
answering-machine detection so no voicemail is left unless the victim allowed it. Also the
console's call-back endpoints: a case's request, the call button, a request recorded for a
victim on any channel. See docs/twilio.md.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from redis.exceptions import RedisError
from twilio.base.exceptions import TwilioException
from twilio.twiml.voice_response import Dial, VoiceResponse

from hotline.callbacks import service as callback
from hotline.callbacks.store import Callback
from hotline.cases.casework import CaseConflict, CaseNotFound, load_case
from hotline.channels.twilio.common import CALL_SID, Runtime, field_str, verified_form, xml
from hotline.channels.twilio.voice_bridge import BASE, STATUS_PATH, runtime_on, say
from hotline.domain.conversation import Channel
from hotline.domain.phone import E164
from hotline.domain.policy import may_act_on_case
from hotline.prompts import Prompts
from hotline.staff.auth import require_staff
from hotline.web.appkeys import DEPS, PROMPTS
from hotline.web.inputs import field_bool, json_body
from hotline.web.inputs import field_str as body_str
from hotline.web.middleware import json_error

log = logging.getLogger(__name__)

# The dial of a call-back ends seconds after its screen hung up on a machine.
CALLBACK_MACHINE_TTL_S = 3600
routes = web.RouteTableDef()

CB_DIAL_PATH = f"{BASE}/callback/dial"
CB_SCREEN_PATH = f"{BASE}/callback/screen"
# Twilio's AnsweredBy values that mean a machine took the call (a voicemail box, a fax).
_MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other",
            "fax")


async def dial_callback(rt: Runtime, prompts: Prompts, counselor_phone: str, victim: str,
                        cb: Callback) -> str:
    """Ring the counselor; when they answer, tell them the victim's voicemail rule and dial
    the victim from our number. Returns the new call's sid."""
    vr = VoiceResponse()
    say(rt, vr, cb.language, prompts.render(cb.language, "voice_whisper_callback",
                                            leave_message=cb.leave_message))
    d = Dial(caller_id=rt.config.phone_number, timeout=30, action=rt.url(CB_DIAL_PATH))
    # Answering-machine detection runs before the victim's leg is connected; the screen
    # hangs up on a voicemail box unless the victim allowed a message (no voicemail unless
    # chosen: a message on a shared phone can put them in danger).
    d.number(victim, machine_detection="Enable", url=rt.url(CB_SCREEN_PATH), method="POST")
    vr.append(d)
    call = await rt.rest(rt.client.calls.create_async(
        to=counselor_phone, from_=rt.config.phone_number, twiml=str(vr),
        status_callback=rt.url(STATUS_PATH), status_callback_method="POST",
        status_callback_event=["initiated", "ringing", "answered", "completed"]))
    return str(call.sid)


@routes.post(CB_SCREEN_PATH)
async def callback_screen(request: web.Request) -> web.Response:
    """The victim's leg answered; Twilio says who (AnsweredBy). A machine is hung up on
    unless the victim allowed a message; a person (or an unsure answer) is connected."""
    form = await verified_form(request)
    parent = field_str(form, "ParentCallSid", CALL_SID, max_len=34)
    answered_by = field_str(form, "AnsweredBy", max_len=32, required=False)
    deps = request.app[DEPS]
    vr = VoiceResponse()
    if answered_by in _MACHINE and not await callback.may_leave_message(deps, parent):
        with contextlib.suppress(RedisError, OSError):
            await deps.redis.set(deps.keys.callback_machine(parent), "1",
                                 ex=CALLBACK_MACHINE_TTL_S)
        log.info("call-back reached a machine; hung up (no message allowed)")
        vr.hangup()
    return xml(vr)


@routes.post(CB_DIAL_PATH)
async def callback_dialled(request: web.Request) -> web.Response:
    form = await verified_form(request)
    rt = runtime_on(request)
    sid = field_str(form, "CallSid", CALL_SID, max_len=34)
    status = field_str(form, "DialCallStatus", max_len=16)
    deps, prompts = request.app[DEPS], request.app[PROMPTS]
    machine = False
    with contextlib.suppress(RedisError, OSError):
        machine = bool(await deps.redis.getdel(deps.keys.callback_machine(sid)))
    # A voicemail box we hung up on is not the victim reached: they may be tried again.
    answered = status in ("completed", "answered") and not machine
    await callback.call_result(deps, sid, answered=answered)
    vr = VoiceResponse()
    if not answered:
        lang = deps.config.languages.default
        say(rt, vr, lang, prompts.render(lang, "voice_callback_unanswered", machine=machine))
    vr.hangup()
    return xml(vr)


# --- console: call-back requests and the call button ---


def _cb_json(cb: Callback) -> dict[str, object]:
    return {"id": cb.id, "status": cb.status, "window_start": cb.window_start.isoformat(),
            "window_end": cb.window_end.isoformat(), "leave_message": cb.leave_message,
            "attempts": cb.attempts, "conversation": cb.conversation_id}


@routes.get("/api/v1/cases/{id}/callback")
async def case_callback(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    try:
        cb = await callback.for_case(request.app[DEPS], staff, request.match_info["id"])
    except CaseNotFound:
        raise json_error(404, "no such case") from None
    if cb is None:
        raise json_error(404, "no call-back request for this case")
    return web.json_response(_cb_json(cb))


@routes.post("/api/v1/cases/{id}/callback/call")
async def place_call(request: web.Request) -> web.Response:
    """The counselor holding a call-back case places the call (inside the window only)."""
    staff = await require_staff(request)
    rt = runtime_on(request)
    deps, prompts = request.app[DEPS], request.app[PROMPTS]

    async def dial(phone: str, victim: str, cb: Callback) -> str:
        return await dial_callback(rt, prompts, phone, victim, cb)

    try:
        sid = await callback.place_call(deps, staff, request.match_info["id"], dial)
    except CaseNotFound:
        raise json_error(404, "no such case") from None
    except CaseConflict as e:
        raise json_error(409, e.reason) from None
    except (TimeoutError, TwilioException, aiohttp.ClientError, OSError) as e:
        log.warning("call-back not placed", extra={"error": type(e).__name__})
        return web.json_response({"error": "the call could not be placed; try again"},
                                 status=502)
    return web.json_response({"call": sid, "state": "calling"}, status=201)


@routes.post("/api/v1/callbacks")
async def record_callback(request: web.Request) -> web.Response:
    """A counselor records a call-back request a victim made on any channel (web chat,
    Telegram, SMS): the number, a window choice 1-4 or an explicit window, voicemail yes/no."""
    staff = await require_staff(request)
    runtime_on(request)
    deps = request.app[DEPS]
    body = await json_body(request)
    cid = body_str(body, "conversation_id", 32)
    number = body_str(body, "number", 16)
    client_id = body_str(body, "client_id", 64)
    leave = field_bool(body, "leave_message", False)
    if not E164.match(number):
        raise json_error(400, "number: expected an E.164 number like +821012345678")
    try:
        async with deps.engine.connect() as conn:
            conv = await load_case(conn, staff, cid)
    except CaseNotFound:
        raise json_error(404, "no such case") from None
    if not may_act_on_case(staff, conv.counselor_id):
        raise json_error(409, "only the counselor holding the case or a lead can do that")
    now = datetime.now(UTC)
    choice = body.get("window")
    if isinstance(choice, str) and choice in callback.CHOICES:
        window = callback.window_for(choice, now, ZoneInfo(deps.config.roster.timezone))
    else:
        window = _explicit_window(body)
    if window is None:
        raise json_error(400, "window: expected 1-4, or window_start and window_end")
    try:
        cb = await callback.request(deps, number=number, language=conv.language,
                                    start=window[0], end=window[1], leave_message=leave,
                                    source_channel=Channel(conv.channel),
                                    source_key=f"console:{cid}:{client_id}", actor_id=staff.id)
    except ValueError as e:
        raise json_error(400, str(e)) from None
    return web.json_response(_cb_json(cb), status=201)


def _explicit_window(body: dict[str, Any]) -> tuple[datetime, datetime] | None:
    try:
        start = datetime.fromisoformat(str(body.get("window_start")))
        end = datetime.fromisoformat(str(body.get("window_end")))
    except ValueError:
        return None
    if start.tzinfo is None or end.tzinfo is None or end - start > timedelta(hours=24):
        return None
    window = []
    for name, value in (("window_start", start), ("window_end", end)):
        try:
            # Near year 1 or 9999 an offset moves the time out of datetime's range.
            window.append(value.astimezone(UTC))
        except OverflowError:
            raise json_error(400, f"{name}: out of range", field=name) from None
    return window[0], window[1]
