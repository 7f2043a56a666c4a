"""The takedown desk's tables (migration 0015), on the shared metadata.

Only hotline.takedown.queries reads or writes them. A request's text and field values are
sealed (they carry the sender's contact and the content's description); everything else is
ids, codes, times and the locations staff act on. See docs/takedown.md.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from hotline.stores.sql.schema import UTCDateTime, metadata

# One piece of content about one victim (or none: found by staff).
takedown_items = Table(
    "takedown_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # intimate | synthetic | threat
    Column("kind", String(16), nullable=False),
    Column("minor", Boolean, nullable=False),
    # open | all_removed | monitoring | closed
    Column("status", String(16), nullable=False),
    # The case it came from; kept as NULL when a case is forgotten (the item stays).
    Column("conversation_id", String(32),
           ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True, index=True),
    # victim | staff | partner
    Column("reporter", String(16), nullable=False),
    Column("sha256", String(64), nullable=True),
    Column("pdq", String(64), nullable=True),
    Column("pdq_quality", Integer, nullable=True),
    # The evidence row the fingerprints were taken from (its file goes into exports).
    Column("evidence_id", Integer, ForeignKey("evidence.id", ondelete="SET NULL"),
           nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", Integer, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_takedown_items_status", "status"),
)

# Where an item is: the normalized URL, its platform, and for Telegram the parsed reference.
takedown_locations = Table(
    "takedown_locations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("takedown_items.id", ondelete="CASCADE"),
           nullable=False),
    Column("url", String(2048), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("host", String(255), nullable=False),
    # Telegram links: the kind (message, channel, invite, ...), channel and message id.
    Column("telegram_kind", String(16), nullable=True),
    Column("channel", String(64), nullable=True),
    Column("message_id", BigInteger, nullable=True),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_checked_at", UTCDateTime, nullable=True),
    # online | offline | unknown (what the last check saw)
    Column("online", String(16), nullable=False, server_default=text("'unknown'")),
    # Monitoring (migration 0022): the watch (unchecked | online | offline_once | verified),
    # when the location is next due a check (NULL: not watched) and its cluster's key.
    Column("watch", String(16), nullable=False, server_default=text("'unchecked'")),
    Column("next_check_at", UTCDateTime, nullable=True),
    Column("cluster_key", String(160), nullable=True),
    UniqueConstraint("item_id", "url", name="uq_takedown_locations_item_url"),
    Index("ix_takedown_locations_next_check", "next_check_at"),
    Index("ix_takedown_locations_cluster", "cluster_key"),
)

# Every check the monitoring job made: online | offline | unknown, with the HTTP status.
takedown_checks = Table(
    "takedown_checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("location_id", Integer, ForeignKey("takedown_locations.id", ondelete="CASCADE"),
           nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("result", String(16), nullable=False),
    Column("http_status", Integer, nullable=True),
    Index("ix_takedown_checks_location_at", "location_id", "at"),
)

# Content found again after it was removed: online again at a verified location (recheck),
# or new evidence whose PDQ matches the item's fingerprint (evidence).
takedown_reuploads = Table(
    "takedown_reuploads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("takedown_items.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("location_id", Integer, ForeignKey("takedown_locations.id", ondelete="SET NULL"),
           nullable=True),
    Column("evidence_id", Integer, ForeignKey("evidence.id", ondelete="SET NULL"),
           nullable=True),
    Column("cluster_key", String(160), nullable=True, index=True),
    # recheck | evidence
    Column("via", String(16), nullable=False),
    Column("found_at", UTCDateTime, nullable=False),
    # One piece of evidence is one re-upload of an item, however many instances see it.
    UniqueConstraint("item_id", "evidence_id", name="uq_takedown_reuploads_item_evidence"),
)

# How far the desk's jobs have read another room's rows (migration 0024): "rematch" is the
# newest evidence id compared with removed items, so evidence whose event was lost (a Redis
# outage) is still compared on the next pass.
takedown_marks = Table(
    "takedown_marks",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("position", Integer, nullable=False),
)

# One request to one platform through one route (docs/takedown.md, "Removal requests").
takedown_requests = Table(
    "takedown_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("takedown_items.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("platform", String(32), nullable=False),
    Column("route", String(40), nullable=False),
    Column("legal_basis", String(24), nullable=False),
    Column("language", String(8), nullable=False),
    Column("due_hours", Integer, nullable=False),
    Column("state", String(24), nullable=False),
    Column("due_at", UTCDateTime, nullable=True),
    Column("attempt", Integer, nullable=False, server_default=text("1")),
    Column("rung", Integer, nullable=False, server_default=text("0")),
    Column("ticket", String(120), nullable=True),
    # The request this one escalates (its next rung).
    Column("parent_id", Integer, ForeignKey("takedown_requests.id", ondelete="SET NULL"),
           nullable=True),
    # JSON {field: value} and the text as rendered from them, sealed ("takedown-request:<id>").
    Column("fields_sealed", LargeBinary, nullable=True),
    Column("text_sealed", LargeBinary, nullable=True),
    # E-mail routes: the Message-ID we sent and what the relay answered.
    Column("message_id", String(255), nullable=True),
    Column("relay_reply", String(255), nullable=True),
    # Set while an SMTP send is in flight: a second send of the same request is refused.
    Column("sending_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", Integer, nullable=True),
    Index("ix_takedown_requests_state_due", "state", "due_at"),
)

takedown_request_locations = Table(
    "takedown_request_locations",
    metadata,
    Column("request_id", Integer, ForeignKey("takedown_requests.id", ondelete="CASCADE"),
           primary_key=True),
    Column("location_id", Integer, ForeignKey("takedown_locations.id", ondelete="CASCADE"),
           primary_key=True, index=True),
)

# Every step of a request: when it happened (`at`) and when it was recorded, and by whom.
takedown_steps = Table(
    "takedown_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("takedown_requests.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("step", String(24), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("ticket", String(120), nullable=True),
    Column("reason", Text, nullable=True),
    Column("actor_id", Integer, nullable=True),
)

# The victim's consent per purpose; the newest row per item and purpose is in force.
takedown_consents = Table(
    "takedown_consents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("takedown_items.id", ondelete="CASCADE"),
           nullable=False, index=True),
    # platform_report | police | partner
    Column("purpose", String(24), nullable=False),
    Column("given", Boolean, nullable=False),
    # When the victim said so, and through whom (chat, phone, in_person, written, partner).
    Column("at", UTCDateTime, nullable=False),
    Column("via", String(16), nullable=False),
    Column("recorded_by", Integer, nullable=True),
    Column("recorded_at", UTCDateTime, nullable=False),
)

# Overdue requests page the takedown staff on shift one at a time, then the leads.
takedown_alerts = Table(
    "takedown_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("takedown_requests.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("step", Integer, nullable=False, server_default=text("0")),
    Column("target_id", Integer, nullable=True),
    Column("escalate_at", UTCDateTime, nullable=True, index=True),
    Column("acked_at", UTCDateTime, nullable=True),
    Column("acked_by", Integer, nullable=True),
)
