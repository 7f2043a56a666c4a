"""Call-back requests over the real app (SQLite and PostgreSQL): a request waits until its
window opens, becomes a voice case of its own in the queue (reason "callback"), and the
counselor who takes it places the call from the console through the REST client (to the
stand-in), only inside the window; a window that passes unserved ends as not reached."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from hotline.domain.conversation import Channel, Status
from hotline.services import callback
from hotline.stores.sql import conversations as convs
from hotline.stores.sql import twilio as store
from hotline.stores.sql.tables import intake_records
from tests.floor import alert_rows, hold_jobs, presence, staff, victim
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
