"""Removal requests: drafting one (the text rendered from the legal basis's template and
checked for every field that basis requires), editing a draft's fields, recording steps
through the pure state machine (hotline.domain.removal), and drafting the next rung.

A request to a victim's platform needs their consent to report (purpose platform_report)
before it is sent; a request missing a required field cannot be sent. Every step is audited
with the time it happened and the time it was recorded. See docs/takedown.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.audit import log as audit
from hotline.domain.legal import (
    DEFAULT_TEXTS,
    REQUIRED,
    RequestField,
    fields_absent_from_text,
    missing_fields,
    required_fields,
    template_fields,
    template_name,
)
from hotline.domain.platforms import Route, RouteKind
from hotline.domain.policy import DeskNotFound
from hotline.domain.removal import (
    ImpossibleStep,
    RemovalRequest,
    RequestState,
    Step,
    apply_step,
    draft_escalation,
    draft_request,
    mark_overdue,
    parse_step_input,
)
from hotline.domain.staff import Staff
from hotline.domain.takedown import TakedownInputError
from hotline.takedown import items as items_svc
from hotline.takedown import queries
from hotline.takedown.desk import Desk, DeskConflict

MAX_FIELD_CHARS = 4000
# States whose text may still change: before it is sent, and when the platform asked for more.
EDITABLE = frozenset({RequestState.DRAFT, RequestState.INFO_REQUESTED})
LANGUAGES = ("ko", "en")
_OUTCOMES = frozenset({Step.REMOVED, Step.PARTIALLY_REMOVED, Step.REFUSED,
                       Step.INFO_REQUESTED})


@dataclass(frozen=True)
class Composed:
    """A request's text and what it still lacks (missing, or not in the text)."""

    values: dict[str, str]
    text: str
    missing: tuple[RequestField, ...]


def _context(request_id: int) -> str:
    return f"takedown-request:{request_id}"


def _extra(route: Route) -> tuple[RequestField, ...]:
    return tuple(f for f in route.required_fields if f not in REQUIRED[route.legal_basis])


def compose(desk: Desk, item: queries.ItemRow, route: Route, language: str,
            given: Mapping[str, str], locations: Sequence[queries.LocationRow]) -> Composed:
    """The text from the desk's details, the standard statements, the item's identification,
    the staff's own values (`given`) and the locations' URLs; and the fields it lacks."""
    basis = route.legal_basis
    fp = item.fingerprint
    values: dict[str, str] = {
        "requester": desk.config.requester, "signature": desk.config.signature,
        "contact": desk.config.contact, "notifier_name": desk.config.notifier_name,
        "notifier_email": desk.config.notifier_email,
        "content_identification": desk.prompts.render(
            language, "takedown/identification", kind=item.kind.value, minor=item.minor,
            sha256=fp.sha256 if fp else None, pdq=fp.pdq if fp else None),
    }
    for (b, f), name in DEFAULT_TEXTS.items():
        if b is basis:
            values[f.value] = desk.prompts.render(language, name)
    known = {f.value for f in RequestField}
    values.update({k: v for k, v in given.items() if k in known})
    values["urls"] = "\n".join(loc.url for loc in locations)
    wanted = required_fields(basis, minor=item.minor, extra=_extra(route))
    template = {f.value: (values.get(f.value, "") if f in wanted else "")
                for f in template_fields(basis)}
    text = desk.prompts.render(language, template_name(basis), **template)
    lacking = set(missing_fields(basis, values, minor=item.minor, extra=_extra(route)))
    lacking |= set(fields_absent_from_text(text, wanted, values))
    return Composed(values, text, tuple(f for f in wanted if f in lacking))


