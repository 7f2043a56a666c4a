"""Connecting calls to counselors, and the console's call-back button.

Bridge: when a counselor accepts a voice case (the "assigned" event on the hub; a sweep every
few seconds catches any event this instance missed), the caller's live call is redirected by
REST (`calls(sid).update(twiml=...)`) to TwiML that <Dial>s the counselor's own phone, with our
number as caller id so the victim's number never shows on a personal phone. One instance wins
each bridge (a conditional SQL update queued -> bridging). If the counselor does not answer, the
caller hears so and goes back to our queue at the old place, and that counselor is not offered
the case again. A counselor holds a call exclusively (lua/lib.lua: a call needs load 0 and sets
the "call" flag until the case is closed).

Why REST-update the waiting call rather than <Dial><Queue> on a counselor leg: Dial Queue takes
whoever is at the front of Twilio's queue, but the order is ours (urgency, skills, language),
so the counselor must get exactly the caller they accepted.

Call-backs are placed by hotline.channels.twilio.voice_callback. See docs/twilio.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from redis.exceptions import RedisError
from twilio.base.exceptions import TwilioException
from twilio.twiml.voice_response import Dial, VoiceResponse

from hotline.audit import log as audit
from hotline.callbacks import service as callback
from hotline.cases import conversations as convs
from hotline.cases import handover
from hotline.cases.casework import CaseConflict, CaseNotFound
from hotline.channels.twilio import store
from hotline.channels.twilio.common import (
    CALL_SID,
    TWILIO,
    Runtime,
    field_str,
    rest_error,
    verified_form,
    xml,
)
from hotline.deps import Deps
from hotline.domain.conversation import Status, Urgency
from hotline.domain.event_types import EventType
from hotline.events import Event, Hub
from hotline.prompts import Prompts
from hotline.staff import store as staff_store
from hotline.victim import casecode
from hotline.web.appkeys import DEPS, PROMPTS
from hotline.web.middleware import json_error

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

BASE = "/webhooks/twilio/voice"
HOLD_PATH = f"{BASE}/hold"
DEQUEUED_PATH = f"{BASE}/dequeued"
STATUS_PATH = f"{BASE}/status"
DIAL_PATH = f"{BASE}/dial"
WHISPER_PATH = f"{BASE}/whisper"
LOCALES = {"ko": "ko-KR", "en": "en-US"}
SWEEP_S = 2.0
# Twilio's answers for a call that has already ended.
_GONE_CODES = {20404, 21220}


def say(rt: Runtime, parent: Any, lang: str, text: str) -> None:
    """<Say> in the language's configured voice."""
    parent.say(text, voice=rt.config.voice_for(lang), language=LOCALES.get(lang, "en-US"))


