"""Flood limits and bans on SMS and the phone line, over the real app with the Twilio channels
on (signed webhooks, both databases, real Redis): an SMS sender flooding one conversation has
every message stored but automatic replies only within the limit, then the calm answer once;
a number that calls, hangs up and calls again has its cases queued and escalated only within
its limits, then hears the calm answer with nothing queued; a banned sender or caller gets the
calm answer and nothing of theirs is stored or reaches staff."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, func, select

from hotline.cases import conversations as convs
from hotline.cases.tables import conversations, messages
from hotline.channels.twilio.tables import sms_optouts, voice_calls
from hotline.domain.conversation import Channel
from hotline.domain.staff import Role
from hotline.prompts import Prompts
from tests.flood_support import Refill
from tests.floor import alert_rows, audit, staff, stream_events
from tests.twilio_support import Env, call_params, env, new_sid, says, standin

__all__ = ["env", "standin"]  # fixtures

P = Prompts()
VICTIM = "+821012340077"
CALLER = "+821055550077"
V = "/webhooks/twilio/voice"
# What a victim's contact announces to the consoles.
CONTACT_EVENTS = ("queued", "message", "urgency")


def texts(root: ET.Element) -> list[str]:
    return [m.text or "" for m in root.iter("Message")]


async def _count(env: Env, table: Table, **where: object) -> int:
    q = select(func.count()).select_from(table)
    for col, value in where.items():
        q = q.where(table.c[col] == value)
    async with env.deps.engine.connect() as conn:
        return int((await conn.execute(q)).scalar_one())


async def _case(env: Env, channel: Channel, address: str) -> convs.ConversationRow:
    pseudonym = env.deps.keyring.pseudonymize(channel.value, address)
    async with env.deps.engine.connect() as conn:
        conv = await convs.latest_for(conn, channel, pseudonym)
    assert conv is not None
    return conv


async def _ban_case(env: Env, cid: str) -> None:
    lead = await staff(env.runner, "lena", Role.LEAD)
    resp = await lead.post("/api/v1/bans", {
        "case": cid, "reason": "abuse_of_staff",
        "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()})
    assert resp.status == 201, await resp.text()


async def test_sms_flood_in_one_conversation_is_stored_with_replies_within_the_limit(
        env: Env) -> None:
    limits = env.deps.config.limits
    assert texts(await env.hooks.sms(VICTIM, "hello, I need help"))  # welcome
    assert texts(await env.hooks.sms(VICTIM, "I want to talk to someone"))  # the wait
    # Asking for a call-back and cancelling it, again and again: a reply each time.
    refill = Refill()
    replies: list[str] = []
    for i in range(40):
        replies += texts(await env.hooks.sms(VICTIM, "CALL"))
        replies += texts(await env.hooks.sms(VICTIM, f"never mind {i}"))
    calm = P.render("en", "flood_calm")
    assert replies.count(calm) == 1
    # The burst, the calm answer, and what refilled while the flood ran.
    assert limits.sender_replies_burst + 1 <= len(replies) \
        <= limits.sender_replies_burst + 1 + refill.tokens(limits.sender_replies_per_hour)
    conv = await _case(env, Channel.SMS, VICTIM)
    assert await _count(env, messages, conversation_id=conv.id, direction="in") == 82


async def test_a_banned_sms_sender_gets_the_calm_answer_and_nothing_is_stored(
        env: Env) -> None:
    await env.hooks.sms(VICTIM, "hello")
    conv = await _case(env, Channel.SMS, VICTIM)
    await _ban_case(env, conv.id)
    before, events = await _count(env, messages), len(await stream_events(env.runner))
    first = texts(await env.hooks.sms(VICTIM, "answer me now"))
    assert first == [P.render("en", "flood_calm")]
    assert texts(await env.hooks.sms(VICTIM, "answer me now!!")) == []  # once, not each time
    assert await _count(env, messages) == before
    # Nothing of what a contact announces (the router's own alerts about the waiting case,
    # nobody being on shift, may come and go meanwhile).
    assert [e for e in (await stream_events(env.runner))[events:]
            if e.get("conversation") == conv.id and e["type"] in CONTACT_EVENTS] == []
    # STOP still stops our messages (a sender may always do that), still storing nothing.
    assert texts(await env.hooks.sms(VICTIM, "STOP")) == []
    assert await _count(env, sms_optouts) == 1
    assert await _count(env, messages) == before


async def _call(env: Env, digit: str, sender: str = CALLER) -> tuple[str, ET.Element]:
    sid = new_sid("CA")
    await env.hooks.twiml(V, call_params(sid, sender))
    await env.hooks.twiml(f"{V}/language", call_params(sid, sender, Digits="2"))
    return sid, await env.hooks.twiml(f"{V}/menu", call_params(sid, sender, Digits=digit))


async def test_a_caller_who_calls_again_and_again_is_held_past_the_limit(env: Env) -> None:
    limits = env.deps.config.limits
    calls = limits.sender_cases_per_hour + 2
    answers = []
    for _ in range(calls):
        # "1": images are being shared now (urgent, pages takedown staff); then hangs up.
        sid, menu = await _call(env, "1")
        answers.append(menu)
        if [el.tag for el in menu][-1] == "Enqueue":
            await env.hooks.twiml(f"{V}/dequeued", call_params(sid, CALLER,
                                                               QueueResult="hangup"))
    queued = [a for a in answers if [el.tag for el in a][-1] == "Enqueue"]
    ended = [a for a in answers if [el.tag for el in a] == ["Say", "Hangup"]]
    assert len(queued) == limits.sender_cases_per_hour and len(ended) == 2
    assert all(says(a)[0].text == P.render("en", "voice_flood_calm") for a in ended)
    # Every call kept (its case closed), only the allowed ones ever queued; the urgent menu
    # choice paged takedown staff only within the caller's escalation limit.
    assert await _count(env, conversations) == calls
    assert len(await stream_events(env.runner, "queued")) == limits.sender_cases_per_hour
    assert len(await audit(env.runner, "case.held")) == 2
    assert len([a for a in await alert_rows(env.runner) if a["kind"] == "takedown"]) \
        == limits.sender_escalations_burst


async def test_a_banned_caller_hears_the_calm_answer_and_nothing_is_recorded(
        env: Env) -> None:
    await _call(env, "")
    conv = await _case(env, Channel.VOICE, CALLER)
    await _ban_case(env, conv.id)
    calls, cases = await _count(env, voice_calls), await _count(env, conversations)
    root = await env.hooks.twiml(V, call_params(new_sid("CA"), CALLER))
    assert [el.tag for el in root] == ["Say", "Hangup"]
    assert says(root)[0].text == P.render("ko", "voice_flood_calm")
    assert (await _count(env, voice_calls), await _count(env, conversations)) == (calls, cases)
    # Another number is answered as usual.
    _sid, menu = await _call(env, "", sender="+821055550078")
    assert [el.tag for el in menu][-1] == "Enqueue"