def _parse_fields(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise TakedownInputError("fields", "expected an object of field: text")
    known = {f.value for f in RequestField} - {RequestField.URLS.value}
    out = {}
    for key, value in raw.items():
        if key not in known:
            raise TakedownInputError(f"fields.{key}", "unknown field (the URLs come from the "
                                                      "item's locations)")
        if not isinstance(value, str) or len(value) > MAX_FIELD_CHARS:
            raise TakedownInputError(f"fields.{key}",
                                     f"expected text of at most {MAX_FIELD_CHARS} characters")
        out[key] = value
    return out


def _parse_address(raw: object, route: Route) -> str | None:
    if raw is None:
        return None
    if not route.address_per_request:
        raise TakedownInputError("address", "this route has a fixed address")
    if (not isinstance(raw, str) or len(raw) > 254 or raw.count("@") != 1
            or any(c.isspace() or ord(c) < 32 for c in raw) or "." not in raw.split("@")[1]):
        raise TakedownInputError("address", "expected an e-mail address")
    return raw


def _language(raw: object, route: Route) -> str:
    if raw is None:
        return "ko" if route.kind is RouteKind.REGULATOR else "en"
    if raw not in LANGUAGES:
        raise TakedownInputError("language", f"expected one of {', '.join(LANGUAGES)}")
    return str(raw)


def stored_fields(desk: Desk, row: queries.RequestRow) -> dict[str, str]:
    if row.fields_sealed is None:
        return {}
    data: dict[str, str] = json.loads(desk.deps.keyring.open_text(row.fields_sealed,
                                                                  _context(row.id)))
    return data


def stored_text(desk: Desk, row: queries.RequestRow) -> str:
    if row.text_sealed is None:
        return ""
    return desk.deps.keyring.open_text_or_none(row.text_sealed, _context(row.id)) or ""


async def _seal(desk: Desk, conn: AsyncConnection, request_id: int, language: str,
                given: Mapping[str, str], text: str) -> None:
    ctx = _context(request_id)
    await queries.set_sealed(
        conn, request_id, language=language,
        fields_sealed=desk.deps.keyring.seal_text(json.dumps(dict(given), sort_keys=True), ctx),
        text_sealed=desk.deps.keyring.seal_text(text, ctx))


async def _locations(conn: AsyncConnection, item_id: int, wanted: object
                     ) -> list[queries.LocationRow]:
    mine = (await queries.locations_of(conn, [item_id]))[item_id]
    if wanted is None:
        return mine
    if (not isinstance(wanted, list) or not wanted
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in wanted)):
        raise TakedownInputError("location_ids", "expected a list of this item's location ids")
    by_id = {loc.id: loc for loc in mine}
    if any(i not in by_id for i in wanted):
        raise TakedownInputError("location_ids", "expected a list of this item's location ids")
    return [by_id[i] for i in sorted(set(wanted))]


async def create_request(desk: Desk, staff: Staff, item_id: int,
                         body: Mapping[str, object]) -> int:
    """A draft `{platform, route, location_ids?, language?, fields?, address?}`."""
    items_svc.require_desk(staff)
    unknown = set(body) - {"platform", "route", "location_ids", "language", "fields",
                           "address"}
    if unknown:
        raise TakedownInputError(sorted(unknown)[0], "unknown field")
    platform_code, route_code = body.get("platform"), body.get("route")
    if not isinstance(platform_code, str):
        raise TakedownInputError("platform", "expected a platform code")
    if not isinstance(route_code, str):
        raise TakedownInputError("route", "expected a route code")
    platform, route = desk.route(platform_code, route_code)
    given = _parse_fields(body.get("fields"))
    address = _parse_address(body.get("address"), route)
    if address is not None:
        given["address"] = address
    language = _language(body.get("language"), route)
    now = desk.clock()
    async with desk.deps.engine.begin() as conn:
        item = await items_svc.load_item(desk, conn, staff, item_id, lock=True)
        if route not in platform.routes_for(item.kind, item.minor):
            raise TakedownInputError("route", "this route does not serve this item")
        locs = await _locations(conn, item.id, body.get("location_ids"))
        draft = draft_request(platform, route, now)
        rid = await queries.insert_request(conn, item.id, draft, language=language,
                                           location_ids=[loc.id for loc in locs],
                                           parent_id=None, created_by=staff.id)
        composed = compose(desk, item, route, language, given, locs)
        await _seal(desk, conn, rid, language, given, composed.text)
        await audit.record(conn, at=now, actor_id=staff.id, action="takedown.request.drafted",
                           target_kind="takedown_request", target_id=str(rid), item=item.id,
                           platform=platform.code, route=route.code,
                           legal_basis=route.legal_basis.value, language=language,
                           locations=[loc.id for loc in locs],
                           missing=[f.value for f in composed.missing])
    await desk.changed(item_id, rid, RequestState.DRAFT.value)
    return rid


