"""SMS through Twilio over the real app (SQLite and PostgreSQL): intake as numbered replies,
duplicates, counselor replies through the real twilio client to a stand-in REST server, status
callbacks, retries and timeouts, long Korean replies, STOP/START, call-back requests by SMS."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from hotline.callbacks.tables import callbacks
from hotline.cases import conversations as convs
from hotline.cases.tables import messages
from hotline.channels.twilio import store
from hotline.channels.twilio.tables import sms_optouts, sms_parts
from hotline.domain.conversation import Channel
from hotline.prompts import Prompts
from tests.conftest import wait_for
from tests.floor import presence, staff, stream_events
from tests.twilio_support import (
    OUR_NUMBER,
    PUBLIC_URL,
    Env,
    closed_window,
    env,
    new_sid,
    sms_params,
    standin,
)

__all__ = ["env", "standin"]  # fixtures

VICTIM = "+821012340001"
P = Prompts()


def texts(root: Any) -> list[str]:
    return [m.text or "" for m in root.iter("Message")]


async def conversation(env: Env, sender: str = VICTIM) -> convs.ConversationRow:
    deps = env.deps
    async with deps.engine.connect() as conn:
        row = await convs.find_open(conn, Channel.SMS,
                                    deps.keyring.pseudonymize(Channel.SMS.value, sender))
    assert row is not None
    return row


async def delivery_of(env: Env, cid: str, seq: int) -> tuple[str, str | None]:
    async with env.deps.engine.connect() as conn:
        row = (await conn.execute(select(messages.c.delivery, messages.c.last_error).where(
            (messages.c.conversation_id == cid) & (messages.c.seq == seq)))).one()
    return row[0], row[1]


async def test_intake_by_numbered_replies_raises_urgency(env: Env) -> None:
    first = await env.hooks.sms(VICTIM, "누가 제 사진을 합성해서 올렸어요")
    assert texts(first) == [P.render("ko", "sms_welcome") + "\n"
                            + P.render("ko", "sms_q_spreading")]
    conv = await conversation(env)
    assert conv.language == "ko" and conv.has_contact
    # 1 = yes, images are being shared now: critical, and takedown staff are alerted.
    assert texts(await env.hooks.sms(VICTIM, "1")) == [P.render("ko", "sms_q_age")]
    assert (await conversation(env)).urgency.value == "critical"
    assert "content_spreading" in (await conversation(env)).reasons
    assert [e for e in await stream_events(env.runner, "alert")
            if e.get("conversation") == conv.id]
    # Full-width digits count; 3 = 18 or older.
    assert texts(await env.hooks.sms(VICTIM, "\uff13")) == [P.render("ko", "sms_q_safe")]
    last = texts(await env.hooks.sms(VICTIM, "2"))
    assert len(last) == 1 and "1번째" in last[0]  # the wait: first in line
    assert P.render("ko", "sms_callback_hint") in last[0]
    async with env.deps.engine.connect() as conn:
        assert await store.intake_state(conn, conv.id) == ("done", None)
    # After the questions, messages get no automatic reply: a counselor answers.
    assert texts(await env.hooks.sms(VICTIM, "언제 연락 주시나요?")) == []
    async with env.deps.engine.connect() as conn:
        n = (await conn.execute(select(func.count()).select_from(messages).where(
            messages.c.conversation_id == conv.id))).scalar_one()
    assert n == 5


async def test_free_text_ends_the_questions_and_skips_count(env: Env) -> None:
    await env.hooks.sms(VICTIM, "hello, someone is threatening me")
    assert texts(await env.hooks.sms(VICTIM, "skip")) == [P.render("en", "sms_q_age")]
    reply = texts(await env.hooks.sms(VICTIM, "he said pay me or i will post the video"))
    # Nobody is on duty in this test: the honest "no counselor right now", with the place.
    assert len(reply) == 1 and "in line (1)" in reply[0]
    conv = await conversation(env)
    assert conv.urgency.value == "high" and "sextortion" in conv.reasons


async def test_duplicate_webhook_has_one_effect(env: Env) -> None:
    await env.hooks.sms(VICTIM, "hello")
    params = sms_params(VICTIM, "1", sid=new_sid("SM"))
    first = texts(await env.hooks.twiml("/webhooks/twilio/sms", params))
    again = texts(await env.hooks.twiml("/webhooks/twilio/sms", params))
    assert first == again == [P.render("en", "sms_q_age")]
    conv = await conversation(env)
    async with env.deps.engine.connect() as conn:
        assert await store.intake_state(conn, conv.id) == ("age", None)
        n = (await conn.execute(select(func.count()).select_from(messages))).scalar_one()
    assert n == 2


async def _counselor_with_case(env: Env, sender: str = VICTIM) -> tuple[Any, str]:
    mina = await staff(env.runner, "mina")
    await presence(mina, "available")
    cid = await mina.take_next()
    assert cid == (await conversation(env, sender)).id
    return mina, cid


async def test_reply_goes_out_and_status_callbacks_update_it(env: Env) -> None:
    await env.hooks.sms(VICTIM, "hello")
    mina, cid = await _counselor_with_case(env)
    resp = await mina.reply(cid, "We are here. Can you tell me where it was posted?")
    seq = (await resp.json())["seq"]

    async def sent() -> bool:
        return (await delivery_of(env, cid, seq))[0] == "sent"
    await wait_for(sent)
    [out] = env.standin.of("message")
    assert out.form["To"] == VICTIM and out.form["From"] == OUR_NUMBER
    assert out.form["Body"] == "We are here. Can you tell me where it was posted?"
    assert out.form["StatusCallback"] == PUBLIC_URL + "/webhooks/twilio/sms/status"
    assert env.standin.bad_auth == 0
    async with env.deps.engine.connect() as conn:
        [part] = (await conn.execute(select(sms_parts))).all()
    status = {"MessageSid": part.message_sid, "AccountSid": out.path.split("/")[3],
              "MessageStatus": "delivered", "To": VICTIM, "From": OUR_NUMBER}
    r = await env.hooks.post("/webhooks/twilio/sms/status", status)
    assert r.status == 204
    assert await delivery_of(env, cid, seq) == ("delivered", None)
    # A repeated callback announces nothing new.
    before = len(await stream_events(env.runner, "delivery"))
    assert (await env.hooks.post("/webhooks/twilio/sms/status", status)).status == 204
    assert len(await stream_events(env.runner, "delivery")) == before
    # A later "undelivered" (carrier gave up) is shown to the counselor as failed.
    bad = {**status, "MessageStatus": "undelivered", "ErrorCode": "30005"}
    assert (await env.hooks.post("/webhooks/twilio/sms/status", bad)).status == 204
    assert await delivery_of(env, cid, seq) == ("failed", "twilio_30005")
    case = await mina.case(cid)
    assert case["messages"][-1]["delivery"] == "failed"


async def test_a_delivery_report_that_beats_the_create_reply_is_not_lost(env: Env) -> None:
    """Twilio may call the status URL before create() has returned to us (so before the part
    is stored); that report is kept and applied once the part is stored. An older state
    arriving later ("sent" after "delivered") never overwrites a newer one."""
    await env.hooks.sms(VICTIM, "hello")
    mina, cid = await _counselor_with_case(env)

    async def report_first(sid: str) -> None:
        r = await env.hooks.post("/webhooks/twilio/sms/status", {
            "MessageSid": sid, "MessageStatus": "delivered", "To": VICTIM, "From": OUR_NUMBER})
        assert r.status == 204
    env.standin.before_reply = report_first
    seq = (await (await mina.reply(cid, "We are here.")).json())["seq"]

    async def delivered() -> bool:
        return (await delivery_of(env, cid, seq))[0] == "delivered"
    await wait_for(delivered)
    async with env.deps.engine.connect() as conn:
        [part] = (await conn.execute(select(sms_parts))).all()
    assert part.status == "delivered"
    late = {"MessageSid": part.message_sid, "MessageStatus": "sent"}
    assert (await env.hooks.post("/webhooks/twilio/sms/status", late)).status == 204
    async with env.deps.engine.connect() as conn:
        [part] = (await conn.execute(select(sms_parts))).all()
    assert part.status == "delivered"
    assert await delivery_of(env, cid, seq) == ("delivered", None)


async def test_long_korean_reply_is_split_and_delivered_when_every_part_is(env: Env) -> None:
    await env.hooks.sms(VICTIM, "안녕하세요")
    mina, cid = await _counselor_with_case(env)
    text = ("삭제 요청 절차를 안내해 드리겠습니다. " * 60).strip()
    seq = (await (await mina.reply(cid, text)).json())["seq"]

    async def sent() -> bool:
        return (await delivery_of(env, cid, seq))[0] == "sent"
    await wait_for(sent)
    bodies = [r.form["Body"] for r in env.standin.of("message")]
    assert len(bodies) == 2 and "".join(bodies) == text
    assert all(len(b) <= 10 * 67 for b in bodies)
    async with env.deps.engine.connect() as conn:
        parts = (await conn.execute(select(sms_parts).order_by(sms_parts.c.part))).all()
    assert [p.part for p in parts] == [0, 1] and {p.parts for p in parts} == {2}
    for i, p in enumerate(parts):
        await env.hooks.post("/webhooks/twilio/sms/status", {
            "MessageSid": p.message_sid, "MessageStatus": "delivered"})
        expected = "delivered" if i == len(parts) - 1 else "sent"
        assert (await delivery_of(env, cid, seq))[0] == expected


async def test_rest_error_is_retried_without_repeating_accepted_parts(env: Env) -> None:
    await env.hooks.sms(VICTIM, "hello")
    mina, cid = await _counselor_with_case(env)
    text = ("We will file the takedown request with you step by step. " * 40).strip()
    # The first part goes through; the second meets a server error, and only it is retried.
    env.standin.errors = [None, (503, 20503)]
    seq = (await (await mina.reply(cid, text)).json())["seq"]

    async def sent() -> bool:
        return (await delivery_of(env, cid, seq))[0] == "sent"
    await wait_for(sent, timeout=15)
    bodies = [r.form["Body"] for r in env.standin.of("message")]
    assert len(bodies) == 2 and "".join(bodies) == text


async def test_server_error_then_success_is_visible_as_retrying(env: Env) -> None:
    await env.hooks.sms(VICTIM, "hello")
    mina, cid = await _counselor_with_case(env)
    env.standin.errors = [(500, 20500)]
    seq = (await (await mina.reply(cid, "first reply")).json())["seq"]

    async def sent() -> bool:
        return (await delivery_of(env, cid, seq))[0] == "sent"
    await wait_for(sent, timeout=15)
    states = [(e["delivery"], e["error"]) for e in await stream_events(env.runner, "delivery")
              if e["seq"] == seq]
    assert states[0] == ("retrying", "twilio_20500") and states[-1] == ("sent", None)
    assert len(env.standin.of("message")) == 1


async def test_timeout_is_retried_and_visible(env: Env) -> None:
    await env.hooks.sms(VICTIM, "hello")
    mina, cid = await _counselor_with_case(env)
    env.standin.stall = 1
    seq = (await (await mina.reply(cid, "are you still there?")).json())["seq"]

    async def sent() -> bool:
        return (await delivery_of(env, cid, seq))[0] == "sent"
    await wait_for(sent, timeout=20)
    states = [(e["delivery"], e["error"]) for e in await stream_events(env.runner, "delivery")
              if e["seq"] == seq]
    assert ("retrying", "timeout") in states and states[-1] == ("sent", None)


async def test_invalid_number_fails_at_once(env: Env) -> None:
    await env.hooks.sms(VICTIM, "hello")
    mina, cid = await _counselor_with_case(env)
    env.standin.errors = [(400, 21211)]
    seq = (await (await mina.reply(cid, "hello")).json())["seq"]

    async def failed() -> bool:
        return (await delivery_of(env, cid, seq))[0] == "failed"
    await wait_for(failed)
    assert await delivery_of(env, cid, seq) == ("failed", "twilio_21211")


async def test_stop_and_start(env: Env) -> None:
    await env.hooks.sms(VICTIM, "hello")
    mina, cid = await _counselor_with_case(env)
    # English STOP: Twilio sends its own confirmation, so our reply is empty.
    assert texts(await env.hooks.sms(VICTIM, "Stop")) == []
    async with env.deps.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(sms_optouts))
                ).scalar_one() == 1
    seq = (await (await mina.reply(cid, "are you safe?")).json())["seq"]

    async def failed() -> bool:
        return (await delivery_of(env, cid, seq))[0] == "failed"
    await wait_for(failed)
    assert await delivery_of(env, cid, seq) == ("failed", "opted_out")
    assert env.standin.of("message") == []
    # While opted out, messages are still stored (never lost) but get no automatic reply.
    assert texts(await env.hooks.sms(VICTIM, "wait")) == []
    assert texts(await env.hooks.sms(VICTIM, "START")) == []
    seq2 = (await (await mina.reply(cid, "welcome back")).json())["seq"]

    async def sent() -> bool:
        return (await delivery_of(env, cid, seq2))[0] == "sent"
    await wait_for(sent)
    assert [r.form["Body"] for r in env.standin.of("message")] == ["welcome back"]
    # Korean opt-out words get our own confirmation (Twilio does not know them).
    assert texts(await env.hooks.sms(VICTIM, "수신거부")) == [P.render("ko", "sms_stopped")]
    assert texts(await env.hooks.sms(VICTIM, "수신허용")) == [P.render("ko", "sms_started")]


async def test_stop_without_a_conversation_opens_none(env: Env) -> None:
    assert texts(await env.hooks.sms("+821077770000", "STOP")) == []
    async with env.deps.engine.connect() as conn:
        assert await convs.open_conversations(conn) == []


async def test_callback_requested_by_sms(env: Env) -> None:
    await env.hooks.sms(VICTIM, "hello")
    await env.hooks.sms(VICTIM, "0")
    await env.hooks.sms(VICTIM, "0")
    await env.hooks.sms(VICTIM, "0")
    assert texts(await env.hooks.sms(VICTIM, "CALL")) == [
        P.render("en", "sms_callback_window")]
    choice, end = closed_window(env.deps.config)
    assert texts(await env.hooks.sms(VICTIM, choice)) == [P.render("en", "sms_callback_message")]
    [confirmed] = texts(await env.hooks.sms(VICTIM, "2"))
    assert "between" in confirmed and end in confirmed
    assert "We will not leave a message." in confirmed
    async with env.deps.engine.connect() as conn:
        [row] = (await conn.execute(select(callbacks))).all()
    assert row.status == "scheduled" and row.leave_message is False
    assert row.source_channel == "sms" and VICTIM.encode() not in bytes(row.contact_sealed)


async def test_the_victim_is_told_by_sms_when_the_case_is_closed(env: Env) -> None:
    await env.hooks.sms(VICTIM, "hello")
    mina, cid = await _counselor_with_case(env)
    assert (await mina.close(cid)).status == 200

    async def notified() -> bool:
        return len(env.standin.of("message")) == 1
    await wait_for(notified)
    [out] = env.standin.of("message")
    assert out.form["To"] == VICTIM and out.form["Body"] == P.render("en", "case_closed")
    async with env.deps.engine.connect() as conn:
        rows = (await conn.execute(select(messages.c.direction, messages.c.delivery)
                                   .where(messages.c.conversation_id == cid)
                                   .order_by(messages.c.seq))).all()
    assert rows[-1].direction == "system"

    async def sent() -> bool:
        async with env.deps.engine.connect() as conn:
            d = (await conn.execute(select(messages.c.delivery).where(
                messages.c.conversation_id == cid).order_by(messages.c.seq.desc()))).first()
        return d is not None and d[0] == "sent"
    await wait_for(sent)
