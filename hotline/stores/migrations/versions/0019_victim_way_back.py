"""victim way back: returns linked to their case, escalating case locks, referrals given,
requests a victim sends from the case page

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-05 01:30:00

Written by hand. See docs/victim.md.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("return_of", sa.String(length=32), nullable=True))
        batch.create_index(op.f("ix_conversations_return_of"), ["return_of"], unique=False)
    with op.batch_alter_table("case_codes") as batch:
        batch.add_column(sa.Column("locks", sa.Integer(), server_default=sa.text("0"),
                                   nullable=False))
        batch.add_column(sa.Column("hide_platforms", sa.Boolean(),
                                   server_default=sa.text("false"), nullable=False))
    with op.batch_alter_table("intake_records") as batch:
        batch.add_column(sa.Column("referred_to", sa.String(length=255),
                                   server_default=sa.text("''"), nullable=False))
    op.create_table(
        "case_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("body_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE",
                                name=op.f("fk_case_requests_conversation_id_conversations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_requests")),
    )
    op.create_index(op.f("ix_case_requests_conversation_id"), "case_requests",
                    ["conversation_id"], unique=False)
    op.create_table(
        "referrals_made",
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE",
                                name=op.f("fk_referrals_made_conversation_id_conversations")),
        sa.PrimaryKeyConstraint("conversation_id", "code", name=op.f("pk_referrals_made")),
    )


def downgrade() -> None:
    op.drop_table("referrals_made")
    op.drop_index(op.f("ix_case_requests_conversation_id"), table_name="case_requests")
    op.drop_table("case_requests")
    with op.batch_alter_table("intake_records") as batch:
        batch.drop_column("referred_to")
    with op.batch_alter_table("case_codes") as batch:
        batch.drop_column("hide_platforms")
        batch.drop_column("locks")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index(op.f("ix_conversations_return_of"))
        batch.drop_column("return_of")
