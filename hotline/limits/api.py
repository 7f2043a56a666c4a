"""The ban list's JSON API for leads: GET, POST and DELETE /api/v1/bans (docs/limits.md).

A ban names a case ("ban the sender of case N", or the address it came from), a sender
pseudonym, or a client address; the answer never shows a pseudonym or an address. Bad input
answers 400 naming the field and changes nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hotline.cases import casework
from hotline.domain.bans import LONGEST, REASONS, Ban, Kind
from hotline.domain.conversation import Channel
from hotline.domain.policy import may_manage_bans
from hotline.domain.staff import Staff
from hotline.limits import bans, flood
from hotline.staff.auth import require_staff
from hotline.web.appkeys import DEPS
from hotline.web.inputs import json_body, parse_time
from hotline.web.middleware import json_error

routes = web.RouteTableDef()

_PSEUDONYM = re.compile(r"^[0-9a-f]{64}$")
_CHANNELS = tuple(c.value for c in Channel)


async def _lead(request: web.Request) -> Staff:
    staff = await require_staff(request)
    if not may_manage_bans(staff):
        raise json_error(403, "not allowed for your role")
    return staff


def _text(body: dict[str, Any], name: str, max_len: int, choices: tuple[str, ...] = ()
          ) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise json_error(400, f"{name}: expected a string of at most {max_len} characters",
                         field=name)
    if choices and value not in choices:
        raise json_error(400, f"{name}: expected one of {', '.join(choices)}", field=name)
    return value


def _expiry(body: dict[str, Any]) -> datetime:
    at = parse_time(_text(body, "expires_at", 40), "expires_at")
    now = datetime.now(UTC)
    if not now < at <= now + LONGEST:
        raise json_error(400, f"expires_at: expected a time after now and at most "
                         f"{LONGEST.days} days ahead", field="expires_at")
    return at


@routes.get("/api/v1/bans")
async def list_bans(request: web.Request) -> web.Response:
    """The bans in force (no pseudonym, no address: what, why, until when, by whom), with
    the names of whoever made them (`names`, by id)."""
    await _lead(request)
    found, names = await bans.listing(request.app[DEPS])
    return web.json_response({"bans": [b.as_json() for b in found],
                              "names": {str(i): n for i, n in names.items()}})


@routes.post("/api/v1/bans")
async def add_ban(request: web.Request) -> web.Response:
    """Ban one of: the sender of a case (`case`, `scope` "sender" or "address"), a sender
    pseudonym (`pseudonym`, optional `channel`), or a client address (`address`); with a
    `reason` code and an `expires_at` time."""
    staff = await _lead(request)
    deps = request.app[DEPS]
    body = await json_body(request)
    named = [k for k in ("case", "pseudonym", "address") if body.get(k) is not None]
    if len(named) != 1:
        raise json_error(400, "case, pseudonym or address: expected exactly one",
                         field=named[1] if len(named) > 1 else "case")
    reason = _text(body, "reason", 32, REASONS)
    expires_at = _expiry(body)
    ban: Ban
    if named == ["case"]:
        cid = _text(body, "case", 32)
        scope = Kind(_text(body, "scope", 16, tuple(k.value for k in Kind))
                     if "scope" in body else Kind.SENDER)
        try:
            ban = await bans.ban_case(deps, staff, cid, scope, reason, expires_at)
        except casework.CaseNotFound:
            raise json_error(404, "no such case", field="case") from None
        except bans.OriginUnknown:
            raise json_error(409, "the address this case came from is not known (web chat "
                             "cases, for 48 hours after they open)", field="scope") from None
    elif named == ["pseudonym"]:
        pseudonym = _text(body, "pseudonym", 64)
        if not _PSEUDONYM.match(pseudonym):
            raise json_error(400, "pseudonym: expected 64 lowercase hexadecimal digits",
                             field="pseudonym")
        channel = _text(body, "channel", 16, _CHANNELS) if "channel" in body else None
        ban = await bans.add(deps, kind=Kind.SENDER, subject=pseudonym, channel=channel,
                             reason=reason, expires_at=expires_at, actor_id=staff.id)
    else:
        # Counted and banned as the client's network (an IPv6 /64), by its keyed tag only.
        tag = flood.address_tag(deps, _text(body, "address", 64))
        if tag is None:
            raise json_error(400, "address: expected an IPv4 or IPv6 address",
                             field="address")
        ban = await bans.add(deps, kind=Kind.ADDRESS, subject=tag, channel=None,
                             reason=reason, expires_at=expires_at, actor_id=staff.id)
    return web.json_response({"ban": ban.as_json()}, status=201)


@routes.delete("/api/v1/bans/{id:[0-9]{1,9}}")
async def lift_ban(request: web.Request) -> web.Response:
    staff = await _lead(request)
    ban_id = int(request.match_info["id"])
    if not await bans.lift(request.app[DEPS], ban_id, staff.id):
        raise json_error(404, "no such ban")
    return web.json_response({"lifted": ban_id})
