"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 04:34:54.210955
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("target_kind", sa.String(length=24), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), server_default=sa.text("'{}'"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index("ix_audit_events_target", ["target_kind", "target_id"], unique=False)

    op.create_table(
        "counselors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("languages", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counselors")),
        sa.UniqueConstraint("name", name=op.f("uq_counselors_name")),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("counselor_id", sa.Integer(), nullable=True),
        sa.Column("contact_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("next_seq", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purge_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purge_transcript_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["counselor_id"],
            ["counselors.id"],
            name=op.f("fk_conversations_counselor_id_counselors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversations_counselor_id"), ["counselor_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_conversations_purge_contact_at"), ["purge_contact_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_conversations_purge_transcript_at"),
            ["purge_transcript_at"],
            unique=False,
        )
        batch_op.create_index("ix_conversations_status", ["status"], unique=False)
        batch_op.create_index(
            "uq_conversations_open_sender",
            ["channel", "pseudonym"],
            unique=True,
            sqlite_where=sa.text("status != 'closed'"),
            postgresql_where=sa.text("status != 'closed'"),
        )

    op.create_table(
        "intake_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wait_seconds", sa.Integer(), nullable=False),
        sa.Column("handling_seconds", sa.Integer(), nullable=False),
        sa.Column("harm_type", sa.String(length=32), nullable=False),
        sa.Column("platforms", sa.String(length=255), nullable=False),
        sa.Column("age_band", sa.String(length=16), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("referrals", sa.String(length=255), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("counselor_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["counselor_id"],
            ["counselors.id"],
            name=op.f("fk_intake_records_counselor_id_counselors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_records")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_intake_records_conversation_id")),
    )
    with op.batch_alter_table("intake_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_records_pseudonym"), ["pseudonym"], unique=False
        )

    op.create_table(
        "staff_sessions",
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("counselor_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["counselor_id"],
            ["counselors.id"],
            name=op.f("fk_staff_sessions_counselor_id_counselors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_staff_sessions")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_sessions_counselor_id"), ["counselor_id"], unique=False
        )

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("body_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("provider_key", sa.String(length=160), nullable=True),
        sa.Column("counselor_id", sa.Integer(), nullable=True),
        sa.Column(
            "delivery", sa.String(length=16), server_default=sa.text("'stored'"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_messages_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["counselor_id"], ["counselors.id"], name=op.f("fk_messages_counselor_id_counselors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        sa.UniqueConstraint("provider_key", name=op.f("uq_messages_provider_key")),
    )


def downgrade() -> None:
    op.drop_table("messages")
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sessions_counselor_id"))

    op.drop_table("staff_sessions")
    with op.batch_alter_table("intake_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_records_pseudonym"))

    op.drop_table("intake_records")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_conversations_open_sender",
            sqlite_where=sa.text("status != 'closed'"),
            postgresql_where=sa.text("status != 'closed'"),
        )
        batch_op.drop_index("ix_conversations_status")
        batch_op.drop_index(batch_op.f("ix_conversations_purge_transcript_at"))
        batch_op.drop_index(batch_op.f("ix_conversations_purge_contact_at"))
        batch_op.drop_index(batch_op.f("ix_conversations_counselor_id"))

    op.drop_table("conversations")
    op.drop_table("counselors")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_target")
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))

    op.drop_table("audit_events")
