"""Who may do what: the one answer for every role, every console route and every record
(cases, what an event stream carries, alerts, the takedown desk). Pure.

Roles differ: an admin manages staff accounts and settings and reads the audit log; a lead
runs the floor (reassignment, the roster, bans, the wellbeing view). An admin also holds the
floor supervision rights docs/console.md states for "lead/admin" (reading any case, acting on
it, the ban list, the lead and roster pages); a lead never holds an admin's. Counselors and
takedown staff have the console and their own cases. The HTTP layer refuses an API action a
role lacks with 404, as for a missing record (docs/staff.md, "Roles").
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from hotline.domain.event_types import EventType
from hotline.domain.staff import Role, Staff


class Action(StrEnum):
    CONSOLE = "console"          # the floor, one's own cases, presence, one's own account
    SUPERVISE = "supervise"      # the lead page, moving and re-rating cases, the floor view
    ROSTER = "roster"            # editing shifts and overrides
    BANS = "bans"                # the ban list
    WELLBEING = "wellbeing"      # exposure, breaks and debrief flags of everyone
    MANAGE_STAFF = "manage_staff"  # accounts, roles, sessions, password and 2FA resets
    SETTINGS = "settings"        # centre-wide settings: the holiday calendar
    READ_AUDIT = "read_audit"    # the whole audit log
    AUDIT_SEARCH = "audit_search"  # searching it: leads the floor's records (audit_search.py)
    REPORTS = "reports"          # statistics: the report pages, their JSON and CSV exports


_FLOOR = frozenset({Action.CONSOLE})
_LEAD = _FLOOR | {Action.SUPERVISE, Action.ROSTER, Action.BANS, Action.WELLBEING,
                  Action.AUDIT_SEARCH, Action.REPORTS}
GRANTS: dict[Role, frozenset[Action]] = {
    Role.COUNSELOR: _FLOOR,
    Role.TAKEDOWN: _FLOOR,
    Role.LEAD: _LEAD,
    Role.ADMIN: _LEAD | {Action.MANAGE_STAFF, Action.SETTINGS, Action.READ_AUDIT},
}


def may(role: Role, action: Action) -> bool:
    """Whether `role` may take `action`."""
    return action in GRANTS[role]


def may_named(staff: Staff, action: str) -> bool:
    """`may` for templates: `may(staff, "manage_staff")`."""
    return may(staff.role, Action(action))


# Routes anyone may reach (the handler itself decides what a visitor gets).
PUBLIC_PREFIXES = ("/console/login", "/console/2fa", "/console/reset")
# The action each staff route (method, aiohttp canonical path) needs. A staff route (under
# /console or /api/v1) missing here is refused to everyone: a new route is closed until
# someone decides who it is for.
_C, _S, _R = Action.CONSOLE, Action.SUPERVISE, Action.ROSTER
ROUTES: dict[tuple[str, str], Action] = {
    ("POST", "/console/logout"): _C,
    ("GET", "/console"): _C,
    ("GET", "/console/cases/{id}"): _C,
    ("GET", "/console/lead"): _S,
    ("GET", "/console/roster"): _R,
    ("GET", "/console/account"): _C,
    ("POST", "/console/account/password"): _C,
    ("GET", "/console/staff"): Action.MANAGE_STAFF,
    ("GET", "/console/audit"): Action.AUDIT_SEARCH,
    ("GET", "/api/v1/me"): _C,
    ("POST", "/api/v1/me/language"): _C,
    ("GET", "/api/v1/queue"): _C,
    ("GET", "/api/v1/cases/mine"): _C,
    ("POST", "/api/v1/queue/take-next"): _C,
    ("POST", "/api/v1/cases/{id}/take"): _C,
    ("GET", "/api/v1/cases/{id}"): _C,
    ("GET", "/api/v1/cases/{id}/colleagues"): _C,
    ("POST", "/api/v1/cases/{id}/messages"): _C,
    ("POST", "/api/v1/cases/{id}/close"): _C,
    ("POST", "/api/v1/cases/{id}/hard"): _C,
    ("POST", "/api/v1/presence/heartbeat"): _C,
    ("GET", "/api/v1/events"): _C,
    ("POST", "/api/v1/presence"): _C,
    ("GET", "/api/v1/offers/mine"): _C,
    ("POST", "/api/v1/offers/{id}/{action}"): _C,
    ("POST", "/api/v1/cases/{id}/reassign"): _S,
    ("GET", "/api/v1/cases/{id}/takers"): _S,
    ("POST", "/api/v1/cases/{id}/requeue"): _C,
    ("POST", "/api/v1/cases/{id}/urgency"): _S,
    ("POST", "/api/v1/cases/{id}/flag-spreading"): _C,
    ("POST", "/api/v1/cases/{id}/handover"): _C,
    ("GET", "/api/v1/alerts"): _C,
    ("POST", "/api/v1/alerts/{id}/ack"): _C,
    ("GET", "/api/v1/floor"): _S,
    ("GET", "/api/v1/floor/unassigned"): _S,
    ("GET", "/api/v1/floor/active"): _S,
    ("GET", "/api/v1/floor/agents"): _S,
    ("GET", "/api/v1/roster"): _C,
    ("GET", "/api/v1/roster/entries"): _R,
    ("GET", "/api/v1/roster/shifts"): _R,
    ("GET", "/api/v1/roster/overrides"): _R,
    ("GET", "/api/v1/roster/people"): _R,
    ("POST", "/api/v1/roster/shifts"): _R,
    ("DELETE", "/api/v1/roster/{kind}/{id}"): _R,
    ("POST", "/api/v1/roster/overrides"): _R,
    ("PUT", "/api/v1/roster/people/{id}"): _R,
    ("GET", "/api/v1/roster/cover"): _R,
    # Anyone who may read the case sees its signals; withdrawing one is for its holder or
    # someone who supervises (services/withdraw.py, through `may`).
    ("GET", "/api/v1/cases/{id}/signals"): _C,
    ("POST", "/api/v1/cases/{id}/signals/{signal}/withdraw"): _C,
    ("GET", "/api/v1/bans"): Action.BANS,
    ("POST", "/api/v1/bans"): Action.BANS,
    ("DELETE", "/api/v1/bans/{id}"): Action.BANS,
    ("GET", "/api/v1/cases/{id}/callback"): _C,
    ("POST", "/api/v1/cases/{id}/callback/call"): _C,
    ("POST", "/api/v1/callbacks"): _C,
    ("GET", "/api/v1/cases/{id}/evidence"): _C,
    # The referral directory on a case (docs/victim.md); the case's own access rule decides.
    ("GET", "/api/v1/cases/{id}/referrals"): _C,
    ("POST", "/api/v1/cases/{id}/referrals"): _C,
    ("GET", "/api/v1/evidence/{eid}/preview"): _C,
    ("POST", "/api/v1/evidence/{eid}/reveal"): _C,
    ("GET", "/api/v1/evidence/{eid}/original"): _C,
    ("GET", "/api/v1/wellbeing"): Action.WELLBEING,
    ("GET", "/api/v1/me/wellbeing"): _C,
    ("POST", "/api/v1/debriefs/{id}/clear"): Action.WELLBEING,
    ("GET", "/api/v1/staff"): Action.MANAGE_STAFF,
    ("POST", "/api/v1/staff"): Action.MANAGE_STAFF,
    ("POST", "/api/v1/staff/{id}"): Action.MANAGE_STAFF,
    ("POST", "/api/v1/staff/{id}/{action}"): Action.MANAGE_STAFF,
    ("GET", "/api/v1/staff/{id}/sessions"): Action.MANAGE_STAFF,
    ("DELETE", "/api/v1/staff/{id}/sessions/{ref}"): Action.MANAGE_STAFF,
    ("GET", "/api/v1/holidays"): _R,
    ("POST", "/api/v1/holidays"): Action.SETTINGS,
    ("DELETE", "/api/v1/holidays/{day}"): Action.SETTINGS,
    ("GET", "/api/v1/audit"): Action.AUDIT_SEARCH,
    ("GET", "/api/v1/audit.csv"): Action.AUDIT_SEARCH,
    # Finding a case (closed ones too) by its number or day: each result passes the case
    # read rule (cases/casework.py), as for open cases.
    ("GET", "/api/v1/case-search"): _C,
    # Statistics (docs/reports.md): leads and admins.
    ("GET", "/console/reports"): Action.REPORTS,
    ("GET", "/console/reports/{name}"): Action.REPORTS,
    ("GET", "/api/v1/reports/{name}"): Action.REPORTS,
    ("GET", "/api/v1/reports/{name}.csv"): Action.REPORTS,
    # The takedown desk: open to every console role here; the desk's rules below decide
    # per record (desk staff and leads act; a counselor on the items of a case they hold;
    # anyone else gets 404 there).
    **{(m, p): _C for m, p in (
        ("GET", "/console/takedown"), ("GET", "/console/takedown/items/{id}"),
        ("GET", "/console/takedown/requests/{id}"), ("GET", "/api/v1/takedown/platforms"),
        ("GET", "/api/v1/takedown/items"), ("POST", "/api/v1/takedown/items"),
        ("GET", "/api/v1/takedown/items/{id}"),
        ("POST", "/api/v1/takedown/items/{id}/consents"),
        ("POST", "/api/v1/takedown/items/{id}/export"),
        ("POST", "/api/v1/takedown/items/{id}/locations"),
        ("POST", "/api/v1/takedown/items/{id}/requests"),
        ("POST", "/api/v1/takedown/items/{id}/status"),
        ("GET", "/api/v1/takedown/requests/{id}"),
        ("POST", "/api/v1/takedown/requests/{id}/escalate"),
        ("POST", "/api/v1/takedown/requests/{id}/fields"),
        ("POST", "/api/v1/takedown/requests/{id}/send"),
        ("POST", "/api/v1/takedown/requests/{id}/steps"),
        ("GET", "/api/v1/takedown/worklist"), ("GET", "/api/v1/takedown/alerts"),
        ("GET", "/console/takedown/clusters"), ("GET", "/api/v1/takedown/clusters"),
        ("GET", "/api/v1/takedown/clusters/items"),
        ("POST", "/api/v1/takedown/alerts/{id}/ack"))},
}


def is_staff_route(path: str) -> bool:
    """Whether a canonical path is the console's (guarded) rather than public."""
    if path.startswith(PUBLIC_PREFIXES):
        return False
    return path == "/console" or path.startswith(("/console/", "/api/v1/"))


