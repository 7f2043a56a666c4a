"""Phone calls over the real app (SQLite and PostgreSQL): the IVR's TwiML for each branch
(parsed as XML), urgency from the menu reaching the queue, the hold message's position, a
counselor accepting and the bridge (REST update to the stand-in, TwiML that dials the
counselor), a counselor who does not answer, a caller who hangs up (abandoned, with the wait),
duplicate webhooks, and no voicemail anywhere."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from sqlalchemy import func, select

from hotline.callbacks import store as callbacks_store
from hotline.callbacks.tables import callbacks
from hotline.cases import conversations as convs
from hotline.cases.tables import intake_records, messages
from hotline.channels.twilio import store
from hotline.domain.conversation import Status
from hotline.prompts import Prompts
from tests.conftest import wait_for
from tests.floor import presence, staff, stream_events
from tests.twilio_support import (
    OUR_NUMBER,
    PUBLIC_URL,
    Env,
    call_params,
    closed_window,
    env,
    new_sid,
    says,
    set_counselor_phone,
    standin,
)

__all__ = ["env", "standin"]  # fixtures

V = "/webhooks/twilio/voice"
P = Prompts()
COUNSELOR_PHONE = "+821099990000"


async def call_into_queue(env: Env, digit: str = "", lang_digit: str = "2",
                          sender: str = "+821055556666") -> tuple[str, str, ET.Element]:
    """A caller who picks a language and a menu option; returns (CallSid, case id, TwiML)."""
    sid = new_sid("CA")
    await env.hooks.twiml(V, call_params(sid, sender))
    await env.hooks.twiml(f"{V}/language", call_params(sid, sender, Digits=lang_digit))
    root = await env.hooks.twiml(f"{V}/menu", call_params(sid, sender, Digits=digit))
    async with env.deps.engine.connect() as conn:
        call = await store.get_call(conn, sid)
    assert call is not None and call.conversation_id is not None
    return sid, call.conversation_id, root


async def test_greeting_offers_each_language_in_its_own_voice(env: Env) -> None:
    root = await env.hooks.twiml(V, call_params(new_sid("CA")))
    [gather] = list(root)
    assert gather.tag == "Gather"
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == PUBLIC_URL + f"{V}/language"
    assert gather.get("actionOnEmptyResult") == "true"
    spoken = [(s.get("voice"), s.get("language"), s.text) for s in says(gather)]
    assert spoken == [
        ("Polly.Seoyeon", "ko-KR", P.render("ko", "voice_welcome")),
        ("Polly.Seoyeon", "ko-KR", P.render("ko", "voice_language", digit=1)),
        ("Polly.Joanna", "en-US", P.render("en", "voice_language", digit=2)),
    ]


async def test_language_then_menu(env: Env) -> None:
    sid = new_sid("CA")
    await env.hooks.twiml(V, call_params(sid))
    root = await env.hooks.twiml(f"{V}/language", call_params(sid, Digits="1"))
    [gather] = list(root)
    assert gather.get("action") == PUBLIC_URL + f"{V}/menu"
    [say] = says(gather)
    assert (say.get("voice"), say.text) == ("Polly.Seoyeon",
                                           P.render("ko", "voice_menu", callback=True))
    # No key at all: the default language (Korean).
    sid2 = new_sid("CA")
    root2 = await env.hooks.twiml(f"{V}/language", call_params(sid2, Digits=""))
    assert says(root2)[0].get("language") == "ko-KR"
    # A withheld number cannot be called back: the menu does not offer it.
    sid3 = new_sid("CA")
    root3 = await env.hooks.twiml(f"{V}/language",
                                  call_params(sid3, "anonymous", Digits="2"))
    assert says(root3)[0].text == P.render("en", "voice_menu", callback=False)


async def test_press_1_is_critical_first_in_queue_and_alerts_takedown(env: Env) -> None:
    _sid1, normal_cid, root1 = await call_into_queue(env, digit="", sender="+821011110000")
    _sid2, urgent_cid, root2 = await call_into_queue(env, digit="1", sender="+821022220000")
    [enqueue] = list(root1)
    assert enqueue.tag == "Enqueue" and enqueue.text == "hotline"
    assert enqueue.get("waitUrl") == PUBLIC_URL + f"{V}/hold"
    assert enqueue.get("action") == PUBLIC_URL + f"{V}/dequeued"
    assert [el.tag for el in root2] == ["Say", "Enqueue"]
    assert says(root2)[0].text == P.render("en", "voice_spreading_ack")
    waiting = await env.deps.live.waiting()
    assert [w.conversation_id for w in waiting] == [urgent_cid, normal_cid]
    assert waiting[0].urgency.value == "critical"
    async with env.deps.engine.connect() as conn:
        conv = await convs.get(conn, urgent_cid)
        lines = await convs.list_messages(conn, urgent_cid)
    assert conv is not None and conv.channel.value == "voice"
    assert "content_spreading" in conv.reasons
    # The transcript holds a system note, not words the caller never typed.
    assert [ln.direction.value for ln in lines] == ["system"]
    assert [e for e in await stream_events(env.runner, "alert")
            if e.get("conversation") == urgent_cid]


async def test_hold_message_states_our_position(env: Env) -> None:
    await call_into_queue(env, sender="+821011110000")
    sid, _cid, _ = await call_into_queue(env, sender="+821022220000")
    root = await env.hooks.twiml(f"{V}/hold", call_params(
        sid, "+821022220000", QueuePosition="1", QueueTime="12", CurrentQueueSize="2"))
    [gather] = list(root)
    assert gather.get("action") == PUBLIC_URL + f"{V}/hold/key"
    status, hint = says(gather)
    # Our queue's place (2), not Twilio's: the same words as every channel, spoken.
    assert "in line (2)" in (status.text or "") or "number 2 in line" in (status.text or "")
    assert "keep writing" not in (status.text or "")
    assert hint.text == P.render("en", "voice_hold_callback")
    [pause] = list(gather.iter("Pause"))
    assert pause.get("length") == "30"


async def _counselor(env: Env, phone: str | None = COUNSELOR_PHONE) -> Any:
    mina = await staff(env.runner, "mina")
    if phone:
        await set_counselor_phone(env.deps, mina.id, phone)
    await presence(mina, "available")
    return mina


async def test_counselor_accepts_and_the_call_is_bridged(env: Env) -> None:
    sid, cid, _ = await call_into_queue(env, digit="1")
    mina = await _counselor(env)
    assert await mina.take_next() == cid

    async def bridged() -> list[Any]:
        return env.standin.of("call_update")
    [update] = await wait_for(bridged)
    assert update.call_sid == sid
    twiml = ET.fromstring(update.form["Twiml"])
    assert [el.tag for el in twiml] == ["Say", "Dial"]
    dial = twiml.find("Dial")
    assert dial is not None
    assert dial.get("callerId") == OUR_NUMBER  # never the victim's number on a personal phone
    assert dial.get("action") == PUBLIC_URL + f"{V}/dial"
    [number] = list(dial)
    assert number.tag == "Number" and number.text == COUNSELOR_PHONE
    assert number.get("url") == PUBLIC_URL + f"{V}/whisper"
    # A call holds the counselor exclusively.
    person: Any = await env.deps.redis.hget(env.deps.keys.staff_hash(mina.id), "call")
    assert person == "1"
    whisper = await env.hooks.twiml(f"{V}/whisper", call_params(new_sid("CA"),
                                                                 ParentCallSid=sid))
    assert says(whisper)[0].text == P.render("en", "voice_whisper", critical=True)
    async with env.deps.engine.connect() as conn:
        call = await store.get_call(conn, sid)
    assert call is not None and call.state == "bridged" and call.counselor_id == mina.id
    done = await env.hooks.twiml(f"{V}/dial", call_params(sid, DialCallStatus="completed"))
    # The case number and PIN (docs/victim.md), goodbye, hang up.
    assert [el.tag for el in done] == ["Say", "Say", "Hangup"]
    assert [e for e in await stream_events(env.runner, "call.ended")
            if e["conversation"] == cid]


async def test_counselor_who_does_not_answer_sends_caller_back_in_line(env: Env) -> None:
    sid, cid, _ = await call_into_queue(env)
    mina = await _counselor(env)
    assert await mina.take_next() == cid

    async def bridged() -> list[Any]:
        return env.standin.of("call_update")
    await wait_for(bridged)
    root = await env.hooks.twiml(f"{V}/dial", call_params(sid, DialCallStatus="no-answer"))
    assert [el.tag for el in root] == ["Say", "Enqueue"]
    assert says(root)[0].text == P.render("en", "voice_counselor_unavailable")
    async with env.deps.engine.connect() as conn:
        conv = await convs.get(conn, cid)
    assert conv is not None and conv.status == Status.WAITING and conv.counselor_id is None
    declined: Any = await env.deps.redis.smembers(env.deps.keys.declined(cid))
    assert str(mina.id) in declined
    # A retry of the same Dial action changes nothing more.
    again = await env.hooks.twiml(f"{V}/dial", call_params(sid, DialCallStatus="no-answer"))
    assert [el.tag for el in again] == ["Say", "Enqueue"]
    assert len([e for e in await stream_events(env.runner, "call.bridge_failed")]) == 1


async def test_counselor_without_phone_gets_case_back_in_queue(env: Env) -> None:
    _sid, cid, _ = await call_into_queue(env)
    mina = await _counselor(env, phone=None)
    assert await mina.take_next() == cid

    async def failed() -> list[Any]:
        return await stream_events(env.runner, "call.bridge_failed")
    [ev] = await wait_for(failed)
    assert ev["error"] == "no_phone"
    async with env.deps.engine.connect() as conn:
        conv = await convs.get(conn, cid)
    assert conv is not None and conv.status == Status.WAITING
    assert env.standin.of("call_update") == []


async def test_caller_hangs_up_while_waiting_is_abandoned_once(env: Env) -> None:
    sid, cid, _ = await call_into_queue(env)
    root = await env.hooks.twiml(f"{V}/dequeued", call_params(
        sid, QueueResult="hangup", QueueTime="40"))
    assert list(root) == []
    # The status callback for the same call afterwards changes nothing more.
    r = await env.hooks.post(f"{V}/status", call_params(sid, CallStatus="completed"))
    assert r.status == 204
    async with env.deps.engine.connect() as conn:
        conv = await convs.get(conn, cid)
        records = (await conn.execute(select(intake_records))).all()
    assert conv is not None and conv.status == Status.CLOSED
    [rec] = records
    assert (rec.outcome, rec.channel, rec.counselor_id) == ("disconnected", "voice", None)
    assert rec.wait_seconds >= 0 and rec.handling_seconds == 0
    assert cid not in {w.conversation_id for w in await env.deps.live.waiting()}
    assert [e for e in await stream_events(env.runner, "closed") if e["conversation"] == cid]


async def test_status_callback_alone_records_abandonment(env: Env) -> None:
    sid, cid, _ = await call_into_queue(env)
    r = await env.hooks.post(f"{V}/status", call_params(sid, CallStatus="completed"))
    assert r.status == 204
    async with env.deps.engine.connect() as conn:
        conv = await convs.get(conn, cid)
    assert conv is not None and conv.status == Status.CLOSED


async def test_duplicate_webhooks_have_one_effect(env: Env) -> None:
    sid = new_sid("CA")
    await env.hooks.twiml(V, call_params(sid))
    await env.hooks.twiml(V, call_params(sid))
    await env.hooks.twiml(f"{V}/language", call_params(sid, Digits="2"))
    params = call_params(sid, Digits="1")
    first = await env.hooks.post(f"{V}/menu", params)
    again = await env.hooks.post(f"{V}/menu", params)
    assert await first.text() == await again.text()
    async with env.deps.engine.connect() as conn:
        assert len(await convs.open_conversations(conn)) == 1
        assert (await conn.execute(select(func.count()).select_from(messages))
                ).scalar_one() == 1
    assert len(await stream_events(env.runner, "queued")) == 1


async def test_press_2_asks_for_a_callback_window(env: Env) -> None:
    sid = new_sid("CA")
    await env.hooks.twiml(V, call_params(sid))
    await env.hooks.twiml(f"{V}/language", call_params(sid, Digits="2"))
    ask = await env.hooks.twiml(f"{V}/menu", call_params(sid, Digits="2"))
    [gather] = list(ask)
    assert gather.get("action") == PUBLIC_URL + f"{V}/callback/window"
    assert says(gather)[0].text == P.render("en", "voice_callback_window")
    choice, _end = closed_window(env.deps.config)
    msg = await env.hooks.twiml(f"{V}/callback/window", call_params(sid, Digits=choice))
    [gather2] = list(msg)
    assert gather2.get("action") == PUBLIC_URL + f"{V}/callback/message"
    done = await env.hooks.twiml(f"{V}/callback/message", call_params(sid, Digits="1"))
    assert [el.tag for el in done] == ["Say", "Hangup"]
    assert "between" in (says(done)[0].text or "")
    async with env.deps.engine.connect() as conn:
        cb = await callbacks_store.callback_by_source(conn, f"voice:{sid}")
        assert await convs.open_conversations(conn) == []
    assert cb is not None and cb.leave_message and cb.status == "scheduled"
    # Twilio retries the request: the same confirmation, not "cancelled" and back in line.
    again = await env.hooks.twiml(f"{V}/callback/message", call_params(sid, Digits="1"))
    assert ET.tostring(again) == ET.tostring(done)
    async with env.deps.engine.connect() as conn:
        assert await convs.open_conversations(conn) == []
        assert (await conn.execute(select(func.count()).select_from(callbacks))
                ).scalar_one() == 1


async def test_hold_key_2_leaves_queue_for_callback_and_invalid_choice_requeues(
        env: Env) -> None:
    sid, cid, _ = await call_into_queue(env)
    leave = await env.hooks.twiml(f"{V}/hold/key", call_params(sid, Digits="2"))
    assert [el.tag for el in leave] == ["Leave"]
    ask = await env.hooks.twiml(f"{V}/dequeued", call_params(sid, QueueResult="leave"))
    assert [el.tag for el in ask] == ["Gather"]
    # No valid window chosen: the caller is never dropped, but put back in line.
    back = await env.hooks.twiml(f"{V}/callback/window", call_params(sid, Digits="9"))
    assert [el.tag for el in back] == ["Say", "Enqueue"]
    async with env.deps.engine.connect() as conn:
        conv = await convs.get(conn, cid)
    assert conv is not None and conv.status == Status.WAITING


async def test_no_voicemail_anywhere(env: Env) -> None:
    sid, _cid, _ = await call_into_queue(env)
    await env.hooks.twiml(f"{V}/hold", call_params(sid))
    await env.hooks.twiml(f"{V}/dequeued", call_params(sid, QueueResult="queue-full"))
    for text in env.hooks.answers:
        root = ET.fromstring(text)
        assert not list(root.iter("Record")), text
