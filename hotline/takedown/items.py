"""Content items: creating one (from a case, an alert, or found by staff), adding locations,
recording consent, and the item's status events. Every decision is audited.

Access: hotline.domain.policy decides; a case named by an item is checked with the one
case read rule (casework.load_case) first, so nobody reaches a case through the desk that
they could not read on the floor. See docs/takedown.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.audit import log as audit
from hotline.cases import alerts, casework
from hotline.domain import policy
from hotline.domain.locations import check_platform, parse_location
from hotline.domain.policy import DeskNotFound
from hotline.domain.staff import Staff
from hotline.domain.takedown import (
    Fingerprint,
    ItemEvent,
    TakedownInputError,
    next_item_status,
    parse_fingerprint,
    parse_new_item,
)
from hotline.domain.urls import LocationError
from hotline.evidence import service as evidence
from hotline.takedown import queries
from hotline.takedown.desk import Desk, DeskConflict

CONSENT_PURPOSES = ("platform_report", "police", "partner")
CONSENT_VIA = ("chat", "phone", "in_person", "written", "partner")
# Events staff may apply; all_offline and reappeared come from checks and new locations.
STAFF_ITEM_EVENTS = (ItemEvent.MONITOR.value, ItemEvent.CLOSE.value)


@dataclass(frozen=True)
class Consent:
    """The consent in force per purpose: True given, False refused, None never asked."""

    state: Mapping[str, bool | None]

    def covers(self, purpose: str) -> bool:
        return self.state.get(purpose) is True


async def _case_holder(conn: AsyncConnection, staff: Staff, case_id: str) -> int | None:
    """The case's holder, if `staff` may read the case at all (else DeskNotFound)."""
    try:
        conv = await casework.load_case(conn, staff, case_id)
    except casework.CaseNotFound:
        raise DeskNotFound(case_id) from None
    return conv.counselor_id


async def load_item(desk: Desk, conn: AsyncConnection, staff: Staff, item_id: int,
                    *, lock: bool = False) -> queries.ItemRow:
    """The item if `staff` may see it (DeskNotFound otherwise)."""
    item = await queries.get_item(conn, item_id, lock=lock)
    if item is None:
        raise DeskNotFound(item_id)
    if policy.acts_on_desk(staff):
        return item
    holder = None
    if item.conversation_id is not None:
        try:
            holder = await _case_holder(conn, staff, item.conversation_id)
        except DeskNotFound:
            raise DeskNotFound(item_id) from None
    if not policy.may_view_item(staff, holder, item.conversation_id is not None):
        raise DeskNotFound(item_id)
    return item


def require_desk(staff: Staff) -> None:
    if not policy.acts_on_desk(staff):
        raise DeskNotFound("desk")


async def _fingerprint(desk: Desk, raw_ev: object, raw_fp: object, case_id: str | None
                       ) -> tuple[Fingerprint | None, int | None]:
    """From the case's evidence (`evidence_id`) or typed by staff (`fingerprint`)."""
    if raw_ev is not None:
        if not isinstance(raw_ev, int) or isinstance(raw_ev, bool) or not 0 < raw_ev < 2**31:
            raise TakedownInputError("evidence_id", "expected an evidence id")
        found = await evidence.get(desk.deps, raw_ev)
        if found is None or case_id is None or found.conversation_id != case_id:
            raise TakedownInputError("evidence_id", "expected evidence of this case")
        return Fingerprint(found.sha256, found.pdq,
                           found.pdq_quality if found.pdq else None), found.id
    if raw_fp is not None:
        return parse_fingerprint(raw_fp), None
    return None, None


async def create_item(desk: Desk, staff: Staff, raw: Mapping[str, object]) -> int:
    """A new item with its first location; from an alert (`alert_id`) it also acknowledges
    the alert. Raises TakedownInputError (400), DeskNotFound (404)."""
    body = dict(raw)
    alert_id = body.pop("alert_id", None)
    if alert_id is not None and (not isinstance(alert_id, int) or isinstance(alert_id, bool)
                                 or not 0 < alert_id < 2**31):
        raise TakedownInputError("alert_id", "expected an alert id")
    raw_ev, raw_fp = body.pop("evidence_id", None), body.pop("fingerprint", None)
    new = parse_new_item(body, desk.directory.codes)
    if not policy.acts_on_desk(staff) and new.case_id is None:
        raise DeskNotFound("case")
    fp, evidence_id = await _fingerprint(desk, raw_ev, raw_fp, new.case_id)
    now = desk.clock()
    async with desk.deps.engine.begin() as conn:
        if new.case_id is not None:
            holder = await _case_holder(conn, staff, new.case_id)
            if not policy.may_create_item(staff, holder, True):
                raise DeskNotFound(new.case_id)
        item_id = await queries.insert_item(
            conn, kind=new.kind, minor=new.minor, conversation_id=new.case_id,
            reporter=new.reporter, fingerprint=fp, evidence_id=evidence_id, at=now,
            created_by=staff.id)
        loc_id, _ = await queries.add_location(conn, item_id, new.location, now)
        await audit.record(conn, at=now, actor_id=staff.id, action="takedown.item.created",
                           target_kind="takedown_item", target_id=str(item_id),
                           kind=new.kind.value, minor=new.minor, reporter=new.reporter.value,
                           case=new.case_id, location=loc_id, platform=new.platform,
                           alert=alert_id, evidence=evidence_id)
    if alert_id is not None:
        try:
            await alerts.ack(desk.deps, staff, alert_id, via="takedown_item")
        except LookupError:
            pass  # not theirs to acknowledge: the item stands, the alert stays open
    await desk.changed(item_id)
    return item_id


