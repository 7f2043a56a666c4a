"""Call-back requests over the real app (SQLite and PostgreSQL): a request waits until its
window opens, becomes a voice case of its own in the queue (reason "callback"), and the
counselor who takes it places the call from the console through the REST client (to the
stand-in), only inside the window; a window that passes unserved ends as not reached."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hotline.callbacks import service as callback
from hotline.callbacks import store
from hotline.callbacks.tables import callbacks
from hotline.cases import conversations as convs
from hotline.cases.tables import conversations, intake_records
from hotline.domain.conversation import Channel, Status
from hotline.prompts import Prompts
from tests.floor import alert_rows, hold_jobs, presence, staff, victim
from tests.helpers import Victim, row_counts
from tests.twilio_support import (
    OUR_NUMBER,
    PUBLIC_URL,
    Env,
    call_params,
    env,
    set_counselor_phone,
    standin,
)

__all__ = ["env", "standin"]  # fixtures

VICTIM = "+821033334444"
COUNSELOR_PHONE = "+821099990000"


async def _request(env: Env, start: datetime, end: datetime, leave: bool = False
                   ) -> store.Callback:
    return await callback.request(env.deps, number=VICTIM, language="en", start=start,
                                  end=end, leave_message=leave, source_channel=Channel.SMS,
                                  source_key=f"test:{secrets.token_hex(4)}")


async def test_request_waits_for_its_window_then_is_queued(env: Env) -> None:
    now = datetime.now(UTC)
    cb = await _request(env, now + timedelta(hours=2), now + timedelta(hours=3))
    assert cb.status == "scheduled"
    assert await callback.open_due(env.deps, now) == 0
    assert await callback.open_due(env.deps, now + timedelta(hours=2, seconds=1)) == 1
    async with env.deps.engine.connect() as conn:
        row = await store.callback_get(conn, cb.id)
        assert row is not None and row.status == "queued" and row.contact_sealed is None
        assert row.conversation_id is not None
        conv = await convs.get(conn, row.conversation_id)
        lines = await convs.list_messages(conn, row.conversation_id)
    assert conv is not None and conv.channel == Channel.VOICE and conv.status == Status.WAITING
    assert "callback" in conv.reasons and conv.has_contact
    assert [ln.direction.value for ln in lines] == ["system"]
    assert row.conversation_id in {w.conversation_id for w in await env.deps.live.waiting()}
    # Opening again (another instance, a retry) changes nothing.
    assert await callback.open_due(env.deps, now + timedelta(hours=2, seconds=2)) == 0


async def test_console_places_the_call_inside_the_window(env: Env) -> None:
    now = datetime.now(UTC)
    cb = await _request(env, now - timedelta(minutes=1), now + timedelta(hours=1), leave=False)
    mina = await staff(env.runner, "mina")
    await set_counselor_phone(env.deps, mina.id, COUNSELOR_PHONE)
    await presence(mina, "available")
    cid = await mina.take_next()
    info = await (await mina.client.get(f"/api/v1/cases/{cid}/callback")).json()
    assert (info["id"], info["status"], info["leave_message"]) == (cb.id, "queued", False)
    resp = await mina.post(f"/api/v1/cases/{cid}/callback/call")
    assert resp.status == 201, await resp.text()
    [create] = env.standin.of("call_create")
    assert create.form["To"] == COUNSELOR_PHONE and create.form["From"] == OUR_NUMBER
    assert create.form["StatusCallback"] == PUBLIC_URL + "/webhooks/twilio/voice/status"
    twiml = ET.fromstring(create.form["Twiml"])
    dial = twiml.find("Dial")
    assert dial is not None and dial.get("callerId") == OUR_NUMBER
    assert [n.text for n in dial.iter("Number")] == [VICTIM]
    # The whisper tells the counselor not to leave a message (the victim said no).
    assert "do not leave a message" in (twiml.findtext("Say") or "")
    # A second press while the first call is placed is refused.
    again = await mina.post(f"/api/v1/cases/{cid}/callback/call")
    assert again.status == 409
    # Not answered: the counselor may try again inside the window.
    r = await env.hooks.post("/webhooks/twilio/voice/callback/dial",
                             call_params(create.call_sid, COUNSELOR_PHONE,
                                         DialCallStatus="no-answer"))
    assert r.status == 200
    assert (await (await mina.client.get(f"/api/v1/cases/{cid}/callback")).json()
            )["status"] == "unanswered"
    assert (await mina.post(f"/api/v1/cases/{cid}/callback/call")).status == 201
    second = env.standin.of("call_create")[-1]
    await env.hooks.post("/webhooks/twilio/voice/callback/dial",
                         call_params(second.call_sid, COUNSELOR_PHONE,
                                     DialCallStatus="completed"))
    final = await (await mina.client.get(f"/api/v1/cases/{cid}/callback")).json()
    assert (final["status"], final["attempts"]) == ("done", 2)


async def test_call_refused_outside_window_or_for_another_counselor(env: Env) -> None:
    now = datetime.now(UTC)
    cb = await _request(env, now - timedelta(minutes=1), now + timedelta(hours=1))
    mina = await staff(env.runner, "mina")
    await set_counselor_phone(env.deps, mina.id, COUNSELOR_PHONE)
    await presence(mina, "available")
    cid = await mina.take_next()
    jun = await staff(env.runner, "jun")
    assert (await jun.post(f"/api/v1/cases/{cid}/callback/call")).status == 404
    async with env.deps.engine.begin() as conn:
        await store.update_callback(conn, cb.id, now, window_start=now + timedelta(hours=5),
                                    window_end=now + timedelta(hours=6))
    resp = await mina.post(f"/api/v1/cases/{cid}/callback/call")
    assert resp.status == 409
    assert "window" in (await resp.json())["error"]
    assert env.standin.of("call_create") == []


async def test_rest_failure_placing_the_call_is_shown_and_can_be_retried(env: Env) -> None:
    now = datetime.now(UTC)
    await _request(env, now - timedelta(minutes=1), now + timedelta(hours=1))
    mina = await staff(env.runner, "mina")
    await set_counselor_phone(env.deps, mina.id, COUNSELOR_PHONE)
    await presence(mina, "available")
    cid = await mina.take_next()
    env.standin.errors = [(503, 20503)]
    assert (await mina.post(f"/api/v1/cases/{cid}/callback/call")).status == 502
    assert (await mina.post(f"/api/v1/cases/{cid}/callback/call")).status == 201


async def test_window_passing_unserved_ends_case_and_alerts_leads(env: Env) -> None:
    # No routing passes: its coverage alert would be the case's one open lead alert.
    await hold_jobs(env.deps, "router")
    now = datetime.now(UTC)
    cb = await _request(env, now - timedelta(minutes=1), now + timedelta(minutes=30))
    async with env.deps.engine.connect() as conn:
        row = await store.callback_get(conn, cb.id)
    assert row is not None and row.conversation_id
    case_id = row.conversation_id
    await callback.open_due(env.deps, now + timedelta(minutes=31))
    async with env.deps.engine.connect() as conn:
        row = await store.callback_get(conn, cb.id)
        conv = await convs.get(conn, case_id)
        [rec] = (await conn.execute(select(intake_records))).all()
    assert row is not None and row.status == "expired"
    assert conv is not None and conv.status == Status.CLOSED and rec.outcome == "disconnected"
    assert [a for a in await alert_rows(env.runner) if a["reasons"] == "callback_missed"]


async def test_counselor_records_a_request_for_a_web_chat_victim(env: Env) -> None:
    _v, chat_cid = await victim(env.runner, "can you call me instead? it is safer")
    mina = await staff(env.runner, "mina")
    await presence(mina, "available")
    assert await mina.take_next() == chat_cid
    body: dict[str, Any] = {"conversation_id": chat_cid, "number": VICTIM, "window": "2",
                            "leave_message": False, "client_id": "abcdef0123"}
    resp = await mina.post("/api/v1/callbacks", body)
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    again = await (await mina.post("/api/v1/callbacks", body)).json()
    assert again["id"] == made["id"]  # idempotent per client id
    bad = await mina.post("/api/v1/callbacks", {**body, "number": "010-1234", "client_id":
                                                 "abcdef0124"})
    assert bad.status == 400
    other = await staff(env.runner, "jun")
    assert (await other.post("/api/v1/callbacks", {**body, "client_id": "zzzzzz0000"})
            ).status == 404


# --- the web chat's call-back form ---------------------------------------------------------


async def _chat_callback(v: Victim, **body: Any) -> tuple[int, dict[str, Any]]:
    payload = {"number": "010-3333-4444", "window": "2", "leave_message": False,
               "client_id": "cb-" + secrets.token_hex(6), "language": "en", **body}
    resp = await v.client.post("/chat/api/callback", headers={"X-CSRF-Token": v.csrf},
                               json=payload)
    data: dict[str, Any] = await resp.json()
    return resp.status, data


async def test_a_web_chat_victim_asks_for_a_call_back(env: Env) -> None:
    v = Victim(await env.runner.client())
    await v.open("en")
    page = await (await v.client.get("/chat?lang=en")).text()
    assert 'id="callback-form"' in page and "Ask us to call you" in page
    before = await row_counts(env.runner.config)
    # Bad input: a clear 400 naming the field, nothing stored.
    for bad, field in ((({"number": "call me"}), "number"), ({"window": "9"}, "window"),
                       ({"leave_message": "yes"}, "leave_message"), ({"client_id": "x"},
                                                                     "client_id")):
        status, data = await _chat_callback(v, **bad)
        assert status == 400 and data["error"].startswith(field + ":"), (bad, data)
    resp = await v.client.post("/chat/api/callback", json={"number": "010-3333-4444"})
    assert resp.status == 403
    assert await row_counts(env.runner.config) == before

    status, data = await _chat_callback(v, client_id="cb-first-try", leave_message=False)
    assert status == 201, data
    assert "We will not leave a message" in data["text"]
    # A retry of the same request (same client id) records nothing new.
    status, again = await _chat_callback(v, client_id="cb-first-try", leave_message=False)
    assert status == 201 and again["window_start"] == data["window_start"]
    async with env.deps.engine.connect() as conn:
        [row] = (await conn.execute(select(callbacks))).all()
        conv_row = (await conn.execute(select(conversations).where(
            conversations.c.id == row.conversation_id))).first()
    assert row.source_channel == "webchat" and row.leave_message is False
    # The local number was read as Korean (+82) and is stored sealed, never in the clear.
    # (The whole number in either form: "3333" alone turned up inside a random id, 1 run in
    # a few hundred.)
    seen = repr(tuple(row))
    assert "33334444" not in seen and "3333-4444" not in seen
    if row.contact_sealed is not None:  # its window has not opened yet
        opened = env.deps.keyring.open_text(row.contact_sealed, f"callback:{row.id}")
    else:  # the window is open: it is a voice case now, which keeps its own sealed copy
        assert row.status == "queued" and conv_row is not None
        opened = env.deps.keyring.open_text(conv_row.contact_sealed, f"contact:{conv_row.id}")
    assert opened == "+821033334444"


async def test_no_call_back_form_without_the_phone_channel(app_runner: Any) -> None:
    v = Victim(await app_runner.client())
    await v.open("en")
    page = await (await v.client.get("/chat?lang=en")).text()
    assert "callback-form" not in page
    status, data = await _chat_callback(v)
    assert status == 409 and data["error"] == "call-backs are not available"


@pytest.mark.parametrize(("leave", "answered_by", "hung_up"), [
    (False, "machine_start", True),
    (False, "fax", True),
    (False, "human", False),
    (False, "unknown", False),
    (True, "machine_end_beep", False),
])
async def test_a_voicemail_box_is_hung_up_on_unless_the_victim_allowed_a_message(
        env: Env, leave: bool, answered_by: str, hung_up: bool) -> None:
    """Answering-machine detection screens the victim's leg before it is connected: no
    voicemail unless chosen. A machine we hung up on counts as not reached."""
    now = datetime.now(UTC)
    await _request(env, now - timedelta(minutes=1), now + timedelta(hours=1), leave=leave)
    mina = await staff(env.runner, "mina")
    await set_counselor_phone(env.deps, mina.id, COUNSELOR_PHONE)
    await presence(mina, "available")
    cid = await mina.take_next()
    assert (await mina.post(f"/api/v1/cases/{cid}/callback/call")).status == 201
    [create] = env.standin.of("call_create")
    number = ET.fromstring(create.form["Twiml"]).find("Dial/Number")
    assert number is not None and number.text == VICTIM
    assert number.get("machineDetection") == "Enable"
    assert number.get("url") == PUBLIC_URL + "/webhooks/twilio/voice/callback/screen"

    screen = await env.hooks.twiml("/webhooks/twilio/voice/callback/screen", call_params(
        "CA" + secrets.token_hex(16), VICTIM, ParentCallSid=create.call_sid,
        AnsweredBy=answered_by))
    assert [el.tag for el in screen] == (["Hangup"] if hung_up else [])
    dial = await env.hooks.twiml("/webhooks/twilio/voice/callback/dial", call_params(
        create.call_sid, COUNSELOR_PHONE, DialCallStatus="completed"))
    final = await (await mina.client.get(f"/api/v1/cases/{cid}/callback")).json()
    assert final["status"] == ("unanswered" if hung_up else "done")
    said = [el.text for el in dial.iter("Say")]
    lang = env.deps.config.languages.default
    assert said == ([Prompts().render(lang, "voice_callback_unanswered", machine=True)]
                    if hung_up else [])


async def test_a_forged_screen_request_is_refused(env: Env) -> None:
    r = await env.hooks.post("/webhooks/twilio/voice/callback/screen", call_params(
        "CA" + secrets.token_hex(16), VICTIM, ParentCallSid="CA" + "0" * 32,
        AnsweredBy="machine_start"), signature="forged")
    assert r.status == 403


async def test_an_unreadable_number_ends_its_request_and_blocks_no_other(env: Env) -> None:
    now = datetime.now(UTC)
    bad = await _request(env, now + timedelta(hours=2), now + timedelta(hours=3))
    good = await _request(env, now + timedelta(hours=2), now + timedelta(hours=3))
    # Damaged (or sealed under another key): no key opens it.
    async with env.deps.engine.begin() as conn:
        await conn.execute(callbacks.update().where(callbacks.c.id == bad.id)
                           .values(contact_sealed=b"\0" * 40))
    assert await callback.open_due(env.deps, now + timedelta(hours=2, seconds=1)) == 1
    async with env.deps.engine.connect() as conn:
        bad_row = await store.callback_get(conn, bad.id)
        good_row = await store.callback_get(conn, good.id)
    assert bad_row is not None and bad_row.status == "expired"
    assert bad_row.contact_sealed is None
    assert good_row is not None and good_row.status == "queued"
