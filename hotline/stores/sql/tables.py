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
    # Routing skills (migration 0002): chats held at once, channels served, specialisms.
    Column("max_chats", Integer, nullable=False, server_default=text("3")),
    Column("channels", String(64), nullable=False,
           server_default=text("'webchat,sms,telegram,voice'")),
    Column("specialisms", String(128), nullable=False, server_default=text("''")),
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
    # Why the urgency is what it is (triage signals, "aged", "lead"): comma list of codes.
    Column("urgency_reasons", String(255), nullable=False, server_default=text("''")),
    # The intake answers (spreading, age group, safe now, platform) as JSON; no free text.
    Column("intake_answers", Text, nullable=False, server_default=text("'{}'")),
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
    # stored (inbound) | pending | retrying | sent | delivered | failed (outbound).
    Column("delivery", String(16), nullable=False, server_default=text("'stored'")),
    Column("created_at", UTCDateTime, nullable=False),
    # Outbound delivery (migration 0003): tries so far, when to try next, the provider's id for
    # the sent message (status callbacks, deletion), and the last error as a code.
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UTCDateTime, nullable=True, index=True),
    Column("provider_ref", String(64), nullable=True, index=True),
    Column("last_error", String(64), nullable=True),
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

# --- routing, roster and alerts (migration 0002) ---

shifts = Table(
    "shifts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("counselor_id", Integer, ForeignKey("counselors.id", ondelete="CASCADE"),
           nullable=False, index=True),
    # 0 = Monday; the local day the shift starts.
    Column("weekday", Integer, nullable=False),
    # Minutes after local midnight; end <= start means the shift ends the next day.
    Column("start_minute", Integer, nullable=False),
    Column("end_minute", Integer, nullable=False),
    Column("tz", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

shift_overrides = Table(
    "shift_overrides",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("counselor_id", Integer, ForeignKey("counselors.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False, index=True),
    Column("on_shift", Boolean, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("created_by", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# A counselor's instruction for one conversation at their shift's end (or a lead's return).
handovers = Table(
    "handovers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("from_counselor_id", Integer, nullable=True),
    # NULL: back to the queue at the old position.
    Column("to_counselor_id", Integer, nullable=True),
    Column("note_sealed", LargeBinary, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Set when carried out (at the shift edge, or at once by a lead).
    Column("done_at", UTCDateTime, nullable=True),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False, index=True),
    # takedown: content spreading now; lead: repeated misses, lost presence, overload.
    Column("kind", String(24), nullable=False),
    Column("reasons", String(255), nullable=False, server_default=text("''")),
    Column("created_at", UTCDateTime, nullable=False),
    # Escalation step: index into the on-shift target list at the time of escalation.
    Column("step", Integer, nullable=False, server_default=text("0")),
    Column("target_id", Integer, nullable=True),
    Column("escalate_at", UTCDateTime, nullable=True, index=True),
    Column("acked_at", UTCDateTime, nullable=True),
    Column("acked_by", Integer, nullable=True),
    Column("acked_via", String(16), nullable=True),
)
