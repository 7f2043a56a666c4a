"""Every event type the service publishes, in one catalogue (docs/events.md describes each).

Services publish `{"type": EventType.X, ...}`; readers compare with the same members (a StrEnum
compares equal to its text, which is what the stream and the browser see). Kept in domain, not
beside the publisher (hotline/events.py), because the pure policy that decides who hears what
(domain/staff.py) groups them too. tests/test_event_catalogue.py holds the code, the console's
JavaScript and the docs to this list.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    # Cases and the queue
    QUEUED = "queued"
    ASSIGNED = "assigned"
    MESSAGE = "message"
    CLOSED = "closed"
    URGENCY = "urgency"
    LANGUAGE = "language"
    DELIVERY = "delivery"
    EVIDENCE = "evidence"
    ERASED = "erased"
    VICTIM_LEFT = "victim.left"
    # The victim's chat hears this for every other case: the queue moved.
    QUEUE = "queue"
    # The queue's first page, pushed by each process to the consoles that show it (never
    # logged: not a change, a view; cases/queue_feed.py).
    QUEUE_PAGE = "queue.page"
    # The live state was lost or a replay gap is too large: reload from the API.
    RESET = "reset"
    # Routing, presence and the floor
    OFFERED = "offered"
    OFFER_EXPIRED = "offer.expired"
    OFFER_DECLINED = "offer.declined"
    PRESENCE = "presence"
    COVERAGE = "coverage"
    HANDOVER = "handover"
    HANDOVER_PLANNED = "handover.planned"
    LEAD_ATTENTION = "lead.attention"
    ROSTER = "roster"
    ALERT = "alert"
    ALERT_ACKED = "alert.acked"
    BANS = "bans"
    DEBRIEF = "debrief"
    # The victim's way back
    CASE_RETURN = "case.return"
    CASE_REQUEST = "case.request"
    # Phone and SMS
    CALLBACK = "callback"
    CALL_BRIDGING = "call.bridging"
    CALL_BRIDGE_FAILED = "call.bridge_failed"
    CALL_ENDED = "call.ended"
    SMS_OPTOUT = "sms.optout"
    SMS_OPTIN = "sms.optin"
    # The takedown desk
    TAKEDOWN = "takedown"
    TAKEDOWN_ALERT = "takedown.alert"
    # Between instances only, never sent to a browser
    SESSION_REVOKED = "session.revoked"
    CHAT_ENDED = "chat.ended"
