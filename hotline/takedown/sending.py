"""Sending e-mail routes' requests through the configured SMTP relay (aiosmtplib).

One send at a time per request (a claim on the row, taken back after a failure or after
SEND_CLAIM_S); the request is recorded `sent` with our Message-ID and the relay's answer only
after the relay accepted it. Form and in-app routes are not sent here: staff file them with
the rendered text and record "sent" themselves. See docs/takedown.md, "Sending".
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib

from hotline.audit import log as audit
from hotline.domain.platforms import RouteKind
from hotline.domain.removal import RequestState, Step, apply_step
from hotline.domain.staff import Staff
from hotline.takedown import queries
from hotline.takedown import requests as req_svc
from hotline.takedown.config import ENV_SMTP_PASSWORD
from hotline.takedown.desk import Desk, DeskConflict

log = logging.getLogger(__name__)

# A claim older than this is a send that died with its process: it may be tried again.
SEND_CLAIM_S = 300


class SendFailed(Exception):
    """The relay could not be reached or refused the message (HTTP 502); nothing changed."""


def _message(desk: Desk, to: str, subject: str, text: str) -> EmailMessage:
    cfg = desk.config
    msg = EmailMessage()
    msg["From"] = cfg.smtp_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(desk.clock())
    msg["Message-ID"] = make_msgid(domain=cfg.smtp_from.rpartition("@")[2])
    msg.set_content(text)
    return msg


async def _relay(desk: Desk, msg: EmailMessage) -> str:
    cfg = desk.config
    security = cfg.smtp_security
    _errors, reply = await aiosmtplib.send(
        msg, hostname=cfg.smtp_host, port=cfg.smtp_port,
        username=cfg.smtp_username or None,
        password=os.environ.get(ENV_SMTP_PASSWORD) if cfg.smtp_username else None,
        use_tls=security == "tls", start_tls=security == "starttls",
        timeout=cfg.smtp_timeout_seconds)
    return reply


async def send(desk: Desk, staff: Staff, request_id: int) -> str:
    """Send a draft (or an answer to info_requested) by e-mail; its Message-ID. DeskConflict
    (409) for a route that is not e-mail, no relay, no address, no consent, a missing field
    or a send already under way; SendFailed (502) when the relay refuses."""
    now = desk.clock()
    async with desk.deps.engine.begin() as conn:
        row, item = await req_svc.load_request(desk, conn, staff, request_id, lock=True)
        _platform, route = desk.route(row.request.platform, row.request.route)
        if route.kind is not RouteKind.EMAIL:
            raise DeskConflict("not_email_route", "file this route by hand and mark it sent")
        if not desk.config.smtp_enabled:
            raise DeskConflict("smtp_off", "no SMTP relay is configured: send it yourself "
                                           "and mark it sent")
        if row.request.state not in req_svc.EDITABLE:
            raise DeskConflict("not_from_state", f"a {row.request.state.value} request is "
                                                 f"not sent again")
        composed = await req_svc.check_sendable(desk, conn, row, item)
        to = (req_svc.stored_fields(desk, row).get("address") if route.address_per_request
              else route.email)
        if not to:
            raise DeskConflict("no_address", "give the address to send this request to")
        if not await queries.claim_sending(conn, row.id, now,
                                           now - timedelta(seconds=SEND_CLAIM_S)):
            raise DeskConflict("sending", "this request is being sent")
    subject = desk.prompts.render(row.language, "takedown/email_subject",
                                  basis=row.request.legal_basis.value,
                                  reference=f"TD-{row.id}")
    msg = _message(desk, to, subject, composed.text)
    try:
        reply = await _relay(desk, msg)
    except (aiosmtplib.SMTPException, OSError) as e:
        async with desk.deps.engine.begin() as conn:
            await queries.finish_sending(conn, row.id, message_id=None, relay_reply=None)
            await audit.record(conn, at=desk.clock(), actor_id=staff.id,
                               action="takedown.send_failed", target_kind="takedown_request",
                               target_id=str(row.id), error=type(e).__name__)
        log.warning("takedown e-mail not sent", extra={"request": row.id,
                                                       "error": type(e).__name__})
        raise SendFailed(type(e).__name__) from None
    message_id = str(msg["Message-ID"])
    sent_at = desk.clock()
    async with desk.deps.engine.begin() as conn:
        row, item = await req_svc.load_request(desk, conn, staff, request_id, lock=True)
        await queries.finish_sending(conn, row.id, message_id=message_id,
                                     relay_reply=reply[:255])
        after = apply_step(row.request, Step.SENT, sent_at, sent_at)
        await req_svc.save_step(desk, conn, staff.id, row, after, via="smtp")
        await audit.record(conn, at=sent_at, actor_id=staff.id, action="takedown.emailed",
                           target_kind="takedown_request", target_id=str(row.id),
                           message_id=message_id, route=route.code)
        await req_svc.after_sent(desk, conn, staff.id, row, composed.text, sent_at)
    await desk.changed(item.id, row.id, RequestState.SENT.value)
    return message_id