async def load_request(desk: Desk, conn: AsyncConnection, staff: Staff, request_id: int,
                       *, lock: bool = False) -> tuple[queries.RequestRow, queries.ItemRow]:
    items_svc.require_desk(staff)
    row = await queries.get_request(conn, request_id, lock=lock)
    if row is None:
        raise DeskNotFound(request_id)
    item = await items_svc.load_item(desk, conn, staff, row.item_id)
    return row, item


async def current(desk: Desk, conn: AsyncConnection, row: queries.RequestRow,
                  item: queries.ItemRow) -> Composed:
    """The request's text and what it lacks: composed afresh while it may change, the text
    as sent after that."""
    _platform, route = desk.route(row.request.platform, row.request.route)
    locs = [loc for loc in (await queries.locations_of(conn, [item.id]))[item.id]
            if loc.id in row.location_ids]
    given = stored_fields(desk, row)
    if row.request.state in EDITABLE:
        return compose(desk, item, route, row.language, given, locs)
    return Composed(given, stored_text(desk, row), ())


async def edit_fields(desk: Desk, staff: Staff, request_id: int,
                      body: Mapping[str, object]) -> None:
    """`{fields?, language?, address?}` on a draft (or an answer to info_requested)."""
    unknown = set(body) - {"fields", "language", "address"}
    if unknown:
        raise TakedownInputError(sorted(unknown)[0], "unknown field")
    now = desk.clock()
    async with desk.deps.engine.begin() as conn:
        row, item = await load_request(desk, conn, staff, request_id, lock=True)
        if row.request.state not in EDITABLE:
            raise DeskConflict("not_editable", "a sent request's text is kept as it was sent")
        _platform, route = desk.route(row.request.platform, row.request.route)
        given = {**stored_fields(desk, row), **_parse_fields(body.get("fields"))}
        address = _parse_address(body.get("address"), route)
        if address is not None:
            given["address"] = address
        language = _language(body.get("language", row.language), route)
        locs = [loc for loc in (await queries.locations_of(conn, [item.id]))[item.id]
                if loc.id in row.location_ids]
        composed = compose(desk, item, route, language, given, locs)
        await _seal(desk, conn, row.id, language, given, composed.text)
        await audit.record(conn, at=now, actor_id=staff.id, action="takedown.request.edited",
                           target_kind="takedown_request", target_id=str(row.id),
                           fields=sorted(_parse_fields(body.get("fields"))),
                           language=language, missing=[f.value for f in composed.missing])
    await desk.changed(item.id, row.id, row.request.state.value)


async def check_sendable(desk: Desk, conn: AsyncConnection, row: queries.RequestRow,
                         item: queries.ItemRow) -> Composed:
    """The text to send, or DeskConflict: the victim has not consented to a platform report,
    or a required field is missing from the text."""
    if items_svc.needs_consent(item):
        consent = await items_svc.consent_of(conn, item)
        if not consent.covers("platform_report"):
            raise DeskConflict("consent_required", "the victim has not consented to a "
                                                   "platform report")
    composed = await current(desk, conn, row, item)
    if composed.missing:
        raise DeskConflict("missing_fields", "required fields are missing: " +
                           ", ".join(f.value for f in composed.missing))
    return composed


async def save_step(desk: Desk, conn: AsyncConnection, staff_id: int | None,
                    row: queries.RequestRow, after: RemovalRequest, *, via: str
                    ) -> queries.RequestRow:
    """Store a step and audit it (the time it happened and the time it was recorded); the
    row as it is now."""
    step = after.steps[-1]
    await queries.save_step(conn, row.id, after, staff_id)
    await audit.record(conn, at=step.recorded_at, actor_id=staff_id, action="takedown.step",
                       target_kind="takedown_request", target_id=str(row.id),
                       item=row.item_id, step=step.step.value, happened_at=step.at.isoformat(),
                       state_before=row.request.state.value, state=after.state.value,
                       ticket=step.ticket, via=via, attempt=after.attempt,
                       due_at=after.due_at.isoformat() if after.due_at else None)
    return replace(row, request=after)


