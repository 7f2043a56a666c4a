"""Evidence on the console: fingerprints, a blurred preview by default, the original on reveal.

Counselors are protected from explicit content: a kept image is shown blurred (a server-side
Gaussian blur of a small copy; the browser never receives the sharp pixels) until the
counselor asks to reveal it. A reveal is a POST (CSRF-checked), audited with who and which
evidence, and answers a one-time link valid for a minute; the original is served once from
it, never cached. Access follows the case: casework.load_case decides (404 for missing and
forbidden alike). This module also runs the evidence retention job. See docs/telegram.md.
"""

from __future__ import annotations

import asyncio
import io
import secrets
from collections.abc import AsyncIterator

from aiohttp import web
from PIL import Image, ImageFilter

from hotline.audit import search as audit_log
from hotline.cases import casework
from hotline.domain.exposure import EVIDENCE_REVEALED
from hotline.domain.staff import Staff
from hotline.evidence import service as evidence
from hotline.jobs import JobSet
from hotline.staff import exposure
from hotline.staff.auth import require_staff
from hotline.web.appkeys import DEPS
from hotline.web.inputs import INT_LIMIT
from hotline.web.middleware import json_error

routes = web.RouteTableDef()

# A reveal link works once, within a minute.
EVIDENCE_REVEAL_TTL_S = 60

PREVIEW_SIDE = 320
BLUR_RADIUS = 18
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def blurred_jpeg(data: bytes, side: int = PREVIEW_SIDE, radius: int = BLUR_RADIUS) -> bytes:
    """A small, heavily blurred JPEG of an image (CPU-bound: run in an executor)."""
    with Image.open(io.BytesIO(data)) as img:
        img.seek(0)
        small = img.convert("RGB")
        small.thumbnail((side, side))
        out = io.BytesIO()
        small.filter(ImageFilter.GaussianBlur(radius)).save(out, "JPEG", quality=70)
    return out.getvalue()


async def _evidence_for(request: web.Request, staff: Staff) -> evidence.Evidence:
    """The evidence of the URL if `staff` may read its case (404 otherwise)."""
    deps = request.app[DEPS]
    raw = request.match_info["eid"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or int(raw) >= INT_LIMIT:
        raise json_error(404, "no such evidence")
    found = await evidence.get(deps, int(raw))
    if found is None:
        raise json_error(404, "no such evidence")
    try:
        async with deps.engine.connect() as conn:
            await casework.load_case(conn, staff, found.conversation_id)
    except casework.CaseNotFound:
        raise json_error(404, "no such evidence") from None
    return found


@routes.get("/api/v1/cases/{id}/evidence")
async def list_evidence(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    deps = request.app[DEPS]
    try:
        async with deps.engine.connect() as conn:
            conv = await casework.load_case(conn, staff, request.match_info["id"])
    except casework.CaseNotFound:
        raise json_error(404, "no such case") from None
    found = await evidence.list_for(deps, conv.id)
    # The list decrypts each piece's location note: who read it is recorded.
    await audit_log.note(deps, staff.id, "evidence.listed", "conversation", conv.id,
                         evidence=[ev.id for ev in found])
    hits = await evidence.matches_for(deps, [ev.id for ev in found])
    items = [{**ev.as_json(), "matches": [
        {"evidence": other, "case": cid[:8], "distance": dist}
        for other, cid, dist in hits.get(ev.id, [])]} for ev in found]
    return web.json_response({"evidence": items,
                              "pdq": {"max_distance": deps.config.telegram.pdq_match_distance,
                                      "min_quality": deps.config.telegram.pdq_min_quality}})


@routes.get("/api/v1/evidence/{eid}/preview")
async def preview(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    found = await _evidence_for(request, staff)
    if not found.kept or not found.mime.startswith("image/"):
        raise json_error(404, "no preview: the file was not kept or is not an image")
    data = await evidence.original(request.app[DEPS], found.id)
    if data is None:
        raise json_error(404, "no preview: the file was not kept")
    try:
        jpeg = await asyncio.get_running_loop().run_in_executor(None, blurred_jpeg, data)
    except (OSError, ValueError, Image.DecompressionBombError):
        raise json_error(404, "no preview: the file is not a readable image") from None
    await audit_log.note(request.app[DEPS], staff.id, "evidence.previewed", "conversation",
                         found.conversation_id, evidence=found.id)
    return web.Response(body=jpeg, content_type="image/jpeg", headers=_NO_STORE)


@routes.post("/api/v1/evidence/{eid}/reveal")
async def reveal(request: web.Request) -> web.Response:
    """An explicit, audited request to see the original; answers a one-time link."""
    staff = await require_staff(request)
    found = await _evidence_for(request, staff)
    deps = request.app[DEPS]
    if not found.kept:
        raise json_error(404, "the file was not kept")
    token = secrets.token_urlsafe(24)
    await deps.redis.set(deps.keys.evidence_reveal(token), f"{found.id}:{staff.id}",
                         ex=EVIDENCE_REVEAL_TTL_S)
    await audit_log.note(deps, staff.id, "evidence.revealed", "conversation",
                         found.conversation_id, evidence=found.id)
    await exposure.record(deps, staff.id, EVIDENCE_REVEALED, 1, found.conversation_id)
    return web.json_response({"url": f"/api/v1/evidence/{found.id}/original?t={token}"})


@routes.get("/api/v1/evidence/{eid}/original")
async def original(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    found = await _evidence_for(request, staff)
    deps = request.app[DEPS]
    token = request.query.get("t", "")
    held = await deps.redis.getdel(deps.keys.evidence_reveal(token)) if 20 <= len(token) <= 64 \
        else None
    if held != f"{found.id}:{staff.id}":
        raise json_error(403, "reveal first: the link works once, for a minute")
    data = await evidence.original(deps, found.id)
    if data is None:
        raise json_error(404, "the file was not kept")
    inline = found.mime.startswith("image/")
    disposition = "inline" if inline else f'attachment; filename="evidence-{found.id}"'
    return web.Response(body=data, content_type=found.mime,
                        headers={**_NO_STORE, "Content-Disposition": disposition})


async def _purge_ctx(app: web.Application) -> AsyncIterator[None]:
    deps = app[DEPS]
    jobs = JobSet()
    jobs.start("evidence-purge", lambda: evidence.run_purge(deps, jobs.stop))
    yield
    await jobs.close()


def setup(app: web.Application) -> None:
    """Add the evidence routes and the evidence retention job."""
    app.router.add_routes(routes)
    app.cleanup_ctx.append(_purge_ctx)
