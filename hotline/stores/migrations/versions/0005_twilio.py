"""twilio: counselor phones, SMS opt-outs, SMS intake and parts, voice calls, call-backs

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-27 09:00:00

Branches from 0003 beside the Telegram revision 0004; `migrate()` upgrades "heads". Only new
tables, so the two branches never touch the same table. Written by hand (see docs/twilio.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counselor_phones",
        sa.Column("counselor_id", sa.Integer(), nullable=False),
        sa.Column("phone_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["counselor_id"], ["counselors.id"],
                                name=op.f("fk_counselor_phones_counselor_id_counselors"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("counselor_id", name=op.f("pk_counselor_phones")),
    )
    op.create_table(
        "sms_optouts",
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pseudonym", name=op.f("pk_sms_optouts")),
    )
    op.create_table(
        "sms_intake",
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("pending", sa.String(length=16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_sms_intake_conversation_id_conversations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_sms_intake")),
    )
    op.create_table(
        "sms_parts",
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_sms_parts_conversation_id_conversations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_sid", name=op.f("pk_sms_parts")),
        sa.UniqueConstraint("conversation_id", "seq", "part",
                            name="uq_sms_parts_message_part"),
    )
    op.create_table(
        "voice_calls",
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pending", sa.String(length=16), nullable=True),
        sa.Column("counselor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_voice_calls_conversation_id_conversations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("call_sid", name=op.f("pk_voice_calls")),
    )
    op.create_index(op.f("ix_voice_calls_conversation_id"), "voice_calls",
                    ["conversation_id"], unique=False)
    op.create_index("ix_voice_calls_state", "voice_calls", ["state"], unique=False)
    op.create_table(
        "callbacks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source_key", sa.String(length=160), nullable=False),
        sa.Column("source_channel", sa.String(length=16), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("contact_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leave_message", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_callbacks_conversation_id_conversations"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
        sa.UniqueConstraint("source_key", name=op.f("uq_callbacks_source_key")),
    )
    op.create_index(op.f("ix_callbacks_conversation_id"), "callbacks", ["conversation_id"],
                    unique=False)
    op.create_index("ix_callbacks_status_window", "callbacks", ["status", "window_start"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_callbacks_status_window", table_name="callbacks")
    op.drop_index(op.f("ix_callbacks_conversation_id"), table_name="callbacks")
    op.drop_table("callbacks")
    op.drop_index("ix_voice_calls_state", table_name="voice_calls")
    op.drop_index(op.f("ix_voice_calls_conversation_id"), table_name="voice_calls")
    op.drop_table("voice_calls")
    op.drop_table("sms_parts")
    op.drop_table("sms_intake")
    op.drop_table("sms_optouts")
    op.drop_table("counselor_phones")
