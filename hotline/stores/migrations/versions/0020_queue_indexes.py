"""conversations: indexes for the bounded floor, aging and reconciling (issue 18)

Revision ID: 0020
Revises: 0016
Create Date: 2026-12-05 01:40:00

At 10,000 waiting the floor's counts, the aging pass and the reconciler each read every open
conversation. `ix_conversations_waiting` (urgency, enqueued_at, language, channel) holds the
waiting ones only: the floor's and the router's counts per group are read from it alone, and
aging finds the cases past a level's limit in it. `ix_conversations_open_id` holds the open
ones' ids: the reconciler reads one range of ids a pass. Written by hand.

(urgency, enqueued_at) first: aging reads one level's cases past a time. The queries name
these indexes for SQLite (INDEXED BY): without statistics its planner took the equality on
ix_conversations_status and read every waiting row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0016"
branch_labels = None
depends_on = None

_WAITING = sa.text("status = 'waiting'")
_OPEN = sa.text("status != 'closed'")


def upgrade() -> None:
    op.create_index("ix_conversations_waiting", "conversations",
                    ["urgency", "enqueued_at", "language", "channel"],
                    sqlite_where=_WAITING, postgresql_where=_WAITING)
    op.create_index("ix_conversations_open_id", "conversations", ["id"],
                    sqlite_where=_OPEN, postgresql_where=_OPEN)


def downgrade() -> None:
    op.drop_index("ix_conversations_open_id", table_name="conversations")
    op.drop_index("ix_conversations_waiting", table_name="conversations")
