"""web chat: Quick exit ends the chat session on the server; the case is marked left

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 10:00:00

`chat_exits` lists the chat sessions a victim ended with Quick exit (by a keyed digest of the
session, never the cookie itself), so every instance refuses the old cookie. The victim's open
case gets `conversations.victim_left_at`: the floor's rules on abandoned contacts start from
it. Written by hand; plain ADD/DROP COLUMN (no SQLite table rebuild, see 0010).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_exits",
        sa.Column("chat_ref", sa.String(length=64), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat_ref", name=op.f("pk_chat_exits")),
    )
    op.add_column("conversations", sa.Column("victim_left_at", sa.DateTime(timezone=True),
                                             nullable=True))


def downgrade() -> None:
    op.drop_column("conversations", "victim_left_at")
    op.drop_table("chat_exits")
