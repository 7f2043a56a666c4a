"""The web chat's call-back request: the victim asks to be called at a safe time (docs/twilio.md,
"Call-backs"). Only while calls are switched on."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from hotline.callbacks import service as callback
from hotline.channels.webchat import chat as webchat
from hotline.domain.conversation import Channel
from hotline.domain.phone import to_e164
from hotline.limits import flood
from hotline.limits.buckets import FLOOD_NOTICE_TTL_S
from hotline.web.appkeys import DEPS, PROMPTS
from hotline.web.inputs import field_bool, field_str, json_body
from hotline.web.middleware import json_error

routes = web.RouteTableDef()


@routes.post("/chat/api/callback")
async def request_callback(request: web.Request) -> web.Response:
    """The victim asks to be called at a safe time: number, window choice 1-4, whether a
    message may be left. Idempotent per client_id; the number is stored sealed."""
    chat_id = webchat.require_chat(request, unsafe=True)
    if not webchat.callbacks_on(request):
        raise json_error(409, "call-backs are not available")
    deps = request.app[DEPS]
    if await webchat.has_ended(deps, chat_id):
        raise webchat.no_session()
    body = await json_body(request)
    typed, client_id = body.get("number"), body.get("client_id")
    number = (to_e164(typed, deps.config.twilio.home_country_code)
              if isinstance(typed, str) else None)
    if number is None:
        raise json_error(400, "number: expected a phone number like +82 10 1234 5678")
    window = field_str(body, "window", 1, choices=callback.CHOICES)
    leave = field_bool(body, "leave_message")
    if not isinstance(client_id, str) or not 8 <= len(client_id) <= 64:
        raise json_error(400, "client_id: expected a string of 8 to 64 characters")
    lang = body.get("language")
    lang = lang if lang in deps.config.languages.supported else deps.config.languages.default
    # A call-back becomes a case and a call placed by us: counted as a new case of the
    # client's address, and never to a number whose caller is banned.
    _pseudonym, address = webchat.admit(request, chat_id, lang)
    await webchat.new_case(request, lang, address)
    if flood.banned(deps, sender=deps.keyring.pseudonymize(Channel.VOICE.value, number)):
        raise webchat.busy(request, lang, FLOOD_NOTICE_TTL_S)
    now = datetime.now(UTC)
    tz = ZoneInfo(deps.config.roster.timezone)
    span = callback.window_for(window, now, tz)
    assert span is not None  # every choice in CHOICES has a window
    made = await callback.request(
        deps, number=number, language=lang, start=span[0], end=span[1], leave_message=leave,
        source_channel=Channel.WEBCHAT, source_key=f"webchat:{chat_id}:{client_id}")
    text = request.app[PROMPTS].render(
        lang, "chat_callback_confirmed", leave_message=made.leave_message,
        **callback.confirmation(made.window_start, made.window_end, now, tz))
    return web.json_response({"window_start": made.window_start.isoformat(),
                              "window_end": made.window_end.isoformat(),
                              "leave_message": made.leave_message, "text": text}, status=201)