async def caller_gone(deps: Deps, call: store.Call) -> None:
    """The caller hung up (or was cut off): a case still waiting is abandoned with its wait;
    a case a counselor already holds stays theirs to close, with a `call.ended` event."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        fresh = await store.get_call(conn, call.call_sid)
        if fresh is None or fresh.state == "ended":
            return
        await store.update_call(conn, call.call_sid, now, state="ended", pending=None)
    if fresh.conversation_id is None:
        return
    if not await callback.abandon(deps, fresh.conversation_id, now, "call.abandoned"):
        await deps.publish({"type": EventType.CALL_ENDED, "conversation": fresh.conversation_id,
                            "counselor": fresh.counselor_id})


def _bridge_twiml(rt: Runtime, prompts: Prompts, lang: str, phone: str) -> VoiceResponse:
    vr = VoiceResponse()
    say(rt, vr, lang, prompts.render(lang, "voice_connecting"))
    d = Dial(caller_id=rt.config.phone_number, timeout=rt.config.dial_timeout_seconds,
             action=rt.url(DIAL_PATH), answer_on_bridge=True)
    d.number(phone, url=rt.url(WHISPER_PATH))
    vr.append(d)
    return vr


async def _not_again(deps: Deps, cid: str, counselor: int) -> None:
    # After the requeue: returning a case to the queue clears its "declined by" set.
    with contextlib.suppress(RedisError, OSError):
        await deps.live.not_again(cid, counselor)


async def _no_phone(deps: Deps, cid: str, counselor: int) -> None:
    # Back to the queue at the old place, and not offered to this counselor again.
    with contextlib.suppress(CaseConflict, CaseNotFound):
        await handover.requeue(deps, cid, "skills", None)
    await _not_again(deps, cid, counselor)
    await deps.publish({"type": EventType.CALL_BRIDGE_FAILED, "conversation": cid,
                        "counselor": counselor, "error": "no_phone"})
    log.warning("call not bridged: no bridge number on file for the counselor",
                extra={"conversation": cid, "counselor": counselor})


async def bridge(deps: Deps, rt: Runtime, prompts: Prompts, cid: str) -> str:
    """Redirect a waiting caller to the counselor who now holds their case; returns what
    happened: bridging, no_call, not_active, no_phone, raced, gone or retry."""
    now = datetime.now(UTC)
    async with deps.engine.connect() as conn:
        call = await store.inbound_call_for(conn, cid)
        if call is None or call.state != "queued":
            return "no_call"
        conv = await convs.get(conn, cid)
        if conv is None or conv.status != Status.ACTIVE or conv.counselor_id is None:
            return "not_active"
        sealed = await staff_store.phone_sealed(conn, conv.counselor_id)
    counselor = conv.counselor_id
    if sealed is None:
        await _no_phone(deps, cid, counselor)
        return "no_phone"
    async with deps.engine.begin() as conn:
        if not await store.update_call(conn, call.call_sid, now, only_states=("queued",),
                                       state="bridging", counselor_id=counselor):
            return "raced"
    phone = deps.keyring.open_text(sealed, f"counselor_phone:{counselor}")
    twiml = _bridge_twiml(rt, prompts, conv.language, phone)
    try:
        await rt.rest(rt.client.calls(call.call_sid).update_async(twiml=str(twiml)))
    except TwilioException as e:
        status, code = rest_error(e)
        if status == 404 or code in _GONE_CODES:
            await caller_gone(deps, call)
            return "gone"
        return await _retry_later(deps, call.call_sid, cid, f"twilio_{code or status}")
    except (TimeoutError, aiohttp.ClientError, OSError) as e:
        return await _retry_later(deps, call.call_sid, cid, type(e).__name__)
    async with deps.engine.begin() as conn:
        await audit.record(conn, at=now, actor_id=None, action="call.bridging",
                           target_kind="conversation", target_id=cid, counselor=counselor)
    await deps.publish({"type": EventType.CALL_BRIDGING, "conversation": cid,
                        "counselor": counselor})
    log.info("call bridging", extra={"conversation": cid, "counselor": counselor})
    return "bridging"


async def _retry_later(deps: Deps, sid: str, cid: str, error: str) -> str:
    async with deps.engine.begin() as conn:
        await store.update_call(conn, sid, datetime.now(UTC), only_states=("bridging",),
                                state="queued")
    log.warning("bridge failed; retrying", extra={"conversation": cid, "error": error[:64]})
    return "retry"


async def follow_assignments(deps: Deps, rt: Runtime, prompts: Prompts, hub: Hub) -> None:
    """Forever: bridge each voice case as soon as a counselor is assigned to it."""
    async def on_assigned(ev: Event) -> None:
        cid = ev.get("conversation")
        if isinstance(cid, str):
            try:
                await bridge(deps, rt, prompts, cid)
            except Exception:  # one failed bridge must not stop the others; sweep retries
                log.exception("bridge raised", extra={"conversation": cid})

    # Assignments missed while lagging are bridged by the sweep (run_sweep).
    await hub.follow(lambda ev: ev.get("type") == EventType.ASSIGNED, on_assigned)


async def sweep(deps: Deps, rt: Runtime, prompts: Prompts) -> int:
    """Bridge every waiting call whose case is already held (a missed event, a failed try)."""
    async with deps.engine.connect() as conn:
        calls = await store.calls_in_state(conn, "queued")
    done = 0
    for call in calls:
        if call.conversation_id and await bridge(deps, rt, prompts,
                                                 call.conversation_id) == "bridging":
            done += 1
    return done


async def run_sweep(deps: Deps, rt: Runtime, prompts: Prompts, stop: asyncio.Event,
                    every_s: float = SWEEP_S) -> None:
    """Until `stop`: a sweep every few seconds (stopping between sweeps, never mid-query)."""
    while not stop.is_set():
        with contextlib.suppress(RedisError, OSError):
            try:
                await sweep(deps, rt, prompts)
            except (RedisError, OSError):
                raise
            except Exception:
                log.exception("bridge sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)


def runtime_on(request: web.Request) -> Runtime:
    """The Twilio runtime when the phone channel is on; 503 otherwise."""
    rt = request.app.get(TWILIO)
    if rt is None or not rt.voice_on:
        raise json_error(503, "the phone channel is off")
    return rt


def spell(case_number: str) -> str:
    """A case number as a voice reads it clearly: "HL-7K3M-9QX2" -> "H L, 7 K 3 M, 9 Q X 2"."""
    return ", ".join(" ".join(part) for part in case_number.split("-"))


@routes.post(DIAL_PATH)
async def dial_done(request: web.Request) -> web.Response:
    """The bridge's Dial ended: a talk that happened, or a counselor who did not answer (the
    caller goes back in line at the old place)."""
    form = await verified_form(request)
    rt = runtime_on(request)
    sid = field_str(form, "CallSid", CALL_SID, max_len=34)
    status = field_str(form, "DialCallStatus", max_len=16)
    deps, prompts = request.app[DEPS], request.app[PROMPTS]
    async with deps.engine.connect() as conn:
        call = await store.get_call(conn, sid)
    vr = VoiceResponse()
    if call is None or call.conversation_id is None:
        vr.hangup()
        return xml(vr)
    lang = call.language or deps.config.languages.default
    now = datetime.now(UTC)
    if status in ("completed", "answered"):
        async with deps.engine.begin() as conn:
            changed = await store.update_call(conn, sid, now, only_states=("bridging", "bridged"),
                                              state="ended")
        if changed:
            await deps.publish({"type": EventType.CALL_ENDED, "conversation": call.conversation_id,
                                "counselor": call.counselor_id})
        # The caller's way back: a case number and PIN, read out twice (a new PIN each
        # time this is answered, so the one heard is the one that works).
        issued = await casecode.issue(deps, call.conversation_id)
        say(rt, vr, lang, prompts.render(lang, "victim/voice_case",
                                         spelled=spell(issued.case_number),
                                         pin=" ".join(issued.pin)))
        say(rt, vr, lang, prompts.render(lang, "voice_goodbye"))
        vr.hangup()
        return xml(vr)
    async with deps.engine.begin() as conn:
        changed = await store.update_call(conn, sid, now, only_states=("bridging", "bridged"),
                                          state="queued", counselor_id=None)
    if changed and call.counselor_id is not None:
        with contextlib.suppress(CaseConflict, CaseNotFound):
            await handover.requeue(deps, call.conversation_id, "unresponsive", None)
        await _not_again(deps, call.conversation_id, call.counselor_id)
        await deps.publish({"type": EventType.CALL_BRIDGE_FAILED,
                            "conversation": call.conversation_id,
                            "counselor": call.counselor_id, "error": status[:16]})
    say(rt, vr, lang, prompts.render(lang, "voice_counselor_unavailable"))
    vr.enqueue(rt.config.queue_name, wait_url=rt.url(HOLD_PATH), wait_url_method="POST",
               action=rt.url(DEQUEUED_PATH), method="POST")
    return xml(vr)


@routes.post(WHISPER_PATH)
async def whisper(request: web.Request) -> web.Response:
    """Said to the counselor when they pick up, before the caller is connected."""
    form = await verified_form(request)
    rt = runtime_on(request)
    parent = field_str(form, "ParentCallSid", CALL_SID, required=False, max_len=34)
    deps, prompts = request.app[DEPS], request.app[PROMPTS]
    lang, critical = deps.config.languages.default, False
    if parent:
        async with deps.engine.begin() as conn:
            call = await store.get_call(conn, parent)
            if call is not None and call.conversation_id:
                await store.update_call(conn, parent, datetime.now(UTC),
                                        only_states=("bridging",), state="bridged")
                conv = await convs.get(conn, call.conversation_id)
                if conv is not None:
                    lang, critical = conv.language, conv.urgency == Urgency.CRITICAL
    vr = VoiceResponse()
    say(rt, vr, lang, prompts.render(lang, "voice_whisper", critical=critical))
    return xml(vr)
