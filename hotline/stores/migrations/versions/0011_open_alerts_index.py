"""alerts: an index of the alerts still to acknowledge

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 14:15:00

Every console and lead page lists the open alerts on each `alert` and `alert.acked` event;
the query (`acked_at IS NULL ORDER BY id`) scanned every alert ever raised. A partial index
holds only the open ones. Written by hand.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_OPEN = sa.text("acked_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_alerts_open", "alerts", ["id"], sqlite_where=_OPEN, postgresql_where=_OPEN)


def downgrade() -> None:
    op.drop_index("ix_alerts_open", table_name="alerts")
