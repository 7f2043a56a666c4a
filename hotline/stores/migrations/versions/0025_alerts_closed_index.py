"""alerts: an index of the closed ones by when they closed

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 05:20:00

The alerts panel lists the open alerts and those closed in the last 15 minutes. Read as
`acked_at IS NULL OR acked_at > :since`, that scanned every alert ever raised on each read
(every console, on each alert event); the panel now reads the open ones through
ix_alerts_open and the last closed ones through this partial index. Written by hand.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_CLOSED = sa.text("acked_at IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_alerts_acked", "alerts", ["acked_at"], sqlite_where=_CLOSED,
                    postgresql_where=_CLOSED)


def downgrade() -> None:
    op.drop_index("ix_alerts_acked", table_name="alerts")
