"""SMS through Twilio: POST /webhooks/twilio/sms (inbound) and /webhooks/twilio/sms/status.

Inbound: signature checked (twilio_common), then STOP/START, then the inbox stores the message
durably (idempotent per MessageSid) before Twilio is answered (the victim's case and erasure
commands and MMS pictures: sms_case.py). A new conversation gets three short numbered
intake questions, one per reply, each skippable with 0; the answers re-triage the case
(urgency.set_answers). Free text instead of a number ends the questions: the victim wants
to talk. "CALL" ("전화") asks for a call-back at a safe time when the phone channel is on. The
dialogue's moves are one pure function (sms_flow.plan); this module does what they call for.

Outbound: counselor replies go through the outbox to `SmsSender`, which splits long replies
into messages of at most `twilio.sms_max_segments` segments (Korean is UCS-2: 70 characters in
one segment, 67 per segment when split), remembers which parts Twilio accepted so a retry
never repeats them, and sends nothing to a sender who replied STOP. Status callbacks mark the
reply delivered or failed. Automatic replies go back in the webhook's TwiML. See docs/twilio.md.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from twilio.base.exceptions import TwilioException

from hotline.audit import log as audit
from hotline.callbacks import service as callback
from hotline.cases import conversations as convs
from hotline.cases import inbox, urgency, waitinfo
from hotline.cases.senders import Outgoing, SendResult
from hotline.channels.twilio import sms_case, sms_status, sms_text, store
from hotline.channels.twilio import sms_flow as flow
from hotline.channels.twilio.common import (
    MESSAGE_SID,
    TWILIO,
    Runtime,
    add_runtime_ctx,
    field_str,
    rest_error,
    runtime,
    verified_form,
)
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Inbound, Status, Stored
from hotline.domain.event_types import EventType
from hotline.limits import flood
from hotline.prompts import Prompts
from hotline.victim import victimcase
from hotline.web.appkeys import DEPS, PROMPTS
from hotline.web.middleware import json_error

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

SENDER = re.compile(r"^\+?[0-9]{3,15}$")
# The prompt asking each step of the dialogue (sms_flow).
_ASK = {"spreading": "sms_q_spreading", "age": "sms_q_age", "safe": "sms_q_safe",
        flow.CB_WINDOW: "sms_callback_window", flow.CB_MESSAGE: "sms_callback_message"}
# Twilio error codes after which retrying cannot help: unsubscribed, invalid or unreachable
# numbers, a number that cannot receive SMS.
_PERMANENT = {21211, 21612, 21614, 21408, 21606, 21610, 30003, 30005, 30006}
OPTED_OUT = 21610


def setup(app: web.Application) -> None:
    """Add the SMS webhooks and, when Twilio is configured, the SMS sender."""
    add_runtime_ctx(app)
    app.router.add_routes(routes)
    app.router.add_routes(sms_status.routes)
    app.cleanup_ctx.append(_sender_ctx)


async def _sender_ctx(app: web.Application) -> AsyncIterator[None]:
    rt = app.get(TWILIO)
    if rt is not None and rt.config.phone_number:
        app[DEPS].outbox.register(Channel.SMS, SmsSender(app[DEPS], rt))
    yield


class SmsSender:
    """Sends counselor replies as SMS (the outbox retries what fails)."""

    def __init__(self, deps: Deps, rt: Runtime) -> None:
        self.deps = deps
        self.rt = rt

    async def send(self, out: Outgoing) -> SendResult:
        pseudonym = self.deps.keyring.pseudonymize(Channel.SMS.value, out.address)
        async with self.deps.engine.connect() as conn:
            if await store.is_opted_out(conn, pseudonym):
                return SendResult(False, permanent=True, error="opted_out")
            done = await store.sent_parts(conn, out.conversation_id, out.seq)
        parts = sms_text.split_message(out.text, self.rt.config.sms_max_segments)
        for i, body in enumerate(parts):
            if i in done:
                continue  # accepted by Twilio on an earlier try: never send it twice
            try:
                msg = await self.rt.rest(self.rt.client.messages.create_async(
                    to=out.address, from_=self.rt.config.phone_number, body=body,
                    status_callback=self.rt.url(sms_status.STATUS_PATH)))
            except TimeoutError:
                return SendResult(False, error="timeout")
            except TwilioException as e:
                return await self._refused(e, pseudonym)
            except (aiohttp.ClientError, OSError):
                return SendResult(False, error="network")
            sid = str(msg.sid)
            async with self.deps.engine.begin() as conn:
                await store.add_part(conn, message_sid=sid, conversation_id=out.conversation_id,
                                     seq=out.seq, part=i, parts=len(parts),
                                     at=datetime.now(UTC))
            done[i] = sid
            await sms_status.apply_early(self.deps, sid)
        return SendResult(True, provider_ref=done[0])

    async def _refused(self, e: TwilioException, pseudonym: str) -> SendResult:
        status, code = rest_error(e)
        if code == OPTED_OUT:
            # The person opted out at the carrier or through Twilio: remember it here too.
            async with self.deps.engine.begin() as conn:
                await store.opt_out(conn, pseudonym, datetime.now(UTC))
            return SendResult(False, permanent=True, error="opted_out")
        permanent = code in _PERMANENT or (400 <= status < 500 and status not in
                                           (401, 403, 408, 429))
        return SendResult(False, permanent=permanent,
                                 error=f"twilio_{code or status}"[:64])


@routes.post("/webhooks/twilio/sms")
async def inbound(request: web.Request) -> web.Response:
    """One inbound SMS: stored before Twilio is answered; the TwiML reply is the next step."""
    form = await verified_form(request)
    rt = runtime(request)
    sid = field_str(form, "MessageSid", MESSAGE_SID, max_len=34)
    sender = field_str(form, "From", SENDER, max_len=16)
    body = field_str(form, "Body", required=False)
    deps = request.app[DEPS]
    prompts = request.app[PROMPTS]
    media = sms_case.pictures(form)
    if not body.strip() and not media:
        log.info("sms without text ignored")
        return reply_twiml(None)
    body = body if body.strip() else "[photo]"
    now = datetime.now(UTC)
    pseudonym = deps.keyring.pseudonymize(Channel.SMS.value, sender)
    langs = deps.config.languages
    # The inbox uses the language only to open a conversation; replies use the case's own.
    msg = Inbound(channel=Channel.SMS, address=sender, text=body, provider_id=sid,
                  language=sms_text.language_of(body, langs.default, langs.supported),
                  received_at=now, keep_contact=True)
    # Keywords are rare: only they pay for extra reads before the message is stored.
    folded = sms_text.keyword(body)  # once: every rule below reads the folded form
    banned = flood.banned(deps, sender=pseudonym)
    cmd = sms_case.parse(folded)
    text: str | None
    if cmd is not None and cmd.kind == "confirm" \
            and not await sms_case.pending_erasure(deps, pseudonym):
        cmd = None  # "erase" with nothing to confirm: words to a counselor
    if cmd is not None and (cmd.kind in ("forget", "confirm") or not banned):
        # Erasure works for everyone, a banned sender too; the rest counts as replies.
        lang = sms_case.reply_language(body, langs.default, langs.supported)
        text = await sms_case.answer(deps, prompts, msg, pseudonym, cmd, lang)
        if cmd.kind not in ("forget", "confirm"):
            text = await _limited(deps, prompts, pseudonym, lang, text)
    elif banned:
        text = await _refused(deps, prompts, msg, pseudonym, folded)
    elif folded in sms_text.STOP_WORDS or (folded in sms_text.START_WORDS
                                          and await _opted(deps, pseudonym)):
        text = await _keyword(deps, prompts, msg, pseudonym, folded)
    else:
        case: store.SmsCase | None = None
        step: flow.Plan | None = None

        def decide(found: store.SmsCase | None, stored: Stored) -> tuple[str, str | None] | None:
            # In the inbox's transaction (store.intake_in_tx: a new conversation starts its
            # intake questions there, and the state read there is `found`): the dialogue's
            # next step, written in the same transaction.
            nonlocal case, step
            case = found
            if found is None or found.opted_out:
                return None
            step = flow.plan(found.step, found.pending, found.status == Status.WAITING.value,
                             folded, voice_on=rt.voice_on,
                             new_conversation=stored.new_conversation,
                             duplicate=stored.duplicate)
            return step.move_to

        in_tx = store.intake_in_tx(pseudonym, flow.QUESTIONS[0], now, decide)
        try:
            stored = await inbox.receive(deps, msg, in_tx=in_tx, pseudonym=pseudonym,
                                         reads=store.sms_reads,
                                         claim=deps.keys.case_return(pseudonym))
        except inbox.MessageTooLong:
            raise json_error(400, "Body: too long") from None
        if stored.new_conversation:
            await victimcase.claim_return(deps, msg, stored.conversation_id, lambda n: (
                prompts.render(msg.language, "victim/marker_return", number=n)), stored)
        fingerprinted = [] if stored.duplicate else [
            m for m in media if await sms_case.fingerprint_mms(
                deps, rt, sid, m[0], m[1], stored.conversation_id, stored.seq)]
        # After STOP nothing is sent, not even our automatic replies, until START.
        text = None
        if case is None or step is None:
            pass
        elif stored.held:
            text = prompts.render(case.language, "flood_calm") if stored.calm_due else None
        else:
            text = await _respond(deps, rt, prompts, stored.conversation_id, msg,
                                  case.language, step)
            if text and case.step not in flow.QUESTIONS:
                # The intake's replies are a few per case (and cases are limited); what may
                # go on without end (the call-back dialogue, again and again) is counted.
                text = await _limited(deps, prompts, pseudonym, case.language, text)
        if fingerprinted and case is not None and not case.opted_out and not stored.held:
            note = prompts.render(case.language, "victim/sms_mms_received")
            text = f"{text}\n{note}" if text else note
    return reply_twiml(text)


async def _limited(deps: Deps, prompts: Prompts, pseudonym: str, lang: str, text: str
                   ) -> str | None:
    """An automatic reply within the sender's flood limit; past it the calm answer, once."""
    verdict = await flood.reply(deps, pseudonym)
    if verdict.allowed:
        return text
    return prompts.render(lang, "flood_calm") if verdict.first_refusal else None


