"""outbound delivery

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 05:23:07.279895
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("provider_ref", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_messages_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_messages_provider_ref"), ["provider_ref"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_provider_ref"))
        batch_op.drop_index(batch_op.f("ix_messages_next_attempt_at"))
        batch_op.drop_column("last_error")
        batch_op.drop_column("provider_ref")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
