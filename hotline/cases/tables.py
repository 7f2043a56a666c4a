"""The cases room's tables (SQLAlchemy Core). Only this room's modules use them;
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
    Text,
    UniqueConstraint,
    text,
)

from hotline.stores.sql.schema import UTCDateTime, metadata

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
    # Finding closed cases by day (migration 0023; hotline/cases/casefind.py).
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
    # Those closed lately, newest first: the panels list the last few (migration 0025).
    Index("ix_alerts_acked", "acked_at", sqlite_where=text("acked_at IS NOT NULL"),
          postgresql_where=text("acked_at IS NOT NULL")),
)


# A conversation a victim opened from their case page (or with their case number) is a return
# of that case: the counselor sees it as such. NULL for every other conversation.
conversations.append_column(Column("return_of", String(32), nullable=True))


Index("ix_conversations_return_of", conversations.c.return_of)


# The directory entries (config [[referrals]] codes) the victim was given, comma-separated:
# counted in statistics with the rest of the anonymized record.
intake_records.append_column(Column("referred_to", String(255), nullable=False,
                                    server_default=text("''")))
# The perpetrator's relation to the victim, as the counselor records it at close (migration
# 0021; hotline.domain.intake.RELATIONS): counted in the intake statistics.
intake_records.append_column(Column("relation", String(24), nullable=False,
                                    server_default=text("'unknown'")))
