"""The web chat's ways back and onward (docs/victim.md): a case number and PIN on request,
erasure after a confirmation, and evidence sent as fingerprints computed in the browser
(SHA-256 by WebCrypto, PDQ by static/pdq.js), the picture itself only if the victim also
chooses to send it (then sealed and purged as Telegram files are).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from hotline.cases import conversations as convs
from hotline.cases import inbox
from hotline.channels.webchat import chat as webchat
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Inbound
from hotline.evidence import service as evidence
from hotline.victim import casecode, forget, quickexit
from hotline.web.appkeys import DEPS, PROMPTS
from hotline.web.inputs import json_body
from hotline.web.middleware import json_error

routes = web.RouteTableDef()

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp")
_MB = 1024 * 1024
# A chosen picture's fingerprints are recorded once per client id (a retried POST).
_EVIDENCE_ID_TTL_S = 24 * 3600


def _lang(deps: Deps, body: dict[str, Any]) -> str:
    lang = body.get("language")
    return lang if lang in deps.config.languages.supported else deps.config.languages.default


async def _latest(deps: Deps, chat_id: str) -> convs.ConversationRow | None:
    pseudonym = deps.keyring.pseudonymize(Channel.WEBCHAT.value, chat_id)
    async with deps.engine.connect() as conn:
        if await quickexit.has_ended(conn, deps, chat_id):
            raise json_error(401, "no chat session; reload the page")
        return await convs.latest_for(conn, Channel.WEBCHAT, pseudonym)


@routes.post("/chat/api/case")
async def case_number(request: web.Request) -> web.Response:
    """A case number (kept) and a new PIN for the chat's latest conversation, shown once."""
    chat_id = webchat.require_chat(request, unsafe=True)
    deps = request.app[DEPS]
    body = await json_body(request)
    lang = _lang(deps, body)
    prompts = request.app[PROMPTS]
    conv = await _latest(deps, chat_id)
    if conv is None:
        return web.json_response({"text": prompts.render(lang, "victim/case_none")},
                                 status=409)
    issued = await casecode.issue(deps, conv.id)
    url = deps.config.server.public_url.rstrip("/") + "/chat/case"
    return web.json_response({
        "case_number": issued.case_number, "pin": issued.pin,
        "text": prompts.render(lang, "victim/case_issued", number=issued.case_number,
                               pin=issued.pin, url=url)}, status=201)


@routes.post("/chat/api/erase")
async def erase(request: web.Request) -> web.Response:
    """Erase everything of this chat (forget.erase_sender) and end its session: only the
    anonymized intake record stays. `confirm: true` is required (the page asked)."""
    chat_id = webchat.require_chat(request, unsafe=True)
    deps = request.app[DEPS]
    body = await json_body(request)
    if body.get("confirm") is not True:
        raise json_error(400, "confirm: expected true")
    erased = await forget.erase_sender(deps, Channel.WEBCHAT, chat_id)
    await quickexit.leave(deps, chat_id, marker=lambda lang: "")
    resp = web.json_response({"erased": len(erased.conversations)})
    resp.del_cookie(webchat.COOKIE, path="/chat")
    return resp


def _fingerprints(deps: Deps, body: dict[str, Any]) -> tuple[str, str, int, str | None,
                                                           int | None, str]:
    sha = body.get("sha256")
    if not isinstance(sha, str) or not _SHA256.match(sha):
        raise json_error(400, "sha256: expected 64 lowercase hex digits")
    mime = body.get("mime")
    if mime not in _IMAGE_TYPES:
        raise json_error(400, f"mime: expected one of {', '.join(_IMAGE_TYPES)}")
    size = body.get("size_bytes")
    limit = deps.config.telegram.max_file_mb * _MB
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= limit:
        raise json_error(400, f"size_bytes: expected 1 to {limit}")
    pdq, quality = body.get("pdq"), body.get("pdq_quality")
    if pdq is not None and (not isinstance(pdq, str) or not _SHA256.match(pdq)):
        raise json_error(400, "pdq: expected 64 lowercase hex digits or null")
    if pdq is not None and (not isinstance(quality, int) or isinstance(quality, bool)
                            or not 0 <= quality <= 100):
        raise json_error(400, "pdq_quality: expected 0 to 100 with a pdq hash")
    where = body.get("where", "")
    if not isinstance(where, str) or len(where) > 500:
        raise json_error(400, "where: expected a text of at most 500 characters")
    return sha, str(mime), size, pdq, quality if pdq is not None else None, where.strip()


