"""The durable schema (SQLAlchemy Core). Alembic migrations in hotline/migrations create it.

SQL is the truth: everything in Redis can be rebuilt from these tables. Message text and
contact addresses are stored sealed (AES-GCM, see hotline.crypto); intake records hold only
pseudonyms and form fields. See docs/stores.md.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
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
    # When the victim left with the web chat's Quick exit (migration 0012): the case stays as
    # it is; what happens to it next is for the floor's rules on abandoned contacts.
    Column("victim_left_at", UTCDateTime, nullable=True),
    # When the rule on abandoned contacts looks at the case next (migration 0016): the stream
    # lease of a web chat, a silent SMS/Telegram victim, a holder's notice running out.
    Column("abandon_at", UTCDateTime, nullable=True),
    # Signals staff withdrew as wrong (migration 0016; comma list): not raised again by words.
    Column("signals_withdrawn", String(255), nullable=False, server_default=text("''")),
    Index("ix_conversations_status", "status"),
    Index("ix_conversations_abandon_at", "abandon_at",
          sqlite_where=text("abandon_at IS NOT NULL"),
          postgresql_where=text("abandon_at IS NOT NULL")),
    # At most one open conversation per sender and channel, even with concurrent first messages.
    Index(
        "uq_conversations_open_sender",
        "channel",
        "pseudonym",
        unique=True,
        sqlite_where=text("status != 'closed'"),
        postgresql_where=text("status != 'closed'"),
    ),
    # A sender's conversations, newest first, closed ones too: a victim's chat page and status
    # check read the latest (conversations.latest_for) on every load; forget finds them all.
    # Finding closed cases by day (migration 0022; hotline/services/casefind.py).
    Index("ix_conversations_closed_at", "closed_at"),
    Index("ix_conversations_sender", "channel", "pseudonym", "created_at"),
    # The waiting ones by group and wait (migration 0020): the floor's and the router's counts
    # per language/channel/urgency come from this index alone; aging finds overdue cases in it.
    Index("ix_conversations_waiting", "urgency", "enqueued_at", "language", "channel",
          sqlite_where=text("status = 'waiting'"), postgresql_where=text("status = 'waiting'")),
    # The open ones' ids (migration 0020): the reconciler reads one range of them a pass.
    Index("ix_conversations_open_id", "id", sqlite_where=text("status != 'closed'"),
          postgresql_where=text("status != 'closed'")),
)

# Web chat sessions ended with Quick exit (migration 0012): their cookie is refused on every
# instance. `chat_ref` is a keyed digest of the session (webchat.chat_ref), not the cookie.
chat_exits = Table(
    "chat_exits",
    metadata,
    Column("chat_ref", String(64), primary_key=True),
    Column("ended_at", UTCDateTime, nullable=False),
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
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("provider_ref", String(64), nullable=True),
    Column("last_error", String(64), nullable=True),
    UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
    # Partial (migration 0007): an inbound message adds no entry to either.
    Index("ix_messages_provider_ref", "provider_ref",
          sqlite_where=text("provider_ref IS NOT NULL"),
          postgresql_where=text("provider_ref IS NOT NULL")),
    # The outbox's work list: replies not yet delivered.
    Index("ix_messages_undelivered", "conversation_id", "seq",
          sqlite_where=text("delivery IN ('pending', 'retrying')"),
          postgresql_where=text("delivery IN ('pending', 'retrying')")),
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
    # The audit search (migration 0022): by person and by action, newest first.
    Index("ix_audit_events_actor", "actor_id", "id"),
    Index("ix_audit_events_action", "action", "id"),
)

# A case's triage signals (migration 0016): the catalogue terms that raised each (term ids such
# as "t:3f2a9c01", "cue:unsure", "answer:spreading"; never message text) and a withdrawal.
case_signals = Table(
    "case_signals",
    metadata,
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("signal", String(32), primary_key=True),
    # fired | possible
    Column("certainty", String(16), nullable=False),
    Column("terms", String(255), nullable=False, server_default=text("''")),
    Column("found_at", UTCDateTime, nullable=False),
    Column("withdrawn_at", UTCDateTime, nullable=True),
    Column("withdrawn_by", Integer, nullable=True),
    Column("withdrawn_reason", String(24), nullable=True),
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
    # Alerts still to acknowledge, oldest first: every console and lead page reads them on each
    # alert event; without it they scanned every alert ever raised (migration 0011).
    Index("ix_alerts_open", "id", sqlite_where=text("acked_at IS NULL"),
          postgresql_where=text("acked_at IS NULL")),
)

# --- twilio (migration 0005) ---

# A counselor's own phone, where calls are bridged to; sealed ("counselor_phone:<id>").
counselor_phones = Table(
    "counselor_phones",
    metadata,
    Column("counselor_id", Integer, ForeignKey("counselors.id", ondelete="CASCADE"),
           primary_key=True),
    Column("phone_sealed", LargeBinary, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

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

# --- telegram (migration 0004) ---

# A staff member's Telegram user id, which is also their private chat with the bot: where their
# personal alerts go, and whose "Acknowledge" presses count as theirs. Staff data, not a
# victim's; set by `hotline counselor telegram NAME ID`.
counselors.append_column(Column("telegram_chat_id", BigInteger, nullable=True))
Index("ix_counselors_telegram_chat_id", counselors.c.telegram_chat_id, unique=True)

# Evidence a victim sent: fingerprints always, the file itself only with consent (below).
evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False, index=True),
    # The inbound message that carried it (its caption or "[photo]").
    Column("message_seq", Integer, nullable=True),
    # photo | document
    Column("kind", String(16), nullable=False),
    Column("mime", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    # PDQ perceptual hash (64 hex digits) and its quality 0-100, for images only.
    Column("pdq", String(64), nullable=True),
    Column("pdq_quality", Integer, nullable=True),
    # Where the victim says it appeared (intake platform code), and their note/link, sealed.
    Column("platform", String(32), nullable=True),
    Column("location_sealed", LargeBinary, nullable=True),
    # pending | kept | declined | expired
    Column("consent", String(16), nullable=False, server_default=text("'pending'")),
    Column("created_at", UTCDateTime, nullable=False),
    # When the kept file is deleted (evidence retention).
    Column("purge_at", UTCDateTime, nullable=True, index=True),
    # When its PDQ hash was compared with every stored one (services/pdq_scan.py); NULL with a
    # hash: not yet, or a crash cut the scan short (found through ix_evidence_unscanned).
    Column("pdq_scanned_at", UTCDateTime, nullable=True),
    Index("ix_evidence_unscanned", "id",
          sqlite_where=text("pdq IS NOT NULL AND pdq_scanned_at IS NULL"),
          postgresql_where=text("pdq IS NOT NULL AND pdq_scanned_at IS NULL")),
)

# PDQ matches between pieces of evidence, found once, when the newer one is recorded (one
# scan of the stored hashes then, services/pdq_scan.py), stored both ways: an evidence panel
# reads them instead of comparing every hash again on every load. Deleting either piece
# deletes the pair.
evidence_matches = Table(
    "evidence_matches",
    metadata,
    Column("evidence_id", Integer, ForeignKey("evidence.id", ondelete="CASCADE"),
           primary_key=True),
    Column("other_id", Integer, ForeignKey("evidence.id", ondelete="CASCADE"),
           primary_key=True, index=True),
    Column("distance", Integer, nullable=False),
)

# The file of a piece of evidence, AES-GCM sealed with "evidence:<id>" as associated data.
evidence_files = Table(
    "evidence_files",
    metadata,
    Column("evidence_id", Integer, ForeignKey("evidence.id", ondelete="CASCADE"),
           primary_key=True),
    Column("blob_sealed", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# A case number and PIN a victim can use later on any channel (the PIN only as an argon2 hash).
case_codes = Table(
    "case_codes",
    metadata,
    Column("case_number", String(16), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False, unique=True),
    Column("pin_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("failed_attempts", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", UTCDateTime, nullable=True),
)

# Senders and client addresses a lead has banned (migration 0013): the subject is the sender's
# pseudonym or the address's keyed tag, never a phone number, chat id or address. A banned
# sender's messages are answered calmly and stored nowhere; see docs/limits.md.
bans = Table(
    "bans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # "sender" or "address".
    Column("kind", String(16), nullable=False),
    Column("subject", String(64), nullable=False),
    # The channel of a banned sender, when known (a ban by case knows it).
    Column("channel", String(16), nullable=True),
    # A reason code (hotline.domain.bans.REASONS).
    Column("reason", String(32), nullable=False),
    # The case a ban was made from ("ban the sender of case N"); no foreign key: a case the
    # victim asked us to forget goes, its ban stays until it expires.
    Column("conversation_id", String(32), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", Integer, ForeignKey("counselors.id"), nullable=True),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)


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

# --- the victim's way back (migration 0019, docs/victim.md) ---

# A conversation a victim opened from their case page (or with their case number) is a return
# of that case: the counselor sees it as such. NULL for every other conversation.
conversations.append_column(Column("return_of", String(32), nullable=True))
Index("ix_conversations_return_of", conversations.c.return_of)
# How many times the case's lock has struck: each lock lasts twice the one before (capped),
# so guessing stays slow however many addresses try (services/casecode.py).
case_codes.append_column(Column("locks", Integer, nullable=False, server_default=text("0")))
# The victim chose not to see platform names on their case page (someone may look over their
# shoulder): the page then says "a platform".
case_codes.append_column(Column("hide_platforms", Boolean, nullable=False,
                                server_default=text("false")))
# The directory entries (config [[referrals]] codes) the victim was given, comma-separated:
# counted in statistics with the rest of the anonymized record.
intake_records.append_column(Column("referred_to", String(255), nullable=False,
                                    server_default=text("''")))

# What a victim asked of the takedown desk from their case page when the desk had no item to
# attach it to: a new link (sealed) or a withdrawal of consent. Takedown staff see them with
# the case; `done_at` is set when one is handled (or attached to an item).
case_requests = Table(
    "case_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False, index=True),
    # link | consent_withdrawn
    Column("kind", String(24), nullable=False),
    # The link, sealed with "case-request:<conversation id>"; NULL for a withdrawal.
    Column("body_sealed", LargeBinary, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
)

# Referrals given to a victim (a directory code of config [[referrals]]): offered by the
# prompts at close, or picked by the counselor. Copied into the intake record at close.
referrals_made = Table(
    "referrals_made",
    metadata,
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("code", String(32), primary_key=True),
    # auto | counselor
    Column("via", String(16), nullable=False),
    Column("made_at", UTCDateTime, nullable=False),
)