async def after_sent(desk: Desk, conn: AsyncConnection, staff_id: int | None,
                     row: queries.RequestRow, text: str, sent_at: datetime) -> None:
    """Once sent: the text is kept as sent, and the rung this one escalates is marked
    escalated (overdue first, if the job had not marked it yet)."""
    await _seal(desk, conn, row.id, row.language, stored_fields(desk, row), text)
    if row.parent_id is None:
        return
    parent = await queries.get_request(conn, row.parent_id, lock=True)
    if parent is None:
        return
    now = desk.clock()
    marked = mark_overdue(parent.request, now)
    if marked is not None:
        parent = await save_step(desk, conn, staff_id, parent, marked, via="escalation")
    try:
        escalated = apply_step(parent.request, Step.ESCALATED, max(sent_at, _last(parent)),
                               now)
    except ImpossibleStep:
        return  # the old rung got an outcome meanwhile: it stands as it is
    await save_step(desk, conn, staff_id, parent, escalated, via="escalation")
    await queries.ack_alerts_of(conn, parent.id, staff_id, now)


def _last(row: queries.RequestRow) -> datetime:
    """The time of the request's last real step (escalation may not precede it)."""
    real = [s.at for s in row.request.steps if s.step is not Step.OVERDUE]
    return real[-1] if real else row.request.created_at


async def record_step(desk: Desk, staff: Staff, request_id: int,
                      body: Mapping[str, object]) -> RequestState:
    """A step staff record (`{step, at?, ticket?, reason?}`); 409 when the state does not
    allow it, the victim has not consented, or a field is missing (for `sent`)."""
    parsed = parse_step_input(body)
    now = desk.clock()
    async with desk.deps.engine.begin() as conn:
        row, item = await load_request(desk, conn, staff, request_id, lock=True)
        text = None
        if parsed.step is Step.SENT and row.request.state in EDITABLE:
            text = (await check_sendable(desk, conn, row, item)).text
        after = apply_step(row.request, parsed.step, parsed.at or now, now,
                           ticket=parsed.ticket, reason=parsed.reason)
        await save_step(desk, conn, staff.id, row, after, via="console")
        if text is not None:
            await after_sent(desk, conn, staff.id, row, text, parsed.at or now)
        if parsed.step in _OUTCOMES:
            await queries.ack_alerts_of(conn, row.id, staff.id, now)
    await desk.changed(item.id, row.id, after.state.value)
    return after.state


async def escalate(desk: Desk, staff: Staff, request_id: int) -> int:
    """Draft the next rung of an overdue, refused or partially removed request (one click);
    the new draft keeps the locations, language and staff's values."""
    now = desk.clock()
    async with desk.deps.engine.begin() as conn:
        row, item = await load_request(desk, conn, staff, request_id, lock=True)
        platform, _route = desk.route(row.request.platform, row.request.route)
        if await queries.children_of(conn, row.id):
            raise DeskConflict("already_escalated", "the next rung is already drafted")
        draft = draft_escalation(platform, row.request, now)
        if draft is None:
            raise DeskConflict("top_of_ladder", "this is the last rung of the ladder")
        _p, route = desk.route(draft.platform, draft.route)
        language = _language(None, route) if route.kind is RouteKind.REGULATOR \
            else row.language
        rid = await queries.insert_request(conn, item.id, draft, language=language,
                                           location_ids=row.location_ids, parent_id=row.id,
                                           created_by=staff.id)
        given = {k: v for k, v in stored_fields(desk, row).items() if k != "address"}
        locs = [loc for loc in (await queries.locations_of(conn, [item.id]))[item.id]
                if loc.id in row.location_ids]
        composed = compose(desk, item, route, language, given, locs)
        await _seal(desk, conn, rid, language, given, composed.text)
        await audit.record(conn, at=now, actor_id=staff.id,
                           action="takedown.request.escalation_drafted",
                           target_kind="takedown_request", target_id=str(rid), item=item.id,
                           parent=row.id, route=route.code, rung=draft.rung)
    await desk.changed(item.id, rid, RequestState.DRAFT.value)
    return rid
