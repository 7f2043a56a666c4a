"""The durable schema (SQLAlchemy Core). Alembic migrations in hotline/migrations create it.

SQL is the truth: everything in Redis can be rebuilt from these tables. Message text and
contact addresses are stored sealed (AES-GCM, see hotline.crypto); intake records hold only
pseudonyms and form fields. See docs/stores.md.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every dialect (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime written to the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

counselors = Table(
    "counselors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("languages", String(64), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UTCDateTime, nullable=False),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("token_digest", String(64), primary_key=True),
    Column("counselor_id", Integer, ForeignKey("counselors.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("channel", String(16), nullable=False),
    # Keyed HMAC of the sender's address per channel (for the web chat: of its session token).
    Column("pseudonym", String(64), nullable=False),
    Column("language", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("counselor_id", Integer, ForeignKey("counselors.id"), nullable=True, index=True),
    # The reply address, sealed; NULL once retention ends (or for channels that need none).
    Column("contact_sealed", LargeBinary, nullable=True),
    Column("next_seq", Integer, nullable=False, server_default=text("0")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("enqueued_at", UTCDateTime, nullable=False),
    Column("assigned_at", UTCDateTime, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("last_activity_at", UTCDateTime, nullable=False),
    Column("purge_contact_at", UTCDateTime, nullable=True, index=True),
    Column("purge_transcript_at", UTCDateTime, nullable=True, index=True),
    Index("ix_conversations_status", "status"),
    # At most one open conversation per sender and channel, even with concurrent first messages.
    Index(
        "uq_conversations_open_sender",
        "channel",
        "pseudonym",
        unique=True,
        sqlite_where=text("status != 'closed'"),
        postgresql_where=text("status != 'closed'"),
    ),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False),
    Column("seq", Integer, nullable=False),
    # in: from the victim; out: from a counselor; system: said by the service.
    Column("direction", String(8), nullable=False),
    Column("body_sealed", LargeBinary, nullable=True),
    # "<channel>:<provider message id>": a provider retry hits this unique key and changes nothing.
    Column("provider_key", String(160), nullable=True, unique=True),
    Column("counselor_id", Integer, ForeignKey("counselors.id"), nullable=True),
    Column("delivery", String(16), nullable=False, server_default=text("'stored'")),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
)

intake_records = Table(
    "intake_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), nullable=False, unique=True),
    Column("pseudonym", String(64), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("language", String(8), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=False),
    Column("wait_seconds", Integer, nullable=False),
    Column("handling_seconds", Integer, nullable=False),
    Column("harm_type", String(32), nullable=False),
    Column("platforms", String(255), nullable=False),
    Column("age_band", String(16), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("referrals", String(255), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("counselor_id", Integer, ForeignKey("counselors.id"), nullable=True),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor_id", Integer, nullable=True),
    Column("action", String(48), nullable=False),
    Column("target_kind", String(24), nullable=False),
    Column("target_id", String(64), nullable=False),
    # JSON with ids and enumerations only; never message text or addresses.
    Column("detail", Text, nullable=False, server_default=text("'{}'")),
    Index("ix_audit_events_target", "target_kind", "target_id"),
)
