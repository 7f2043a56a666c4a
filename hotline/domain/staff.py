"""Staff roles and what each may do. Pure; the console's access checks call these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hotline.domain.event_types import EventType


class Role(StrEnum):
    COUNSELOR = "counselor"
    LEAD = "lead"
    TAKEDOWN = "takedown"
    ADMIN = "admin"


@dataclass(frozen=True)
class Staff:
    """A logged-in staff member as the console sees them."""

    id: int
    name: str
    role: Role
    languages: tuple[str, ...]
    # The console language this person chose (None: the centre's console.default_language).
    ui_language: str | None = None

    @property
    def status_at_login(self) -> str:
        """Counselors come on the floor available; leads, takedown staff and admins start
        busy (their own work) and choose "available" to take chats."""
        return "available" if self.role == Role.COUNSELOR else "busy"

    @property
    def sees_all_cases(self) -> bool:
        """Leads and admins supervise the whole floor; others see their own cases only."""
        return self.role in (Role.LEAD, Role.ADMIN)


def may_read_case(viewer: Staff, owner_id: int | None, takedown_alerted: bool = False) -> bool:
    """Whether `viewer` may read a case's transcript: its holder, a lead/admin, or takedown
    staff once the case raised a takedown alert (they need the platforms and links to file
    deletion requests). Reading is not acting: replies and closing stay with the holder."""
    return (viewer.sees_all_cases or (owner_id is not None and owner_id == viewer.id)
            or (viewer.role == Role.TAKEDOWN and takedown_alerted))


def may_act_on_case(viewer: Staff, owner_id: int | None) -> bool:
    """Whether `viewer` may change a case they can read (close it, record a call-back)."""
    return viewer.sees_all_cases or (owner_id is not None and owner_id == viewer.id)


def may_manage_bans(viewer: Staff) -> bool:
    """Whether `viewer` may ban and unban senders and addresses: leads and admins."""
    return viewer.sees_all_cases


# Events that move the queue as a whole. Staff who may not read the case still hear that the
# queue moved (the type alone: no case, holder, urgency or reasons) and reload the listing.
QUEUE_MOVES = frozenset({EventType.QUEUED, EventType.ASSIGNED, EventType.CLOSED,
                         EventType.URGENCY, EventType.LANGUAGE, EventType.HANDOVER,
                         EventType.OFFERED, EventType.OFFER_EXPIRED, EventType.OFFER_DECLINED})
# An offer is also for the counselor it is made to, who sees it in full (their offer list
# shows the same: the case, its urgency, the deadline).
OFFERS = frozenset({EventType.OFFERED, EventType.OFFER_EXPIRED, EventType.OFFER_DECLINED})
# Events about no one case that every console may hear as they are.
STAFF_WIDE = frozenset({EventType.ROSTER, EventType.RESET})
# The takedown desk's events (ids, states, codes): its staff hear them; leads hear all.
TAKEDOWN_DESK = frozenset({EventType.TAKEDOWN, EventType.TAKEDOWN_ALERT})
# Events between server instances only: never sent to a browser.
INTERNAL = frozenset({EventType.SESSION_REVOKED, EventType.CHAT_ENDED})


def event_for(viewer: Staff, event: Mapping[str, Any], may_read: bool
              ) -> dict[str, Any] | None:
    """What `viewer`'s console stream carries of `event`: all of it, only its type ("the
    queue moved"), or nothing. `may_read`: `may_read_case` for the event's case.

    Anything not named here goes to leads and admins only, so a new kind of event is private
    until someone decides otherwise."""
    kind = event.get("type")
    if kind in INTERNAL:
        return None
    if viewer.sees_all_cases or kind in STAFF_WIDE:
        return dict(event)
    if kind == "presence":
        return dict(event) if event.get("counselor") == viewer.id else None
    if kind in TAKEDOWN_DESK:
        return dict(event) if viewer.role == Role.TAKEDOWN else None
    if event.get("conversation") is None:
        return None
    if may_read or (kind in OFFERS and event.get("counselor") == viewer.id):
        return dict(event)
    if kind in QUEUE_MOVES:
        return {"type": kind, "id": event["id"]} if "id" in event else {"type": kind}
    return None