async def _refused(deps: Deps, prompts: Prompts, msg: Inbound, pseudonym: str, folded: str
                   ) -> str | None:
    """A banned sender: nothing stored, nothing reaches staff. STOP and START still count (a
    sender may always stop our messages); anything else gets the calm answer, now and then."""
    if folded in sms_text.STOP_WORDS or folded in sms_text.START_WORDS:
        return await _keyword(deps, prompts, msg, pseudonym, folded, keep=False)
    if await _opted(deps, pseudonym) or not await flood.ban_notice(deps, pseudonym):
        return None
    return prompts.render(msg.language, "flood_calm")


_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def reply_twiml(text: str | None) -> web.Response:
    """The webhook's answer: one SMS back, or none. The same document twilio's
    MessagingResponse writes, without building an element tree for every message."""
    if not text:
        return web.Response(text=_EMPTY_TWIML, content_type="application/xml")
    return web.Response(text='<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
                        f"{escape(text)}</Message></Response>", content_type="application/xml")


async def _opted(deps: Deps, pseudonym: str) -> bool:
    async with deps.engine.connect() as conn:
        return await store.is_opted_out(conn, pseudonym)


async def _keyword(deps: Deps, prompts: Prompts, msg: Inbound, pseudonym: str, folded: str,
                   keep: bool = True) -> str | None:
    """STOP or START: recorded once per sender; the word joins an open conversation's
    transcript (it is what the victim wrote; not with `keep` off) but never opens one."""
    stop = folded in sms_text.STOP_WORDS
    async with deps.engine.begin() as conn:
        changed = (await store.opt_out(conn, pseudonym, msg.received_at) if stop
                   else await store.opt_in(conn, pseudonym))
        if changed:
            await audit.record(conn, at=msg.received_at, actor_id=None,
                               action="sms.opted_out" if stop else "sms.opted_in",
                               target_kind="sender", target_id=pseudonym)
        has_open = await convs.find_open(conn, Channel.SMS, pseudonym) is not None
    if has_open and keep:
        stored = await inbox.receive(deps, msg)
        if changed:
            await deps.publish({"type": EventType.SMS_OPTOUT if stop else EventType.SMS_OPTIN,
                                "conversation": stored.conversation_id})
    # Twilio itself confirms its standard English keywords; it does not know the Korean ones.
    if folded.isascii():
        return None
    return prompts.render("ko", "sms_stopped" if stop else "sms_started")