async def add_location(desk: Desk, staff: Staff, item_id: int,
                       body: Mapping[str, object]) -> tuple[int, bool]:
    """Another place the item is (`{platform, location}`); a new one on an item no longer
    open reopens it (reappeared)."""
    require_desk(staff)
    unknown = set(body) - {"platform", "location"}
    if unknown:
        raise TakedownInputError(sorted(unknown)[0], "unknown field")
    platform = body.get("platform")
    if not isinstance(platform, str) or platform not in desk.directory.codes:
        raise TakedownInputError("platform", "expected one of " +
                                 ", ".join(desk.directory.codes))
    try:
        loc = parse_location(body.get("location"), "location")
        check_platform(loc, platform, "platform")
    except LocationError as e:
        raise TakedownInputError(e.field, e.detail) from None
    now = desk.clock()
    async with desk.deps.engine.begin() as conn:
        item = await load_item(desk, conn, staff, item_id, lock=True)
        if loc.platform == "other":
            loc = type(loc)(url=loc.url, platform=platform, host=loc.host)
        loc_id, new = await queries.add_location(conn, item.id, loc, now)
        if new:
            after = next_item_status(item.status, ItemEvent.REAPPEARED)
            await queries.set_item_status(conn, item.id, after, now)
            await audit.record(conn, at=now, actor_id=staff.id,
                               action="takedown.location.added", target_kind="takedown_item",
                               target_id=str(item.id), location=loc_id, platform=platform,
                               status_before=item.status.value, status=after.value)
    await desk.changed(item_id)
    return loc_id, new


async def apply_item_event(desk: Desk, staff: Staff, item_id: int, event: object) -> str:
    """Staff start monitoring an item or close it; 409 when its status does not allow it."""
    require_desk(staff)
    if event not in STAFF_ITEM_EVENTS:
        raise TakedownInputError("event", f"expected one of {', '.join(STAFF_ITEM_EVENTS)}")
    now = desk.clock()
    async with desk.deps.engine.begin() as conn:
        item = await load_item(desk, conn, staff, item_id, lock=True)
        after = next_item_status(item.status, ItemEvent(str(event)))
        await queries.set_item_status(conn, item.id, after, now)
        await audit.record(conn, at=now, actor_id=staff.id, action="takedown.item.status",
                           target_kind="takedown_item", target_id=str(item.id),
                           event=str(event), status_before=item.status.value,
                           status=after.value)
    await desk.changed(item_id)
    return after.value


def _time(raw: object, now: datetime) -> datetime:
    if raw is None:
        return now
    if not isinstance(raw, str) or len(raw) > 40:
        raise TakedownInputError("at", "expected a time like 2026-05-20T09:30:00+09:00")
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise TakedownInputError("at", "expected a time like 2026-05-20T09:30:00+09:00"
                                 ) from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise TakedownInputError("at", "expected a time with its UTC offset")
    if at > now:
        raise TakedownInputError("at", "a consent cannot be given in the future")
    return at


async def record_consent(desk: Desk, staff: Staff, item_id: int,
                         body: Mapping[str, object]) -> int:
    """`{purpose, given, via, at?}`: what the victim said, when and through whom."""
    require_desk(staff)
    unknown = set(body) - {"purpose", "given", "via", "at"}
    if unknown:
        raise TakedownInputError(sorted(unknown)[0], "unknown field")
    purpose, given, via = body.get("purpose"), body.get("given"), body.get("via")
    if purpose not in CONSENT_PURPOSES:
        raise TakedownInputError("purpose", f"expected one of {', '.join(CONSENT_PURPOSES)}")
    if not isinstance(given, bool):
        raise TakedownInputError("given", "expected true or false")
    if via not in CONSENT_VIA:
        raise TakedownInputError("via", f"expected one of {', '.join(CONSENT_VIA)}")
    now = desk.clock()
    at = _time(body.get("at"), now)
    async with desk.deps.engine.begin() as conn:
        item = await load_item(desk, conn, staff, item_id, lock=True)
        if item.conversation_id is None:
            raise DeskConflict("no_victim", "an item found by staff has no victim to consent")
        cid = await queries.add_consent(conn, item.id, purpose=str(purpose), given=given,
                                        at=at, via=str(via), recorded_by=staff.id,
                                        recorded_at=now)
        await audit.record(conn, at=now, actor_id=staff.id, action="takedown.consent",
                           target_kind="takedown_item", target_id=str(item.id), consent=cid,
                           purpose=purpose, given=given, via=via, given_at=at.isoformat())
    await desk.changed(item_id)
    return cid


async def consent_of(conn: AsyncConnection, item: queries.ItemRow) -> Consent:
    """The consent in force per purpose (the newest record per purpose)."""
    state: dict[str, bool | None] = dict.fromkeys(CONSENT_PURPOSES)
    for c in await queries.consents_of(conn, item.id):
        state[c.purpose] = c.given
    return Consent(state)


def needs_consent(item: queries.ItemRow) -> bool:
    """A victim's item needs their consent to be reported or exported; one staff found
    (no case, no victim known) does not."""
    return item.conversation_id is not None
