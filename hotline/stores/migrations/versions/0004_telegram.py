"""telegram: staff Telegram ids, evidence fingerprints and kept files, case numbers and PINs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 10:00:00

Branches from 0003 beside the Twilio revision 0005; `migrate()` upgrades "heads". Written by
hand (see docs/telegram.md). The one change to an existing table is a nullable column on
counselors, which SQLite adds with a plain ALTER TABLE (batch mode does not rebuild the table
for it), so the other branch's foreign keys to counselors are never disturbed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("counselors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_counselors_telegram_chat_id", ["telegram_chat_id"],
                              unique=True)

    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("message_seq", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mime", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pdq", sa.String(length=64), nullable=True),
        sa.Column("pdq_quality", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=True),
        sa.Column("location_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("consent", sa.String(length=16), server_default=sa.text("'pending'"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purge_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_evidence_conversation_id_conversations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_conversation_id"), ["conversation_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_purge_at"), ["purge_at"], unique=False)

    op.create_table(
        "evidence_files",
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("blob_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"],
                                name=op.f("fk_evidence_files_evidence_id_evidence"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("evidence_id", name=op.f("pk_evidence_files")),
    )

    op.create_table(
        "case_codes",
        sa.Column("case_number", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("pin_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), server_default=sa.text("0"),
                  nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_case_codes_conversation_id_conversations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_number", name=op.f("pk_case_codes")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_case_codes_conversation_id")),
    )


def downgrade() -> None:
    op.drop_table("case_codes")
    op.drop_table("evidence_files")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_purge_at"))
        batch_op.drop_index(batch_op.f("ix_evidence_sha256"))
        batch_op.drop_index(batch_op.f("ix_evidence_conversation_id"))
    op.drop_table("evidence")
    with op.batch_alter_table("counselors", schema=None) as batch_op:
        batch_op.drop_index("ix_counselors_telegram_chat_id")
        batch_op.drop_column("telegram_chat_id")
