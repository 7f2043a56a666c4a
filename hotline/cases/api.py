"""The console's JSON API under /api/v1 (the pages' scripts use it; so can other tools).

Every case read goes through casework.load_case; bad input answers a JSON 4xx and changes
nothing. See docs/console.md.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hotline.cases import caseview, casework, floorview, handover, presence
from hotline.cases import conversations as convs
from hotline.cases.stream import StaffStream
from hotline.domain.event_types import EventType
from hotline.domain.intake import IntakeError, parse_intake
from hotline.staff import accounts as staff_store
from hotline.staff.auth import require_staff, session_digest
from hotline.staff.sessions import session_ref
from hotline.victim import victimcase
from hotline.web.appkeys import CONFIG, DEPS, HUB, PROMPTS, STREAMS, WORDS
from hotline.web.inputs import json_body, page_after, page_limit, query_int
from hotline.web.middleware import json_error
from hotline.web.sse import stream_events

routes = web.RouteTableDef()

_MAX_CLIENT_ID = 64


def _case_json(conv: convs.ConversationRow) -> dict[str, Any]:
    return {"id": conv.id, "channel": conv.channel.value, "language": conv.language,
            "status": conv.status.value, "urgency": conv.urgency.value,
            "reasons": list(conv.reasons),
            "counselor_id": conv.counselor_id, "created_at": conv.created_at.isoformat(),
            "assigned_at": conv.assigned_at.isoformat() if conv.assigned_at else None,
            "victim_left_at": conv.victim_left_at.isoformat() if conv.victim_left_at else None,
            "return_of": conv.return_of}


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.Response:
    """Who I am, my status, and `blocked`: the first reason I get no new case now (the
    routing code take-next would answer; null when I may be offered one)."""
    staff = await require_staff(request)
    deps = request.app[DEPS]
    status = await deps.live.status_of(staff.id)
    return web.json_response({"id": staff.id, "name": staff.name, "role": staff.role.value,
                              "languages": list(staff.languages),
                              "ui_language": staff.ui_language, "status": status.value,
                              "blocked": await caseview.blocked(deps, staff.id)})


@routes.post("/api/v1/me/language")
async def set_language(request: web.Request) -> web.Response:
    """The console language of the logged-in person (one of prompts/<lang>/console/)."""
    staff = await require_staff(request)
    body = await json_body(request)
    language, known = body.get("language"), request.app[WORDS].languages
    if not isinstance(language, str) or language not in known:
        raise json_error(400, f"language: expected one of {', '.join(known)}", field="language")
    async with request.app[DEPS].engine.begin() as conn:
        await staff_store.set_ui_language(conn, staff.id, language)
    return web.json_response({"language": language})


@routes.get("/api/v1/queue")
async def queue(request: web.Request) -> web.Response:
    """Unassigned conversations, best first, a page at a time (`limit`, default 50, at most
    200; `after`: the previous page's `next`): id, channel, language, urgency, seconds
    waited, offer (no text); with the total and the count per urgency."""
    await require_staff(request)
    try:
        body = await floorview.queue_json(request.app[DEPS], page_limit(request),
                                          page_after(request))
    except floorview.BadCursor:
        raise json_error(400, "after: not a cursor of this list", field="after") from None
    return web.Response(body=body, content_type="application/json")


@routes.get("/api/v1/cases/mine")
async def my_cases(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    deps = request.app[DEPS]
    async with deps.engine.connect() as conn:
        rows = await convs.held_by(conn, staff.id)
    return web.json_response({"cases": [_case_json(r) for r in rows]})


@routes.post("/api/v1/queue/take-next")
async def take_next(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    try:
        cid = await casework.take_next(request.app[DEPS], staff)
    except casework.CaseConflict as e:
        raise json_error(409, "nothing you can take", reason=e.reason) from None
    return web.json_response({"conversation": cid})


@routes.post("/api/v1/cases/{id}/take")
async def take(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    try:
        await casework.take(request.app[DEPS], staff, request.match_info["id"])
    except casework.CaseNotFound:
        raise json_error(404, "no such case") from None
    except casework.CaseConflict as e:
        raise json_error(409, e.reason) from None
    return web.json_response({"conversation": request.match_info["id"]})


@routes.get("/api/v1/cases/{id}")
async def case(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    after = query_int(request, "after")
    try:
        conv, lines = await casework.transcript(request.app[DEPS], staff,
                                                request.match_info["id"], after)
    except casework.CaseNotFound:
        raise json_error(404, "no such case") from None
    deps = request.app[DEPS]
    notes = await handover.notes(deps, conv.id)
    facts = await caseview.view(deps, staff, conv, after)
    return web.json_response({**_case_json(conv), **facts.as_json(), "handovers": notes,
                              "messages": [
        {"seq": ln.seq, "direction": ln.direction.value, "text": ln.text,
         "at": ln.at.isoformat(), "delivery": ln.delivery,
         "delivery_error": facts.delivery_errors.get(ln.seq)} for ln in lines]})


@routes.get("/api/v1/cases/{id}/colleagues")
async def colleagues(request: web.Request) -> web.Response:
    """Whom the case may be handed to at the holder's shift end: the first `limit` (default
    50) colleagues on shift for its language and channel, present first, then whoever stays
    longest; and how many there are."""
    staff = await require_staff(request)
    try:
        found = await handover.colleagues(request.app[DEPS], staff, request.match_info["id"],
                                          page_limit(request))
    except casework.CaseNotFound:
        raise json_error(404, "no such case") from None
    return web.json_response(found)


@routes.post("/api/v1/cases/{id}/messages")
async def reply(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    body = await json_body(request)
    text, client_id = body.get("text"), body.get("client_id")
    deps = request.app[DEPS]
    if not isinstance(text, str) or not text.strip():
        raise json_error(400, "text: expected a non-empty string")
    if len(text) > deps.config.privacy.max_message_chars:
        raise json_error(413, "text: too long", max_chars=deps.config.privacy.max_message_chars)
    if not isinstance(client_id, str) or not 8 <= len(client_id) <= _MAX_CLIENT_ID:
        raise json_error(400, "client_id: expected a string of 8 to 64 characters")
    try:
        seq = await casework.reply(deps, staff, request.match_info["id"], text, client_id)
    except casework.CaseNotFound:
        raise json_error(404, "no such case") from None
    except casework.CaseConflict as e:
        raise json_error(409, e.reason) from None
    return web.json_response({"seq": seq}, status=201)


@routes.post("/api/v1/cases/{id}/close")
async def close(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    body = await json_body(request)
    try:
        form = parse_intake(body)
    except IntakeError as e:
        raise json_error(400, str(e), field=e.field) from None
    try:
        prompts = request.app[PROMPTS]
        await casework.close(request.app[DEPS], staff, request.match_info["id"], form,
                             notice=lambda lang: prompts.render(lang, "case_closed"),
                             referrals=lambda lang, entries: victimcase.referral_text(
                                 prompts, lang, entries, request.app[CONFIG].languages.default))
    except casework.CaseNotFound:
        raise json_error(404, "no such case") from None
    except casework.CaseConflict as e:
        raise json_error(409, e.reason) from None
    return web.json_response({"closed": request.match_info["id"]})


_KNOWN_KINDS = frozenset(t.value for t in EventType)


def _event_kinds(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    kinds = frozenset(k for k in raw.split(",") if k)
    unknown = sorted(kinds - _KNOWN_KINDS)
    if unknown or len(raw) > 1000:
        raise json_error(400, f"types: not event types: {', '.join(unknown)[:200]}",
                         field="types")
    return kinds


@routes.post("/api/v1/presence/heartbeat")
async def heartbeat(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    await presence.beat(request.app[DEPS], staff.id)
    return web.json_response({"ok": True})


@routes.get("/api/v1/events")
async def events(request: web.Request) -> web.StreamResponse:
    """SSE: live queue and case events this person may hear of, with Last-Event-ID replay;
    `types` (comma-separated): only these kinds, as the page listens (and `reset`)."""
    staff = await require_staff(request)
    digest = session_digest(request)
    assert digest is not None  # require_staff found the session
    kinds = _event_kinds(request.query.get("types"))
    admission = request.app[STREAMS].admit_staff(session_ref(digest))
    view = StaffStream(request.app[DEPS], staff, digest, kinds)
    return await stream_events(request, request.app[HUB], view, admission,
                               request.app[CONFIG].streams)