@routes.post("/chat/api/evidence")
async def add_evidence(request: web.Request) -> web.Response:
    """A picture's fingerprints (never the picture): a message in the conversation and an
    evidence record, compared with every stored hash like Telegram photos."""
    chat_id = webchat.require_chat(request, unsafe=True)
    deps = request.app[DEPS]
    body = await json_body(request)
    client_id = body.get("client_id")
    if not isinstance(client_id, str) or not 8 <= len(client_id) <= 64:
        raise json_error(400, "client_id: expected a string of 8 to 64 characters")
    sha, mime, size, pdq, quality, where = _fingerprints(deps, body)
    conv = await _latest(deps, chat_id)
    if conv is None or conv.status.value == "closed":
        raise json_error(409, "no open conversation: write a message first")
    key = deps.keys.chat_evidence(deps.keyring.pseudonymize("chat-evidence",
                                                            f"{chat_id}:{client_id}"))
    try:
        known = await deps.redis.get(key)
    except (RedisError, OSError):
        known = None
    if known is not None:
        return web.json_response({"id": int(known), "duplicate": True})
    stored = await inbox.receive(deps, Inbound(
        channel=Channel.WEBCHAT, address=chat_id,
        text=f"[photo] {where}" if where else "[photo]",
        provider_id=f"{chat_id}:{client_id}", language=conv.language,
        received_at=datetime.now(UTC)),
        pseudonym=deps.keyring.pseudonymize(Channel.WEBCHAT.value, chat_id),
        in_tx=quickexit.refuse_if_ended(deps, chat_id))
    eid = await evidence.record(deps, conversation_id=stored.conversation_id,
                                message_seq=stored.seq, kind="photo", mime=mime,
                                size_bytes=size, sha256=sha, pdq=pdq, pdq_quality=quality,
                                location=where or None)
    try:
        await deps.redis.set(key, eid, ex=_EVIDENCE_ID_TTL_S)
    except (RedisError, OSError):
        pass  # a retry then records the fingerprints twice: harmless, both point here
    return web.json_response({"id": eid, "duplicate": False}, status=201)


@routes.post("/chat/api/evidence/{id}/file")
async def add_file(request: web.Request) -> web.Response:
    """The picture itself, when the victim chose to send it: the bytes must be the ones
    fingerprinted (same SHA-256); kept sealed under evidence retention."""
    chat_id = webchat.require_chat(request, unsafe=True)
    deps = request.app[DEPS]
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise json_error(404, "no such evidence")
    found = await evidence.get(deps, int(raw))
    mine = deps.keyring.pseudonymize(Channel.WEBCHAT.value, chat_id)
    if found is None:
        raise json_error(404, "no such evidence")
    async with deps.engine.connect() as conn:
        conv = await convs.get(conn, found.conversation_id)
    if conv is None or conv.pseudonym != mine:
        raise json_error(404, "no such evidence")
    limit = min(found.size_bytes, deps.config.telegram.max_file_mb * _MB)
    data = bytearray()
    while chunk := await request.content.read(64 * 1024):
        data.extend(chunk)
        if len(data) > limit:
            raise json_error(413, "file: larger than the fingerprinted picture")
    if hashlib.sha256(data).hexdigest() != found.sha256:
        raise json_error(400, "file: not the picture that was fingerprinted (SHA-256 differs)")
    if not await evidence.keep(deps, found.id, bytes(data)):
        raise json_error(409, "file: already kept or declined")
    return web.json_response({"kept": True}, status=201)
