"""The twilio room's tables (SQLAlchemy Core). Only this room's modules use them;
other rooms ask its services. See docs/stores.md.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from hotline.stores.sql.schema import UTCDateTime, metadata

# Senders who replied STOP: nothing more is sent to them until START. Keyed by the SMS
# pseudonym, so the list holds no phone number.
sms_optouts = Table(
    "sms_optouts",
    metadata,
    Column("pseudonym", String(64), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)


# Where a waiting SMS conversation is in the numbered intake questions (or a call-back request).
sms_intake = Table(
    "sms_intake",
    metadata,
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("step", String(16), nullable=False),
    # A chosen call-back window waiting for the voice-message answer.
    Column("pending", String(16), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)


# One row per SMS sent for a counselor's reply (long replies are several messages): a retry
# skips the parts already accepted, and status callbacks find their reply by MessageSid.
sms_parts = Table(
    "sms_parts",
    metadata,
    Column("message_sid", String(64), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False),
    Column("seq", Integer, nullable=False),
    Column("part", Integer, nullable=False),
    Column("parts", Integer, nullable=False),
    # sent | delivered | undelivered | failed (Twilio's MessageStatus).
    Column("status", String(16), nullable=False),
    Column("error", String(32), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("conversation_id", "seq", "part", name="uq_sms_parts_message_part"),
)


# Every phone call we handle: inbound callers (IVR, queue, bridge) and call-backs we place.
voice_calls = Table(
    "voice_calls",
    metadata,
    Column("call_sid", String(64), primary_key=True),
    # in: a victim called; callback: the console placed a call-back (counselor leg).
    Column("direction", String(16), nullable=False),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=True, index=True),
    Column("language", String(8), nullable=True),
    # ivr | queued | bridging | bridged | ended | callback (see docs/twilio.md).
    Column("state", String(16), nullable=False),
    # What the caller asked for while on hold (leave the queue for a call-back).
    Column("pending", String(16), nullable=True),
    Column("counselor_id", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_voice_calls_state", "state"),
)
