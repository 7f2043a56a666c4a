"""The staff room's tables (SQLAlchemy Core). Only this room's modules use them;
other rooms ask its services. See docs/stores.md.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    text,
)

from hotline.stores.sql.schema import UTCDateTime, metadata

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
    # The presence status the counselor last chose (available/busy/break/offline; migration
    # 0010): Redis routes on its copy, and a rebuild after Redis lost its data restores it.
    Column("presence_status", String(16), nullable=False, server_default=text("'offline'")),
    # The console language this person chose in its header (migration 0018); NULL: the
    # centre's console.default_language.
    Column("ui_language", String(8), nullable=True),
    # Staff administration (migration 0017, hotline/staff/): the sealed TOTP secret, when its
    # first code confirmed it, the last time step used (replays refused), last login,
    # deactivation (the row and its history stay), and the last break taken.
    Column("totp_secret", LargeBinary, nullable=True),
    Column("totp_enabled_at", UTCDateTime, nullable=True),
    Column("totp_last_step", BigInteger, nullable=True),
    Column("last_login_at", UTCDateTime, nullable=True),
    Column("deactivated_at", UTCDateTime, nullable=True),
    Column("last_break_at", UTCDateTime, nullable=True),
    # Whether the person follows the roster (migration 0016): on shift only in their shifts
    # (true) or whenever signed in except time off (false). A choice, never a side effect.
    Column("rostered", Boolean, nullable=False, server_default=text("false")),
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


# A counselor's own phone, where calls are bridged to; sealed ("counselor_phone:<id>").
counselor_phones = Table(
    "counselor_phones",
    metadata,
    Column("counselor_id", Integer, ForeignKey("counselors.id", ondelete="CASCADE"),
           primary_key=True),
    Column("phone_sealed", LargeBinary, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


# A staff member's Telegram user id, which is also their private chat with the bot: where their
# personal alerts go, and whose "Acknowledge" presses count as theirs. Staff data, not a
# victim's; set by `hotline counselor telegram NAME ID`.
counselors.append_column(Column("telegram_chat_id", BigInteger, nullable=True))


Index("ix_counselors_telegram_chat_id", counselors.c.telegram_chat_id, unique=True)


# Staff administration (migration 0017; queries in hotline/staff/store.py and exposure_store.py).
staff_recovery_codes = Table(
    "staff_recovery_codes",
    metadata,
    # The keyed digest of a one-time recovery code; the code itself is shown once.
    Column("code_digest", String(64), primary_key=True),
    Column("counselor_id", Integer, ForeignKey("counselors.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("used_at", UTCDateTime, nullable=True),
)


password_resets = Table(
    "password_resets",
    metadata,
    Column("token_digest", String(64), primary_key=True),
    Column("counselor_id", Integer, ForeignKey("counselors.id", ondelete="CASCADE"),
           nullable=False),
    Column("created_by", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)


# Between a right password and the second factor: a short-lived, attempt-limited token.
login_challenges = Table(
    "login_challenges",
    metadata,
    Column("token_digest", String(64), primary_key=True),
    Column("counselor_id", Integer, ForeignKey("counselors.id", ondelete="CASCADE"),
           nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
)


# What a counselor was exposed to (hotline/domain/exposure.py kinds); counted per shift.
exposure_events = Table(
    "exposure_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("counselor_id", Integer, ForeignKey("counselors.id", ondelete="CASCADE"),
           nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("conversation_id", String(32), nullable=True),
    Index("ix_exposure_events_counselor_at", "counselor_id", "at"),
)


debrief_flags = Table(
    "debrief_flags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("counselor_id", Integer, ForeignKey("counselors.id", ondelete="CASCADE"),
           nullable=False),
    Column("conversation_id", String(32), nullable=False),
    Column("flagged_at", UTCDateTime, nullable=False),
    Column("cleared_at", UTCDateTime, nullable=True),
    Column("cleared_by", Integer, nullable=True),
)


# The centre-wide calendar: a closed day has no weekly shifts; a reduced day keeps only the
# part of them between opens and closes (minutes after local midnight in `tz`).
holidays = Table(
    "holidays",
    metadata,
    Column("day", Date, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("opens_minute", Integer, nullable=True),
    Column("closes_minute", Integer, nullable=True),
    Column("label", String(64), nullable=False, server_default=text("''")),
    # The zone the day and hours are in (roster.timezone when it was written).
    Column("tz", String(64), nullable=False),
)
