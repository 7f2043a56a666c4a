"""The callbacks room's tables (SQLAlchemy Core). Only this room's modules use them;
other rooms ask its services. See docs/stores.md.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    text,
)

from hotline.stores.sql.schema import UTCDateTime, metadata

# Call-back requests: a safe window and whether a voice message may be left. At the window's
# start the request becomes a voice conversation in the queue (reason "callback").
callbacks = Table(
    "callbacks",
    metadata,
    Column("id", String(32), primary_key=True),
    # Where the request came from ("voice:<CallSid>", "sms:<MessageSid>", "console:<...>"):
    # a provider retry finds the request it already made.
    Column("source_key", String(160), nullable=False, unique=True),
    Column("source_channel", String(16), nullable=False),
    # The voice pseudonym of the number to call (the conversation it becomes uses it).
    Column("pseudonym", String(64), nullable=False),
    # The number, sealed ("callback:<id>"); NULL once the request is finished.
    Column("contact_sealed", LargeBinary, nullable=True),
    Column("language", String(8), nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("leave_message", Boolean, nullable=False),
    # scheduled | queued | calling | done | unanswered | expired
    Column("status", String(16), nullable=False),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="SET NULL"),
           nullable=True, index=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_callbacks_status_window", "status", "window_start"),
)