async def _wait_text(deps: Deps, rt: Runtime, prompts: Prompts, cid: str, lang: str) -> str:
    info = await waitinfo.wait_info(deps, cid)
    if info is None:
        return ""
    text = prompts.render(lang, "wait_status", **info.prompt_values(callback=rt.voice_on))
    if rt.voice_on:
        text += " " + prompts.render(lang, "sms_callback_hint")
    return text


async def _respond(deps: Deps, rt: Runtime, prompts: Prompts, cid: str, msg: Inbound,
                   lang: str, step: flow.Plan) -> str | None:
    """What the dialogue's plan leaves for after the commit, and the automatic reply."""
    if step.answer is not None:
        await _answer(deps, cid, *step.answer)
    if step.reply == flow.Reply.WELCOME:
        return prompts.render(lang, "sms_welcome") + "\n" + prompts.render(
            lang, _ASK[flow.QUESTIONS[0]])
    if step.reply == flow.Reply.ASK:
        assert step.ask is not None
        return prompts.render(lang, _ASK[step.ask])
    if step.reply == flow.Reply.WAIT:
        return await _wait_text(deps, rt, prompts, cid, lang)
    if step.reply == flow.Reply.CALLBACK_CANCELLED:
        return prompts.render(lang, "sms_callback_cancelled")
    if step.reply == flow.Reply.CALLBACK_CONFIRMED:
        assert step.callback is not None
        choice, leave_message = step.callback
        now = msg.received_at
        tz = ZoneInfo(deps.config.roster.timezone)
        window = callback.window_for(choice, now, tz) or callback.window_for("1", now, tz)
        assert window is not None
        await callback.request(deps, number=msg.address, language=lang, start=window[0],
                               end=window[1], leave_message=leave_message,
                               source_channel=Channel.SMS,
                               source_key=f"sms:{msg.provider_id}")
        await store.move_intake(deps.engine, cid, flow.DONE, None, now)
        return prompts.render(lang, "sms_callback_confirmed", leave_message=leave_message,
                              **callback.confirmation(window[0], window[1], now, tz))
    return None


async def _answer(deps: Deps, cid: str, step: str, digit: str) -> None:
    """Record one intake answer (0 or an unknown digit skips) and re-triage the case."""
    with contextlib.suppress(LookupError):  # closed meanwhile: the answer changes nothing
        await urgency.set_answer(deps, cid, flow.FIELD[step], flow.ANSWERS[step].get(digit))
