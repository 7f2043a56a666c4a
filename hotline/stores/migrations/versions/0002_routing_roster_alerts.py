"""routing roster alerts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 04:44:06.592862
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "shift_overrides",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("counselor_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("on_shift", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["counselor_id"],
            ["counselors.id"],
            name=op.f("fk_shift_overrides_counselor_id_counselors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_overrides")),
    )
    with op.batch_alter_table("shift_overrides", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shift_overrides_counselor_id"), ["counselor_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_shift_overrides_ends_at"), ["ends_at"], unique=False)

    op.create_table(
        "shifts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("counselor_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["counselor_id"],
            ["counselors.id"],
            name=op.f("fk_shifts_counselor_id_counselors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shifts")),
    )
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shifts_counselor_id"), ["counselor_id"], unique=False)

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("reasons", sa.String(length=255), server_default=sa.text("('')"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("step", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("escalate_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acked_by", sa.Integer(), nullable=True),
        sa.Column("acked_via", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_alerts_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alerts_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_alerts_escalate_at"), ["escalate_at"], unique=False)

    op.create_table(
        "handovers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("from_counselor_id", sa.Integer(), nullable=True),
        sa.Column("to_counselor_id", sa.Integer(), nullable=True),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_handovers_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handovers")),
    )
    with op.batch_alter_table("handovers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handovers_conversation_id"), ["conversation_id"], unique=False
        )

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "urgency_reasons",
                sa.String(length=255),
                server_default=sa.text("('')"),
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("intake_answers", sa.Text(), server_default=sa.text("'{}'"), nullable=False)
        )

    with op.batch_alter_table("counselors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("max_chats", sa.Integer(), server_default=sa.text("3"), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "channels",
                sa.String(length=64),
                server_default=sa.text("'webchat,sms,telegram,voice'"),
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "specialisms", sa.String(length=128), server_default=sa.text("('')"), nullable=False
            )
        )


def downgrade() -> None:

    with op.batch_alter_table("counselors", schema=None) as batch_op:
        batch_op.drop_column("specialisms")
        batch_op.drop_column("channels")
        batch_op.drop_column("max_chats")

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("intake_answers")
        batch_op.drop_column("urgency_reasons")

    with op.batch_alter_table("handovers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handovers_conversation_id"))

    op.drop_table("handovers")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_escalate_at"))
        batch_op.drop_index(batch_op.f("ix_alerts_conversation_id"))

    op.drop_table("alerts")
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shifts_counselor_id"))

    op.drop_table("shifts")
    with op.batch_alter_table("shift_overrides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shift_overrides_ends_at"))
        batch_op.drop_index(batch_op.f("ix_shift_overrides_counselor_id"))

    op.drop_table("shift_overrides")
