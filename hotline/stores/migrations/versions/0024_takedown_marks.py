"""takedown_marks: how far the desk's re-upload matching has read the evidence

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 03:30:00

New evidence was compared with removed items only when its event reached the desk (the event
stream is at most once: a match lost in a Redis outage was never retried). The mark
"rematch" holds the newest evidence id compared; a periodic pass compares what came after it.
It starts at the newest evidence there is (older pictures were compared when they came, and
must not be compared now with items removed after them). Written by hand.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "takedown_marks",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.execute("INSERT INTO takedown_marks (name, position) "
               "SELECT 'rematch', COALESCE(MAX(id), 0) FROM evidence")


def downgrade() -> None:
    op.drop_table("takedown_marks")