def route_action(method: str, path: str) -> Action | None:
    """The action a staff route needs (HEAD as GET); None: not a known staff route."""
    return ROUTES.get(("GET" if method == "HEAD" else method, path))


def may_use_route(role: Role, method: str, path: str) -> bool:
    """Whether `role` may use the staff route (unknown staff routes: nobody)."""
    action = route_action(method, path)
    return action is not None and may(role, action)


# --- cases -------------------------------------------------------------------------------

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
# The queue's first page (cases/queue_feed.py): for whoever may read GET /api/v1/queue, as
# that route shows it.
QUEUE_VIEW = frozenset({EventType.QUEUE_PAGE})
# Events between server instances only: never sent to a browser.
INTERNAL = frozenset({EventType.SESSION_REVOKED, EventType.CHAT_ENDED})
# The kinds someone who may not read the event's case may still hear something of
# (event_form); of any other kind they hear nothing. A quick test for a busy floor's streams.
HEARD_WITHOUT_READING = (STAFF_WIDE | TAKEDOWN_DESK | QUEUE_MOVES | QUEUE_VIEW
                         | frozenset({EventType.PRESENCE}))


class EventForm(StrEnum):
    """How much of an event a console stream carries."""

    FULL = "full"  # all of it
    MOVED = "moved"  # only its type and id: the queue moved


