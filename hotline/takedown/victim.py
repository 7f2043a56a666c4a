"""The desk as a victim sees it from their case page (services/case_takedown.Desk): the items
made from their case with each request's state, a link they found added as a location, and
their consent withdrawn. No staff member acts here: writes are audited with no actor, consent
`via` "chat" (docs/victim.md, docs/takedown.md). The app plugs it in at start
(`case_takedown.use`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from hotline.audit import log as audit
from hotline.deps import Deps
from hotline.domain.event_types import EventType
from hotline.domain.locations import parse_location
from hotline.domain.removal import RequestState, is_overdue
from hotline.domain.takedown import ImpossibleTransition, ItemEvent, next_item_status
from hotline.takedown import queries
from hotline.takedown.items import CONSENT_PURPOSES
from hotline.victim.case_takedown import ItemState
from hotline.victim.case_takedown import RequestState as VictimRequest

# The victim acted themselves, from the web case page (the desk's consent "via" words).
VIA = "chat"


class VictimDesk:
    """case_takedown.Desk over the takedown tables."""

    async def items_for_case(self, deps: Deps, conversation_ids: Sequence[str]
                             ) -> tuple[ItemState, ...]:
        now = datetime.now(UTC)
        async with deps.engine.connect() as conn:
            items = await queries.list_items(conn, conversation_ids=conversation_ids)
            items.sort(key=lambda i: i.id)
            requests = await queries.requests_of(conn, [i.id for i in items])
        return tuple(ItemState(item.id, item.status.value, tuple(
            VictimRequest(r.request.platform, RequestState.OVERDUE.value
                          if is_overdue(r.request, now) else r.request.state.value)
            for r in requests[item.id])) for item in items)

    async def add_location(self, deps: Deps, item_id: int, url: str) -> bool:
        loc = parse_location(url, "link")
        now = datetime.now(UTC)
        async with deps.engine.begin() as conn:
            item = await queries.get_item(conn, item_id, lock=True)
            if item is None:
                return False
            loc_id, new = await queries.add_location(conn, item.id, loc, now)
            if new:
                try:
                    after = next_item_status(item.status, ItemEvent.REAPPEARED)
                except ImpossibleTransition:
                    after = item.status
                await queries.set_item_status(conn, item.id, after, now)
                await audit.record(conn, at=now, actor_id=None,
                                   action="takedown.location.added",
                                   target_kind="takedown_item", target_id=str(item.id),
                                   location=loc_id, platform=loc.platform, via="victim",
                                   status_before=item.status.value, status=after.value)
        await deps.publish({"type": EventType.TAKEDOWN, "item": item_id, "request": None,
                            "state": None})
        return True

    async def withdraw_consent(self, deps: Deps, conversation_ids: Sequence[str]) -> int:
        """Consent refused for every purpose on every item of the case, from now on: a draft
        cannot be sent (the desk's consent check). The drafts so stopped."""
        now = datetime.now(UTC)
        stopped = 0
        async with deps.engine.begin() as conn:
            items = await queries.list_items(conn, conversation_ids=conversation_ids)
            requests = await queries.requests_of(conn, [i.id for i in items])
            for item in items:
                for purpose in CONSENT_PURPOSES:
                    await queries.add_consent(conn, item.id, purpose=purpose, given=False,
                                              at=now, via=VIA, recorded_by=None,
                                              recorded_at=now)
                drafts = sum(1 for r in requests[item.id]
                             if r.request.state == RequestState.DRAFT)
                stopped += drafts
                await audit.record(conn, at=now, actor_id=None, action="takedown.consent",
                                   target_kind="takedown_item", target_id=str(item.id),
                                   purpose="all", given=False, via=VIA,
                                   drafts_stopped=drafts)
        for item in items:
            await deps.publish({"type": EventType.TAKEDOWN, "item": item.id, "request": None,
                                "state": None})
        return stopped

