"""Twilio's delivery reports for SMS parts: a reply is delivered when every part is, failed as
soon as one part is (the counselor sees it). A report that comes before its part is stored
waits in Redis and is applied when the part is (docs/twilio.md)."""

from __future__ import annotations

import contextlib
import logging
import re

from aiohttp import web
from redis.exceptions import RedisError

from hotline.cases import outbox
from hotline.channels.twilio import store
from hotline.channels.twilio.common import MESSAGE_SID, field_str, verified_form
from hotline.deps import Deps
from hotline.web.appkeys import DEPS
from hotline.web.middleware import json_error

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

STATUS_PATH = "/webhooks/twilio/sms/status"
# An early delivery report waits this long for its part to be stored (normally milliseconds).
SMS_EARLY_STATUS_TTL_S = 600


@routes.post(STATUS_PATH)
async def status(request: web.Request) -> web.Response:
    """Twilio's delivery report for one SMS part: the reply is delivered when every part is,
    failed as soon as one part is (shown to the counselor)."""
    form = await verified_form(request)
    sid = field_str(form, "MessageSid", MESSAGE_SID, max_len=34)
    state = field_str(form, "MessageStatus", max_len=16)
    code = field_str(form, "ErrorCode", re.compile(r"^[0-9]{1,6}$"), required=False)
    if state not in store.STATUS_RANK:  # Twilio's message statuses, each with its rank
        raise json_error(400, "MessageStatus: malformed")
    await apply_status(request.app[DEPS], sid, state, f"twilio_{code}" if code else None)
    return web.Response(status=204)


async def apply_status(deps: Deps, sid: str, state: str, error: str | None) -> None:
    """One delivery report for one part: the reply is delivered when every part is, failed as
    soon as one part is (shown to the counselor). A report for a part not stored yet is kept
    in Redis and applied when it is (`apply_early`)."""
    async with deps.engine.begin() as conn:
        parts = await store.set_part_status(conn, sid, state, error)
    if parts is None:
        await _keep_early(deps, sid, state, error)
        return
    if not parts:
        return
    if any(p.status in ("failed", "undelivered") for p in parts):
        result, err = "failed", next(p.error or f"sms_{p.status}" for p in parts
                                     if p.status in ("failed", "undelivered"))
    elif len(parts) == parts[0].parts and all(p.status in ("delivered", "read") for p in parts):
        result, err = "delivered", None
    else:
        return
    await outbox.mark_seq(deps, parts[0].conversation_id, parts[0].seq, result, err)


async def _keep_early(deps: Deps, sid: str, state: str, error: str | None) -> None:
    key = deps.keys.sms_early_status(sid)
    with contextlib.suppress(RedisError, OSError):
        before = await deps.redis.get(key)
        if before is not None and store.STATUS_RANK.get(str(before).split("|", 1)[0], 0) \
                > store.STATUS_RANK.get(state, 0):
            return
        await deps.redis.set(key, f"{state}|{error or ''}", ex=SMS_EARLY_STATUS_TTL_S)
        log.info("sms delivery report before its part was stored; kept")


async def apply_early(deps: Deps, sid: str) -> None:
    """After a part is stored: the report Twilio may already have sent about it."""
    try:
        raw = await deps.redis.getdel(deps.keys.sms_early_status(sid))
    except (RedisError, OSError):
        return
    if raw is not None:
        state, _, error = str(raw).partition("|")
        await apply_status(deps, sid, state, error or None)