def event_form(viewer: Staff, event: Mapping[str, Any], may_read: bool) -> EventForm | None:
    """What `viewer`'s console stream carries of `event`: all of it, only its type ("the
    queue moved"), or nothing (None). `may_read`: `may_read_case` for the event's case.

    Anything not named here goes to leads and admins only, so a new kind of event is private
    until someone decides otherwise."""
    kind = event.get("type")
    if kind in INTERNAL:
        return None
    if viewer.sees_all_cases or kind in STAFF_WIDE:
        return EventForm.FULL
    if kind == "presence":
        return EventForm.FULL if event.get("counselor") == viewer.id else None
    if kind in TAKEDOWN_DESK:
        return EventForm.FULL if viewer.role == Role.TAKEDOWN else None
    if kind in QUEUE_VIEW:
        return EventForm.FULL if may_use_route(viewer.role, "GET", "/api/v1/queue") else None
    if event.get("conversation") is None:
        return None
    if may_read or (kind in OFFERS and event.get("counselor") == viewer.id):
        return EventForm.FULL
    if kind in QUEUE_MOVES:
        return EventForm.MOVED
    return None


def shaped(event: Mapping[str, Any], form: EventForm) -> dict[str, Any]:
    """The event in `form` (a copy: the Hub hands one event to every stream)."""
    if form is EventForm.FULL:
        return dict(event)
    return {"type": event.get("type"), "id": event["id"]} if "id" in event else {
        "type": event.get("type")}


def event_for(viewer: Staff, event: Mapping[str, Any], may_read: bool
              ) -> dict[str, Any] | None:
    """`event` as `viewer`'s console stream carries it (event_form), or None."""
    form = event_form(viewer, event, may_read)
    return None if form is None else shaped(event, form)


def may_ack_alert(viewer: Staff, alert_kind: str) -> bool:
    """Leads and admins may acknowledge any alert; takedown staff the takedown desk's."""
    if viewer.sees_all_cases:
        return True
    return alert_kind == "takedown" and viewer.role == Role.TAKEDOWN


# --- the takedown desk ------------------------------------------------------------------
# Takedown staff and leads act on the desk. A counselor may create an item from a case they
# hold and see the state of that case's items. Nobody else sees anything: missing and
# forbidden look the same (404).

DESK_ROLES = frozenset({Role.TAKEDOWN, Role.LEAD})


class DeskNotFound(LookupError):
    """No such record, or not one this person may see (HTTP 404 either way)."""


def acts_on_desk(staff: Staff) -> bool:
    """Takedown staff and leads: every item, request, consent, export and desk alert."""
    return staff.role in DESK_ROLES


def may_create_item(staff: Staff, case_holder: int | None, from_case: bool) -> bool:
    """Desk staff always (a case, if named, must be one they may read); a counselor only
    from a case they hold."""
    if acts_on_desk(staff):
        return True
    return staff.role is Role.COUNSELOR and from_case and case_holder == staff.id


def may_view_item(staff: Staff, case_holder: int | None, from_case: bool) -> bool:
    """Desk staff see every item; a counselor the items of a case they hold (state only)."""
    return may_create_item(staff, case_holder, from_case)


def sees_request_text(staff: Staff) -> bool:
    """Request texts, steps and consent records are the desk's: counselors see states."""
    return acts_on_desk(staff)
