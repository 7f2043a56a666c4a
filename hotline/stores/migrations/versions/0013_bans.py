"""bans: senders and client addresses a lead has banned, each with a reason and an expiry

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:00:00

A subject is a keyed HMAC (the sender's pseudonym, or the tag of a client address), never the
address itself. Written by hand. See docs/limits.md.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["counselors.id"],
                                name=op.f("fk_bans_created_by_counselors")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bans")),
    )
    op.create_index(op.f("ix_bans_expires_at"), "bans", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bans_expires_at"), table_name="bans")
    op.drop_table("bans")
